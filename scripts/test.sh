#!/usr/bin/env bash
# Run the test suite. Storage tests run on SQLite and on PostgreSQL; the scale-out tests on
# PostgreSQL and RabbitMQ. Each server comes from S1ADOPT_TEST_POSTGRES_URL or
# S1ADOPT_TEST_BROKER_URL, or is installed and started here when this machine allows it (root,
# Debian). In CI (CI=true) a missing server fails the tests that need it, never skips them.
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
if [ -z "${S1ADOPT_TEST_BROKER_URL:-}" ]; then
    if url=$(bash scripts/rabbitmq-up.sh 2>/tmp/s1adopt-rabbitmq-up.log | tail -1) && [ -n "$url" ]; then
        export S1ADOPT_TEST_BROKER_URL="$url"
    else
        echo "note: RabbitMQ unavailable (see /tmp/s1adopt-rabbitmq-up.log);" \
             "the scale-out tests will be skipped outside CI" >&2
    fi
fi
exec .venv/bin/pytest "$@"
