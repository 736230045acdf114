"""Run every benchmark with its default size (`make bench`); each prints the machine first."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    compare_migration,
    device_service,
    duis_gateway,
    emulator_memory,
    migration,
    planner,
    roundtrips,
    scaleout,
    validation,
)

if __name__ == "__main__":
    out = Path("bench/out")
    print("== validation throughput (100,000 installations)")
    validation.main(out, 100_000, 3)
    print("\n== migration end to end (5,000 installations, three cohorts)")
    migration.main(out, 5_000, None)
    print("\n== scale-out: embedded, PostgreSQL and 1-3 Celery workers; WAN-like delays")
    scaleout.main(out, 3_000, [1, 2, 3], 1.0, [32, 128, 512])
    print("\n== head-end round trips per protocol")
    roundtrips.main(out, 3_000, 20_000, 256)
    print("\n== emulator memory (1,000,000 devices)")
    emulator_memory.main(out, 1_000_000)
    print("\n== planner: the GB programme (15,000,000 installations, 20 parties)")
    planner.main()
    print("\n== DUIS gateway: signed Read Inventory over HTTP against the bare loop")
    duis_gateway.main(out / "duis", 6000, 2, 16)
    print("\n== the device service: 4.1.1 end to end over HTTP and the emulated head ends")
    device_service.main(out / "device", 600, 100, 3000, [32, 100], [1, 2])
    print("\n== migrate against the revision before the programme (3,000 installations)")
    compare_migration.main(out, 3_000, "b723c10", 2)
