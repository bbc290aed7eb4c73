#!/usr/bin/env bash
# Legacy tables on another server: the legacy server L publishes its identity tables, the migration
# server C subscribes to them into replica tables of the same names and holds the extension and the
# cf_ tables. The apply worker fires the sync's row triggers (ENABLE REPLICA), so every replicated
# write is mirrored in the apply transaction (docs/remote.md, README "Legacy on another server").
#
# Two throwaway clusters on unix sockets (target/remote-legacy, target/remote-coreforge). The journey:
# the recipe (publication on L; replica tables, subscription, extension, sync, backfill on C) with
# the old application's writers running on L during the backfill; then the faults, each under
# pgbench writers on L, each ending with the replica caught up, the validation passing (only
# rejected rows fail, as they do on one server) and a fresh backfill that finds nothing to do:
#   - the subscription disabled (the validation says the replica takes no changes), then enabled;
#   - C stopped with -m immediate during apply, then started;
#   - L stopped under load, then started;
#   - a replicated row that cannot be mirrored: rejected with its reason, the apply worker goes on.
# The validation across the servers (postgres_fdw foreign tables of L's tables on C) runs in every
# in-step check after the backfill, and finds what the replica missed while disabled.
# Then cutover is refused: the reverse sync would write into the replica, not into L.
#
#   bash tests/remote.sh                 (scripts/test.sh runs it; about two minutes)
#   REMOTE_SOAK=60 bash tests/remote.sh  (each writer phase runs 60 s instead of 3)
#   REMOTE_KEEP=1 bash tests/remote.sh   (the clusters are left running, to look at)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
SOAK="${REMOTE_SOAK:-3}"
L_DIR="target/remote-legacy$CLUSTER_SUFFIX"
C_DIR="target/remote-coreforge$CLUSTER_SUFFIX"
L_PORT=$((54360 + PG_MAJOR % 10 * 2))
C_PORT=$((L_PORT + 1))
export PGUSER=postgres
unset PGHOST PGPORT
fail() { echo "FAIL: $*" >&2; exit 1; }

cluster() { # cluster DIR PORT: a fresh cluster with wal_level = logical
    scripts/pg-cluster.sh stop "$1" immediate >/dev/null 2>&1 || true
    rm -rf "$(readlink -f "$1" 2>/dev/null || echo "$1")" "$1"
    scripts/pg-cluster.sh start "$1" "$2" >/dev/null
    psql -X -q -h "$(readlink -f "$1")" -p "$2" -d postgres -c "ALTER SYSTEM SET wal_level = logical" \
        -c "ALTER SYSTEM SET deadlock_timeout = '20ms'"
    scripts/pg-cluster.sh stop "$1" >/dev/null
    scripts/pg-cluster.sh start "$1" "$2" >/dev/null
}
cluster "$L_DIR" "$L_PORT"
cluster "$C_DIR" "$C_PORT"
L_HOST="$(readlink -f "$L_DIR")"
C_HOST="$(readlink -f "$C_DIR")"
[ -n "${REMOTE_KEEP:-}" ] || trap 'scripts/pg-cluster.sh stop "$L_DIR" immediate >/dev/null 2>&1 || true; scripts/pg-cluster.sh stop "$C_DIR" immediate >/dev/null 2>&1 || true' EXIT
L=(psql -X -q -v ON_ERROR_STOP=1 -h "$L_HOST" -p "$L_PORT" -d legacy)
C=(psql -X -q -v ON_ERROR_STOP=1 -h "$C_HOST" -p "$C_PORT" -d coreforge)
lq() { "${L[@]}" -At -c "$1"; }
cq() { "${C[@]}" -At -c "$1"; }

