#!/usr/bin/env bash
# End-to-end demo: install deps and the extension, start a throwaway cluster (target/demo-cluster,
# port $DEMO_PORT, default 54330; reused if already running), (re)create database coreforge_demo,
# load the legacy schema and data, then run demo/journey.sql.
#   DEMO_SCALE=10 scripts/demo.sh    -> 10x the data (default scale 1: ~3000 users)
#   scripts/demo.sh stop             -> stop the demo cluster
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

DEMO_DIR="${DEMO_DIR:-target/demo-cluster$CLUSTER_SUFFIX}"
DEMO_PORT="${DEMO_PORT:-54330}"
DEMO_DB=coreforge_demo

if [ "${1:-}" = stop ]; then
    exec scripts/pg-cluster.sh stop "$DEMO_DIR"
fi

step() { printf '\n==== %s ====\n' "$*"; }

step "dependencies"
scripts/ensure-deps.sh
if scripts/pg-cluster.sh status "$DEMO_DIR" >/dev/null 2>&1; then
    # Sessions left from the last demo have the old .so mapped; end them before it is replaced.
    (eval "$(scripts/pg-cluster.sh env "$DEMO_DIR")" && psql -X -q -At -d postgres -c \
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null) || true
fi
step "build + install the extension"
scripts/install-extension.sh
step "cluster $DEMO_DIR (port $DEMO_PORT)"
scripts/pg-cluster.sh start "$DEMO_DIR" "$DEMO_PORT"
eval "$(scripts/pg-cluster.sh env "$DEMO_DIR" "$DEMO_PORT")"
export PGCLIENTENCODING=UTF8
unset PGDATABASE PGOPTIONS PGSERVICE PGSERVICEFILE

PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "DROP DATABASE IF EXISTS $DEMO_DB WITH (FORCE)" \
    -c "CREATE DATABASE $DEMO_DB"

run_sql() {
    step "$1"
    shift
    psql -X -v ON_ERROR_STOP=1 -d "$DEMO_DB" "$@"
}
run_sql "demo/legacy_schema.sql" -q -f demo/legacy_schema.sql
run_sql "demo/legacy_data.sql" ${DEMO_SCALE:+-v "scale=$DEMO_SCALE"} -f demo/legacy_data.sql
run_sql "demo/journey.sql" -f demo/journey.sql

stop_cmd="make demo-stop"
[ "$PG_MAJOR" = 15 ] || stop_cmd="make demo-stop PG=$PG_MAJOR"
cat <<EOF

==== done ====
The demo cluster is still running. Connect with:
  psql -h $PGHOST -p $PGPORT -U postgres $DEMO_DB
Stop it with:
  scripts/pg-cluster.sh stop $DEMO_DIR      (or: $stop_cmd)
EOF
