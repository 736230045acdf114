#!/usr/bin/env bash
# Install (Debian package) and start a local PostgreSQL, and create a database: the test
# database by default, or the one named as the first argument (e.g. `postgres-up.sh s1adopt`
# for a by-hand cluster). Prints its URL on its last line (S1ADOPT_TEST_POSTGRES_URL, or
# S1ADOPT_DATABASE_URL). Idempotent: safe to run again when PostgreSQL is already up.
set -euo pipefail

DB=${1:-s1adopt_test}
case "$DB" in
*[!a-z0-9_]* | "") echo "database name $DB: use lower-case letters, digits and _" >&2; exit 2 ;;
esac
ROLE=s1adopt
PASSWORD=s1adopt

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is not installed and this is not root: apt-get install postgresql" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$VERSION main"; then
    pg_createcluster "$VERSION" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
    pg_ctlcluster "$VERSION" main start >&2
fi
for _ in $(seq 1 60); do
    if su postgres -c "pg_isready -q -h 127.0.0.1" 2>/dev/null; then break; fi
    sleep 0.5
done
su postgres -c "pg_isready -h 127.0.0.1" >&2

su postgres -c "psql -qtA -c \"SELECT 1 FROM pg_roles WHERE rolname='$ROLE'\"" | grep -q 1 ||
    su postgres -c "psql -q -c \"CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'\"" >&2
su postgres -c "psql -qtA -c \"SELECT 1 FROM pg_database WHERE datname='$DB'\"" | grep -q 1 ||
    su postgres -c "createdb -O $ROLE $DB" >&2

echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:5432/$DB"