# ---- the recipe --------------------------------------------------------------------------------
createdb -h "$L_HOST" -p "$L_PORT" legacy
createdb -h "$C_HOST" -p "$C_PORT" coreforge
"${L[@]}" -f demo/legacy_schema.sql -f demo/legacy_data.sql >/dev/null
"${L[@]}" >/dev/null <<'SQL'
-- (the writers' helpers, as tests/chaos.sh prepares them; not published)
UPDATE users SET email = 'earlier.' || id || '.' || email WHERE deleted_at IS NOT NULL;
CREATE TABLE bench_users AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM users;
CREATE TABLE bench_tenants AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM tenants;
CREATE UNIQUE INDEX ON bench_users (n);
CREATE UNIQUE INDEX ON bench_tenants (n);
CREATE SEQUENCE chaos_serial;
-- (a marker the test bumps on L and waits for on C: applied in commit order, it says that every
-- transaction L committed before it has been applied)
CREATE TABLE remote_marker (id int PRIMARY KEY, n bigint NOT NULL);
INSERT INTO remote_marker VALUES (1, 0);
CREATE PUBLICATION coreforge_marker FOR TABLE remote_marker;
-- On L: the publication of the identity tables (each has a primary key: its replica identity).
CREATE PUBLICATION coreforge_identity FOR TABLE users, tenants, tenant_members;
SQL
# On C: the replica tables (the same definitions), the subscription (its initial copy loads them
# without trigger work), then the extension, sync on, and the backfill reading the replica.
"${C[@]}" -f demo/legacy_schema.sql >/dev/null
cq "CREATE TABLE remote_marker (id int PRIMARY KEY, n bigint NOT NULL)"
cq "CREATE SUBSCRIPTION coreforge_identity CONNECTION 'host=$L_HOST port=$L_PORT dbname=legacy user=postgres' PUBLICATION coreforge_identity, coreforge_marker" 2>/dev/null
wait_copied() {
    for _ in $(seq 1 300); do
        [ "$(cq "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ] && return 0
        sleep 0.2
    done
    fail "the initial copy did not finish"
}
wait_copied
"${C[@]}" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SQL

# writers SECONDS: the old application's mixed workload on L, 3 clients, in the background.
writers() {
    pgbench -h "$L_HOST" -p "$L_PORT" -n -c 3 -j 3 -T "$1" --max-tries=50 \
        -f tests/chaos/legacy.pgbench legacy >"target/remote-pgbench.log" 2>&1 &
    WRITERS=$!
}
# caught_up: waits until C has applied every transaction L committed so far (a marker committed on
# L after them has been applied on C), and prints the seconds it waited.
caught_up() {
    local start=$SECONDS mark
    mark=$(lq "UPDATE remote_marker SET n = n + 1 RETURNING n")
    for _ in $(seq 1 1200); do
        if [ "$(cq "SELECT count(*) FROM remote_marker WHERE n >= $mark")" = 1 ]; then
            echo $((SECONDS - start))
            return 0
        fi
        sleep 0.25
    done
    fail "C did not catch up with L in 300 s"
}
# in_step WHAT: the replica holds what L holds, and CoreForge what a backfill of the replica would
# put there: the validation passes but for rejected rows, and a fresh backfill writes nothing.
in_step() {
    local lag
    lag=$(caught_up)
    for t in users tenants tenant_members; do
        [ "$(lq "SELECT count(*) FROM $t")" = "$(cq "SELECT count(*) FROM $t")" ] || fail "$1: $t differs between L and its replica"
    done
    local failing
    failing=$(cq "SELECT string_agg(format('%s.%s %s', entity, check_name, discrepancies), ', ') FROM cf_validation_report() WHERE status = 'fail' AND check_name <> 'rejected'")
    [ -z "$failing" ] || fail "$1: the validation fails: $failing"
    if [ -n "${FDW:-}" ]; then
        failing=$(cq "SELECT string_agg(format('%s.%s %s', entity, check_name, discrepancies), ', ') FROM cf_validation_report('legacy_remote') WHERE status = 'fail' AND check_name <> 'rejected'")
        [ -z "$failing" ] || fail "$1: the validation against L itself fails: $failing"
    fi
    local written
    written=$(cq "SELECT sum(inserted + updated + deleted) FROM cf_sync_all()" 2>/dev/null)
    [ "$written" = 0 ] || fail "$1: a fresh backfill wrote $written rows: the mirror had missed them"
    echo "-- $1: in step ($(cq "SELECT count(*) FROM cf_users") users, $(cq "SELECT count(*) FROM cf_memberships") memberships in CoreForge; caught up ${lag} s after the writers stopped)"
}
stop_writers() { wait "$WRITERS" || true; grep -q "aborted" target/remote-pgbench.log && [ "${1:-}" != may_abort ] && { cat target/remote-pgbench.log; fail "a writer aborted"; }; true; }

writers "$SOAK"
"${C[@]}" -c "SET client_min_messages = warning" -c "CALL cf_backfill()" >/dev/null
stop_writers
in_step "the backfill with writers on L"
case "$(cq "SELECT replica FROM cf_status() WHERE entity = 'memberships'")" in
    "subscription coreforge_identity streaming"*) ;; *) fail "cf_status() does not show the subscription streaming" ;; esac

