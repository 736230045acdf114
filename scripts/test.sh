#!/usr/bin/env bash
# Run the test suite. Storage tests run on SQLite and on PostgreSQL; the scale-out tests on
# PostgreSQL and RabbitMQ. Each server comes from S1ADOPT_TEST_POSTGRES_URL or
# S1ADOPT_TEST_BROKER_URL, or is installed and started here when this machine allows it (root,
# Debian). In CI (CI=true) a missing server fails the tests that need it, never skips them.
set -euo pipefail
cd "$(dirname "$0")/.."
# start_service VARIABLE SCRIPT NAME WHAT: export VARIABLE from SCRIPT's last line unless set
start_service() {
    local variable=$1 script=$2 name=$3 what=$4 url
    if [ -n "${!variable:-}" ]; then return; fi
    if url=$(bash "scripts/$script" 2>"/tmp/s1adopt-$script.log" | tail -1) && [ -n "$url" ]; then
        export "$variable=$url"
    else
        echo "note: $name unavailable (see /tmp/s1adopt-$script.log); $what will be" \
             "skipped outside CI" >&2
    fi
}
start_service S1ADOPT_TEST_POSTGRES_URL postgres-up.sh PostgreSQL "the PostgreSQL tests"
start_service S1ADOPT_TEST_BROKER_URL rabbitmq-up.sh RabbitMQ "the scale-out tests"
exec .venv/bin/pytest "$@"
