"""Run every benchmark with its default size (`make bench`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import migration, validation

if __name__ == "__main__":
    out = Path("bench/out")
    print("== validation throughput (100,000 installations)")
    validation.main(out, 100_000, 3)
    print("\n== migration end to end (5,000 installations)")
    migration.main(out, 5_000, None)