# The validation across the servers: L's tables as foreign tables on C (postgres_fdw, fetched 10,000
# rows at a time), the same checks against L itself. Timed against the local one (the replica).
"${C[@]}" >/dev/null <<SQL
CREATE EXTENSION postgres_fdw;
CREATE SERVER legacy_server FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '$L_HOST', port '$L_PORT', dbname 'legacy', fetch_size '10000');
CREATE USER MAPPING FOR CURRENT_USER SERVER legacy_server OPTIONS (user 'postgres');
CREATE SCHEMA legacy_remote;
IMPORT FOREIGN SCHEMA public LIMIT TO (users, tenants, tenant_members) FROM SERVER legacy_server INTO legacy_remote;
SQL
FDW=1
timed() { # timed SQL: milliseconds of the best of 3 runs
    "${C[@]}" -At <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | head -1
\timing on
\o /dev/null
$1;
$1;
$1;
SQL
}
local_ms=$(timed "SELECT count(*) FROM cf_validation_report()")
remote_ms=$(timed "SELECT count(*) FROM cf_validation_report('legacy_remote')")
echo "-- the validation against L through postgres_fdw: ${remote_ms} ms, against the replica: ${local_ms} ms ($(cq "SELECT count(*) FROM cf_users") users)"

# ---- the faults --------------------------------------------------------------------------------
writers "$SOAK"
sleep 1
cq "ALTER SUBSCRIPTION coreforge_identity DISABLE"
sleep 1
detail=$(cq "SELECT detail FROM cf_validation_report() WHERE entity = 'users' AND check_name = 'replica' AND status = 'fail'")
case "$detail" in *"is disabled"*) ;; *) fail "a disabled subscription is not reported: '$detail'" ;; esac
stop_writers
# L went on without the replica: the validation against L itself names what CoreForge lacks.
behind=$(cq "SELECT coalesce(sum(discrepancies), 0) FROM cf_validation_report('legacy_remote') WHERE status = 'fail' AND check_name IN ('missing', 'extra', 'mismatched')")
[ "$behind" -gt 0 ] || fail "the validation against L does not see what the disabled replica missed"
echo "-- with the subscription disabled: the replica check fails, the validation against L finds $behind rows CoreForge does not hold yet"
cq "ALTER SUBSCRIPTION coreforge_identity ENABLE"
in_step "the subscription disabled and enabled again"

writers "$SOAK"
sleep 1
scripts/pg-cluster.sh stop "$C_DIR" immediate >/dev/null
sleep 1
scripts/pg-cluster.sh start "$C_DIR" "$C_PORT" >/dev/null
stop_writers
in_step "C stopped with -m immediate during apply"

writers $((SOAK + 2))
sleep 1
scripts/pg-cluster.sh stop "$L_DIR" fast >/dev/null
scripts/pg-cluster.sh start "$L_DIR" "$L_PORT" >/dev/null
stop_writers may_abort
writers "$SOAK"
stop_writers
in_step "L stopped and restarted under load"

# A row that cannot be mirrored (no name): rejected with its reason on C; the apply worker goes on.
lq "INSERT INTO users (id, email, name) VALUES ('e0000000-0000-0000-0000-000000000001', 'nameless.remote@legacy.test', '')" >/dev/null
lq "INSERT INTO users (id, email, name) VALUES ('e0000000-0000-0000-0000-000000000002', 'after.remote@legacy.test', 'After')" >/dev/null
caught_up >/dev/null
[ "$(cq "SELECT reason FROM coreforge_sync.rejects WHERE entity = 'users' AND legacy_id = 'id=e0000000-0000-0000-0000-000000000001'")" = missing_value ] ||
    fail "the unmirrorable row is not rejected as missing_value"
[ "$(cq "SELECT name FROM cf_users WHERE id = 'e0000000-0000-0000-0000-000000000002'")" = After ] ||
    fail "the apply worker stopped after the rejected row"
echo "-- a replicated row that cannot be mirrored: rejected (missing_value), the next one mirrored"

# Cutover is refused: the reverse sync would write into the replica.
out=$("${C[@]}" -c "SELECT cf_cutover()" 2>&1 || true)
case "$out" in *"the legacy tables here are replicas of another server's: public.users (subscription coreforge_identity)"*) ;;
    *) echo "$out"; fail "cutover was not refused on a replica" ;; esac
echo "-- cutover refused on the replica"
echo "remote: ok"
