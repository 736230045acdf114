#!/usr/bin/env bash
# Run the test suite. Storage tests run on SQLite and on PostgreSQL: PostgreSQL comes from
# S1ADOPT_TEST_POSTGRES_URL, or is installed and started here when this machine allows it
# (root, Debian). In CI (CI=true) a missing PostgreSQL fails the PostgreSQL tests, never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${S1ADOPT_TEST_POSTGRES_URL:-}" ]; then
    if url=$(bash scripts/postgres-up.sh 2>/tmp/s1adopt-postgres-up.log | tail -1) && [ -n "$url" ]; then
        export S1ADOPT_TEST_POSTGRES_URL="$url"
    else
        echo "note: PostgreSQL unavailable (see /tmp/s1adopt-postgres-up.log);" \
             "PostgreSQL tests will be skipped outside CI" >&2
    fi
fi
exec .venv/bin/pytest "$@"
