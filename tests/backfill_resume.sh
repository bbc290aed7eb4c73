#!/usr/bin/env bash
# Resume of the batched backfill (CALL cf_backfill) after its backend is terminated, and after an
# immediate server stop (a crash, as far as the database is concerned). Each time: the pass is left
# 'interrupted' with exactly the rows of its committed batches in CoreForge (nothing half-written),
# the next CALL resumes from the checkpoint, and the finished pass has covered every legacy row once:
# rows_done and inserted equal the number of users, and the validation finds nothing wrong.
#
# Run by scripts/test.sh with PGHOST/PGPORT/PGUSER set for the test cluster (PGHOST is the cluster's
# directory, which scripts/pg-cluster.sh stops and starts). RESUME_USERS (default 20000) sizes it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
USERS="${RESUME_USERS:-20000}"
DB=coreforge_resume
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
q() { "${PSQL[@]}" -At -c "$1"; }

dropdb --if-exists "$DB" && createdb "$DB"
"${PSQL[@]}" -f demo/legacy_schema.sql >/dev/null
"${PSQL[@]}" -v users="$USERS" <<'SQL' >/dev/null
INSERT INTO users (email, name, created_at)
  SELECT 'user' || i || '@example.com', 'User ' || i, '2024-01-01'::timestamptz + i * interval '1 second'
  FROM generate_series(1, :users) i;
ANALYZE users;
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SQL

# start_pass LABEL: CALL cf_backfill('users', 500, 20) in the background, and return once at least
# 2000 rows are done (the pass is then well under way, and far from its end).
start_pass() {
    "${PSQL[@]}" -c "CALL cf_backfill('users', 500, 20)" >"target/backfill-resume-$1.log" 2>&1 &
    CALL_PID=$!
    for _ in $(seq 1 600); do
        done_rows=$(q "SELECT COALESCE((SELECT rows_done FROM cf_backfill_progress WHERE entity = 'users' AND state = 'running'), 0)" || echo 0)
        [ "$done_rows" -ge 2000 ] && return 0
        sleep 0.1
    done
    echo "the pass did not get under way"; cat "target/backfill-resume-$1.log"; exit 1
}

# check_interrupted: the pass is interrupted, and CoreForge holds exactly its committed batches.
check_interrupted() {
    local state rows cf
    state=$(q "SELECT state || ' ' || phase FROM cf_backfill_progress WHERE entity = 'users'")
    rows=$(q "SELECT rows_done FROM cf_backfill_progress WHERE entity = 'users'")
    cf=$(q "SELECT count(*) FROM cf_users")
    echo "   after $1: state '$state', rows_done $rows of $USERS, cf_users $cf"
    [ "$state" = "interrupted copy" ] || { echo "expected an interrupted copy phase"; exit 1; }
    [ "$rows" -gt 0 ] && [ "$rows" -lt "$USERS" ] || { echo "expected a pass under way"; exit 1; }
    [ "$cf" -eq "$rows" ] || { echo "CoreForge holds $cf rows, the checkpoint says $rows"; exit 1; }
}

# check_resumed: one more CALL finishes the same pass, every row covered once.
check_resumed() {
    local pass_before result
    pass_before=$(q "SELECT pass FROM cf_backfill_progress WHERE entity = 'users'")
    "${PSQL[@]}" -c "CALL cf_backfill('users', 500)" 2>&1 | sed 's/^/   /'
    result=$(q "SELECT state || ' pass ' || pass || ' rows_done ' || rows_done || ' inserted ' || inserted || ' updated ' || updated FROM cf_backfill_progress WHERE entity = 'users'")
    echo "   resumed: $result"
    [ "$result" = "done pass $pass_before rows_done $USERS inserted $USERS updated 0" ] \
        || { echo "expected: done pass $pass_before rows_done $USERS inserted $USERS updated 0"; exit 1; }
    [ "$(q "SELECT count(*) FROM cf_users")" -eq "$USERS" ] || { echo "cf_users is not complete"; exit 1; }
    [ "$(q "SELECT count(*) FROM cf_validation_report() WHERE status = 'fail'")" -eq 0 ] \
        || { q "SELECT * FROM cf_validation_report() WHERE status = 'fail'"; exit 1; }
}

echo "-- pg_terminate_backend mid-pass"
start_pass terminate
q "SELECT pg_terminate_backend(pid) FROM cf_backfill_progress WHERE entity = 'users'" >/dev/null
wait "$CALL_PID" || true
check_interrupted "pg_terminate_backend"
check_resumed

echo "-- immediate server stop mid-pass"
q "TRUNCATE cf_memberships, cf_users" >/dev/null
start_pass crash
scripts/pg-cluster.sh stop "$PGHOST" immediate
wait "$CALL_PID" || true
scripts/pg-cluster.sh start "$PGHOST" "$PGPORT"
check_interrupted "an immediate stop and restart"
check_resumed
echo "-- resumed after a terminate and after a crash; nothing copied twice, nothing skipped"
