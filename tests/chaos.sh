#!/usr/bin/env bash
# Chaos: the extension under concurrent writers, a concurrent batched and set-based backfill, both
# applications writing during cutover, and a crash under trigger-heavy load. Three parts:
#
#  1. side_by_side, per seed: pgbench clients (tests/chaos/legacy.pgbench) insert, update,
#     soft-delete, undelete and hard-delete rows of all three legacy tables (also rows born rejected,
#     and their fixes) while CALL cf_backfill(NULL, 500, 100) runs from an empty CoreForge, then
#     cf_sync_all() again and again until the writers stop. Then cf_validation_report() may fail
#     only 'rejected' (the rejects are counted and printed), and the cf_ tables (every column but
#     updated_at) must equal, row for row both ways (EXCEPT ALL), what a fresh full backfill into
#     emptied cf_ tables writes.
#  2. cutover, per seed: after a backfill and cf_cutover() (forced only if the plain call is refused
#     because of rejected rows), the old application's clients write the legacy tables (as in 1)
#     while the new application's clients (tests/chaos/coreforge.pgbench) write the cf_ tables:
#     sign-ups with their own ids, renames, plan and role changes, joins, deletions (memberships
#     first). Deadlocks between the two sides are retried (a documented limit). Then the validation
#     may fail only 'rejected', the reverse backfill cf_sync_legacy() must write nothing, and after
#     cf_rollback() the forward backfill cf_sync_all() must write nothing.
#  3. crash, per seed: sync on and backfilled, legacy writers running (one client more), the server
#     is stopped with `pg_ctl stop -m immediate` (scripts/pg-cluster.sh) and started again; then the
#     validation may fail only 'rejected' (every committed write is mirrored, nothing half-written
#     is visible) and cf_sync_all() must write nothing.
#
# Any pgbench client aborted by an error other than a deadlock (retried with --max-tries) fails the
# test (in part 3, until the crash). A failed part and seed does not stop the others (each has a
# database of its own); the script exits 1 at the end, listing them. Logs: target/chaos-*.log.
#
# Run by scripts/test.sh with PGHOST/PGPORT/PGUSER set for the test cluster (PGHOST is the cluster's
# directory, which scripts/pg-cluster.sh stops and starts). Database coreforge_chaos. About 80 s
# with the defaults on 2 cores; for a soak, lengthen it with:
#   CHAOS_SECONDS      seconds of writes per seed in parts 1 and 2 (default 12)
#   CHAOS_SEEDS        pgbench --random-seed values, one run of each part each (default "1 2")
#   CHAOS_CLIENTS      pgbench clients per application (default 3)
#   CHAOS_CRASH_AFTER  seconds of writes before the crash of part 3 (default 5)
#   CHAOS_PARTS        which parts to run (default "1 2 3")
# e.g. CHAOS_SECONDS=120 CHAOS_SEEDS="$(seq -s ' ' 1 10)" bash tests/chaos.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_PER_SEED="${CHAOS_SECONDS:-12}"
SEEDS="${CHAOS_SEEDS:-1 2}"
CLIENTS="${CHAOS_CLIENTS:-3}"
CRASH_AFTER="${CHAOS_CRASH_AFTER:-5}"
PARTS="${CHAOS_PARTS:-1 2 3}"
DB=coreforge_chaos
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
MAX_TRIES=50
# Crossing cascades, and the two sides of a cutover, can deadlock (README, "Known limits"); detect
# it fast so that the clients spend the time writing, not waiting out the default 1 s.
export PGOPTIONS="${PGOPTIONS:-} -c deadlock_timeout=20ms"
mkdir -p target

# On any failure (of a part, which runs in a subshell, or of the script): stop the pgbench runs still
# going (this shell's own background jobs, by pid), and exit 1, never 3: psql's ON_ERROR_STOP exits 3,
# which scripts/test.sh would count as a skip.
FAILED=()
on_exit() {
    local rc=$? pid
    for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
    if [ "$rc" -ne 0 ]; then
        if [ "$BASH_SUBSHELL" -eq 0 ] && [ "${#FAILED[@]}" -eq 0 ]; then echo "chaos: FAILED (exit $rc)"; fi
        exit 1
    fi
}
trap on_exit EXIT
q() { "${PSQL[@]}" -At -c "$1"; }
# qq SQL: q without NOTICEs (the backfills' notes on rejected rows; their counts are printed)
qq() { "${PSQL[@]}" -At -c "SET client_min_messages = warning" -c "$1"; }
fail() { echo "FAIL: $*"; exit 1; }
# Totals for the last line; the parts run in subshells, so they add to a file.
COUNTS=target/chaos-counts
count() { echo "$1 ${2:-0}" >>"$COUNTS"; }
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# setup_db: the demo legacy tables, sync on, CoreForge empty; bench_users/bench_tenants number the
# demo rows for the pgbench scripts; chaos_user/chaos_org name rows of either origin for the new app.
setup_db() {
    dropdb --if-exists "$DB" 2>/dev/null || true
    createdb "$DB"
    "${PSQL[@]}" -f demo/legacy_schema.sql -f demo/legacy_data.sql >/dev/null
    "${PSQL[@]}" <<'SQL' >/dev/null
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
-- Undeletes are part of the load: give soft-deleted users emails no live user has.
UPDATE users SET email = 'earlier.' || id || '.' || email WHERE deleted_at IS NOT NULL;
SELECT cf_enable_sync();
CREATE TABLE bench_users AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM users;
CREATE TABLE bench_tenants AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM tenants;
CREATE UNIQUE INDEX ON bench_users (n);
CREATE UNIQUE INDEX ON bench_tenants (n);
ANALYZE bench_users, bench_tenants;
CREATE SEQUENCE chaos_serial;
CREATE FUNCTION chaos_user(side int, n int, k int) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN side = 0 THEN (SELECT b.id FROM bench_users b WHERE b.n = chaos_user.n)
              ELSE ('c0000000-0000-0000-0000-' || lpad(k::text, 12, '0'))::uuid END $$;
CREATE FUNCTION chaos_org(side int, n int, k int) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN side = 0 THEN (SELECT b.id FROM bench_tenants b WHERE b.n = chaos_org.n)
              ELSE ('d0000000-0000-0000-0000-' || lpad(k::text, 12, '0'))::uuid END $$;
SQL
}

# run_bench LOG SEED CLIENTS SECONDS SCRIPT: pgbench in the background; its pid in BENCH_PID.
run_bench() {
    pgbench -n -c "$3" -j "$3" -T "$4" --random-seed="$2" --max-tries="$MAX_TRIES" --failures-detailed \
        -f "$5" "$DB" >"$1" 2>&1 &
    BENCH_PID=$!
}

# bench_report LOG LABEL: print pgbench's counts; BENCH_TX is the number of transactions processed.
bench_report() {
    BENCH_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1" | tail -1)
    local failed retried deadlocks tps
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1" | tail -1)
    deadlocks=$(sed -n 's/^number of deadlock failures: \([0-9]*\).*/\1/p' "$1" | tail -1)
    retried=$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' "$1" | tail -1)
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1" | tail -1)
    echo "   $2: ${BENCH_TX:-?} transactions (${tps:-?} tps), ${retried:-0} retried after a deadlock," \
        "${failed:-0} failed (gave up after $MAX_TRIES tries: ${deadlocks:-0} deadlocks)"
}

# bench_ok LOG RC: the clients ran to the end, none aborted by an error. If one was, print its error
# and set BENCH_ERROR: the part goes on with its checks (to show what the data looks like), then fails.
bench_ok() {
    if [ "$2" -ne 0 ] || grep -qE "aborted|error" "$1"; then
        echo "   ERROR: pgbench exited with $2, a client was aborted; its log ($1):"
        grep -vE "^(progress|transaction type|scaling|query mode|number of|duration|latency|initial|tps|maximum|total number)" "$1" \
            | sed -n '1,40s/^/   | /p'
        BENCH_ERROR="$1"
    fi
}
# bench_verdict SEED: fail if a client was aborted (after the part's checks passed).
bench_verdict() {
    [ -z "$BENCH_ERROR" ] || fail "seed $1: a pgbench client was aborted by an error other than a deadlock (see $BENCH_ERROR above)"
}

# The failing checks and a sample of the rows behind them (printed on failure).
diagnose() {
    "${PSQL[@]}" -At <<'SQL' | sed -n '1,60s/^/   | /p'
SELECT 'fail: ' || entity || '.' || check_name || ' ' || discrepancies FROM cf_validation_report() WHERE status = 'fail';
SELECT 'missing ' || e || ': ' || key || ' (' || reason || ')' FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_missing(e) WHERE reason NOT LIKE 'rejected%' LIMIT 10;
SELECT 'extra ' || e || ': ' || key || ' (' || reason || ')' FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_extra(e) LIMIT 10;
SELECT 'mismatch ' || e || ': ' || key || ' ' || column_name || ': legacy ' || coalesce(legacy_value, 'NULL') || ', coreforge ' || coalesce(coreforge_value, 'NULL')
  FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_mismatches(e) LIMIT 10;
SQL
}

# check_validation LABEL: no failing check but 'rejected'; prints the rejects and the rows checked.
check_validation() {
    local out
    out=$("${PSQL[@]}" -At <<'SQL'
SELECT 'failing checks other than rejected: ' || count(*) FROM cf_validation_report() WHERE status = 'fail' AND check_name <> 'rejected';
SELECT 'rejected (accounted for): ' || string_agg(entity || '=' || discrepancies, ' ' ORDER BY entity) FROM cf_validation_report() WHERE check_name = 'rejected';
SELECT 'rows validated: ' || string_agg(entity || ' ' || legacy_count || ' live legacy / ' || coreforge_count || ' CoreForge', ', ' ORDER BY entity)
  FROM cf_validation_report() WHERE check_name = 'row_count';
SQL
    )
    echo "$out" | sed "s/^/   $1: /"
    if ! grep -q "^failing checks other than rejected: 0$" <<<"$out"; then
        diagnose
        fail "$1: cf_validation_report() has failing checks"
    fi
}

legacy_counts() {
    q "SELECT 'users ' || (SELECT count(*) FROM users) || ' (' || (SELECT count(*) FROM users WHERE deleted_at IS NULL) || ' live), tenants '
        || (SELECT count(*) FROM tenants) || ' (' || (SELECT count(*) FROM tenants WHERE deleted_at IS NULL) || ' live), tenant_members '
        || (SELECT count(*) FROM tenant_members)"
}

# ---- 1. side_by_side: writers, a batched backfill, then cf_sync_all() in a loop ----------------------
part1() {
    local seed="$1" log="target/chaos-1-pgbench-$seed.log" blog="target/chaos-1-backfills-$seed.log"
    echo "-- part 1, seed $seed: ${SECONDS_PER_SEED}s of legacy writes by $CLIENTS clients; CALL cf_backfill(NULL, 500, 100), then cf_sync_all() in a loop"
    BENCH_ERROR=""
    setup_db
    run_bench "$log" "$seed" "$CLIENTS" "$SECONDS_PER_SEED" tests/chaos/legacy.pgbench
    local bench=$BENCH_PID start=$SECONDS calls=0 rc
    : >"$blog"
    # The batched pass races the writers from an empty CoreForge. A pass that gives up (10 lock
    # timeouts in a row) is checkpointed; CALL it again to resume, as the README says.
    while :; do
        calls=$((calls + 1))
        if "${PSQL[@]}" -c "CALL cf_backfill(NULL, 500, 100)" >>"$blog" 2>&1; then break; fi
        [ "$calls" -lt 5 ] || { cat "$blog"; fail "seed $seed: CALL cf_backfill failed $calls times"; }
    done
    local backfill_secs=$((SECONDS - start)) during=yes
    kill -0 "$bench" 2>/dev/null || during="NO (the writers had stopped: a larger CHAOS_SECONDS races them longer)"
    echo "   CALL cf_backfill(NULL, 500, 100): ${backfill_secs}s, $calls call(s), writers still running at its end: $during"
    sed -n 's/.*NOTICE: *coreforge_sync: \(.*pass .* done.*\)/      \1/p' "$blog"
    local syncs=0 sync_errors=0
    while kill -0 "$bench" 2>/dev/null; do
        if "${PSQL[@]}" -At -c "SELECT string_agg(entity || '=' || (inserted + updated + deleted) || '/' || rejected, ' ') FROM cf_sync_all()" \
            >>"$blog" 2>&1; then
            syncs=$((syncs + 1))
        else
            sync_errors=$((sync_errors + 1))
        fi
        sleep 0.3
    done
    rc=0; wait "$bench" || rc=$?
    bench_report "$log" "legacy writers"
    bench_ok "$log" "$rc"
    count tx "$BENCH_TX"
    echo "   cf_sync_all() during the load: $syncs completed, $sync_errors failed"
    if [ "$sync_errors" -gt 0 ]; then
        grep -E "^(ERROR|psql)" "$blog" | sed 's/^psql:[^E]*//' | sort | uniq -c | sed 's/^/      /'
        # A backfill that loses a deadlock is rolled back and can simply run again; anything else is a bug.
        if grep -E "ERROR" "$blog" | grep -vq "deadlock detected"; then
            fail "seed $seed: cf_sync_all() failed with an error other than a deadlock during the load"
        fi
    fi
    if [ "$syncs" -eq 0 ] && [ "$during" = yes ]; then fail "seed $seed: no cf_sync_all() completed during the load"; fi
    check_validation "after the load"

    # Row by row: what the triggers and the racing backfills left equals a fresh full backfill.
    local result
    result=$("${PSQL[@]}" -At <<'SQL'
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.cols(t text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
   WHERE attrelid = format('public.%I', t)::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'updated_at' $$;
CREATE SCHEMA chaos_scratch;
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['cf_users', 'cf_organizations', 'cf_memberships'] LOOP
    EXECUTE format('CREATE TABLE chaos_scratch.%I AS SELECT %s FROM public.%I', t, pg_temp.cols(t), t);
  END LOOP; END $$;
TRUNCATE cf_memberships, cf_organizations, cf_users;
SELECT 'fresh backfill: ' || string_agg(entity || ' ' || inserted || ' inserted, ' || rejected || ' rejected', '; ' ORDER BY entity) FROM cf_sync_all();
CREATE FUNCTION pg_temp.diff(t text) RETURNS TABLE (kept bigint, fresh bigint, only_kept bigint, only_fresh bigint) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$SELECT (SELECT count(*) FROM chaos_scratch.%1$I), (SELECT count(*) FROM public.%1$I),
    (SELECT count(*) FROM (SELECT * FROM chaos_scratch.%1$I EXCEPT ALL SELECT %2$s FROM public.%1$I) d),
    (SELECT count(*) FROM (SELECT %2$s FROM public.%1$I EXCEPT ALL SELECT * FROM chaos_scratch.%1$I) d)$q$, t, pg_temp.cols(t));
END $$;
CREATE TEMP TABLE diffs AS SELECT t, d.* FROM unnest(ARRAY['cf_users', 'cf_organizations', 'cf_memberships']) t, pg_temp.diff(t) d;
SELECT 'rows compared: ' || string_agg(t || ' ' || kept || ' kept / ' || fresh || ' fresh', ', ') FROM diffs;
SELECT 'differences ' || sum(only_kept + only_fresh) || ': ' || string_agg(t || ' ' || only_kept || ' only in the kept copy, ' || only_fresh || ' only in the fresh backfill', ', ') FROM diffs;
SELECT 'total rows compared ' || sum(kept + fresh) FROM diffs;
SQL
    )
    echo "$result" | sed 's/^/   /'
    count rows "$(sed -n 's/^total rows compared //p' <<<"$result")"
    if ! grep -q "^differences 0:" <<<"$result"; then
        "${PSQL[@]}" -At <<'SQL' | sed -n '1,40s/^/   | /p'
SELECT 'only kept (cf_users): ' || row_to_json(d) FROM (SELECT * FROM chaos_scratch.cf_users EXCEPT ALL SELECT id, created_at, email, name, avatar_url, password_hash, is_platform_admin, active, last_login_at, federation_id FROM cf_users) d LIMIT 5;
SELECT 'only fresh (cf_users): ' || row_to_json(d) FROM (SELECT id, created_at, email, name, avatar_url, password_hash, is_platform_admin, active, last_login_at, federation_id FROM cf_users EXCEPT ALL SELECT * FROM chaos_scratch.cf_users) d LIMIT 5;
SELECT 'only kept (cf_memberships): ' || row_to_json(d) FROM (SELECT * FROM chaos_scratch.cf_memberships EXCEPT ALL SELECT id, created_at, role, permissions, organization_id, user_id FROM cf_memberships) d LIMIT 5;
SELECT 'only fresh (cf_memberships): ' || row_to_json(d) FROM (SELECT id, created_at, role, permissions, organization_id, user_id FROM cf_memberships EXCEPT ALL SELECT * FROM chaos_scratch.cf_memberships) d LIMIT 5;
SQL
        fail "seed $seed: the cf_ tables differ from a fresh full backfill"
    fi
    bench_verdict "$seed"
}

# ---- 2. cutover: the old application on the legacy tables, the new one on the cf_ tables --------------
part2() {
    local seed="$1" log_old="target/chaos-2-legacy-$seed.log" log_new="target/chaos-2-coreforge-$seed.log"
    echo "-- part 2, seed $seed: cutover; ${SECONDS_PER_SEED}s of writes by $CLIENTS legacy clients and $CLIENTS CoreForge clients"
    BENCH_ERROR=""
    setup_db
    qq "SELECT * FROM cf_sync_all()" >/dev/null
    local out how
    if out=$(q "SELECT cf_cutover()" 2>&1); then
        how="plain cf_cutover()"
    elif grep -q "validation fails" <<<"$out" \
        && [ "$(q "SELECT count(*) FROM cf_validation_report() WHERE status = 'fail' AND check_name <> 'rejected'")" -eq 0 ]; then
        q "SELECT cf_cutover(force => true, reason => 'chaos test')" >/dev/null
        how="cf_cutover(force => true) (the plain call was refused for rejected rows: $(q "SELECT string_agg(entity || '=' || discrepancies, ' ') FROM cf_validation_report() WHERE check_name = 'rejected' AND status = 'fail'"))"
    else
        echo "$out"; fail "seed $seed: cf_cutover() was refused"
    fi
    echo "   phase $(q "SELECT cf_phase()") by $how"
    run_bench "$log_old" "$seed" "$CLIENTS" "$SECONDS_PER_SEED" tests/chaos/legacy.pgbench
    local old=$BENCH_PID
    run_bench "$log_new" "$seed" "$CLIENTS" "$SECONDS_PER_SEED" tests/chaos/coreforge.pgbench
    local new=$BENCH_PID rc_old=0 rc_new=0
    wait "$old" || rc_old=$?
    wait "$new" || rc_new=$?
    bench_report "$log_old" "old application (legacy tables)"
    local tx_old=${BENCH_TX:-0}
    bench_report "$log_new" "new application (cf_ tables)"
    count tx "$tx_old"
    count tx "$BENCH_TX"
    bench_ok "$log_old" "$rc_old"
    bench_ok "$log_new" "$rc_new"
    echo "   born in CoreForge and live: $(q "SELECT (SELECT count(*) FROM cf_users WHERE id::text LIKE 'c0000000-%') || ' users, ' || (SELECT count(*) FROM cf_organizations WHERE id::text LIKE 'd0000000-%') || ' organizations'")"
    check_validation "after the load"
    count rows "$(q "SELECT sum(legacy_count + coreforge_count) FROM cf_validation_report() WHERE check_name = 'mismatched'")"
    out=$(q "SELECT string_agg(entity || ' ' || inserted || '/' || updated || '/' || deleted, ', ' ORDER BY entity) || ' = ' || sum(inserted + updated + deleted) FROM cf_sync_legacy()")
    echo "   cf_sync_legacy() (inserted/updated/deleted): $out"
    [ "${out##* = }" = 0 ] || { diagnose; fail "seed $seed: the reverse backfill still had work: the legacy tables did not hold everything CoreForge holds"; }
    echo "   $(q "SELECT cf_rollback()" | cut -c1-60)..."
    out=$(qq "SELECT string_agg(entity || ' ' || inserted || '/' || updated || '/' || deleted || ' (' || rejected || ' rejected)', ', ' ORDER BY entity) || ' = ' || sum(inserted + updated + deleted) FROM cf_sync_all()")
    echo "   cf_sync_all() after the rollback (inserted/updated/deleted): $out"
    [ "${out##* = }" = 0 ] || { diagnose; fail "seed $seed: after the rollback, the forward backfill still had work"; }
    bench_verdict "$seed"
}

# ---- 3. crash under trigger-heavy load --------------------------------------------------------------
part3() {
    local seed="$1" log="target/chaos-3-pgbench-$1.log" clients=$((CLIENTS + 1)) recoveries_before=0 recoveries_after=0 rc=0
    local serverlog="$PGHOST/log"
    echo "-- part 3, seed $seed: $clients clients write the legacy tables; after ${CRASH_AFTER}s the server is stopped with -m immediate"
    setup_db
    qq "SELECT * FROM cf_sync_all()" >/dev/null
    echo "   legacy rows before: $(legacy_counts)"
    [ -r "$serverlog" ] && recoveries_before=$(grep -c "automatic recovery in progress" "$serverlog" || true)
    run_bench "$log" "$seed" "$clients" 600 tests/chaos/legacy.pgbench
    local bench=$BENCH_PID
    sleep "$CRASH_AFTER"
    if ! kill -0 "$bench" 2>/dev/null; then
        wait "$bench" || rc=$?
        bench_ok "$log" "$rc"
        fail "seed $seed: pgbench ended before the crash"
    fi
    scripts/pg-cluster.sh stop "$PGHOST" immediate | sed 's/^/   /'
    wait "$bench" || rc=$?
    bench_report "$log" "legacy writers until the crash"
    count tx "$BENCH_TX"
    # The clients lose their connections; any error of theirs before that is a failure.
    # (the last grep reads everything, not -q: under pipefail an early exit would kill the one before it
    # with SIGPIPE and make a found error read as none)
    if grep -E "ERROR" "$log" | grep -vE "terminating connection|server closed|connection to server|crash of another" >/dev/null; then
        grep -E "ERROR" "$log" | sed -n '1,10s/^/   | /p'
        fail "seed $seed: a pgbench client hit an error before the crash"
    fi
    echo "   pgbench exited with $rc: $(grep -c "aborted in command" "$log" || true) of $clients clients aborted when the server went away"
    scripts/pg-cluster.sh start "$PGHOST" "$PGPORT" | sed 's/^/   /'
    [ -r "$serverlog" ] && recoveries_after=$(grep -c "automatic recovery in progress" "$serverlog" || true)
    echo "   crash recovery ran: $([ "$recoveries_after" -gt "$recoveries_before" ] && echo yes || echo "not seen in $serverlog")"
    echo "   legacy rows after: $(legacy_counts)"
    check_validation "after the restart"
    count rows "$(q "SELECT sum(legacy_count + coreforge_count) FROM cf_validation_report() WHERE check_name = 'mismatched'")"
    local out
    out=$(qq "SELECT string_agg(entity || ' ' || inserted || '/' || updated || '/' || deleted || ' (' || rejected || ' rejected)', ', ' ORDER BY entity) || ' = ' || sum(inserted + updated + deleted) FROM cf_sync_all()")
    echo "   cf_sync_all() after the restart (inserted/updated/deleted): $out"
    [ "${out##* = }" = 0 ] || { diagnose; fail "seed $seed: after the crash, a backfill still had work"; }
}

: >"$COUNTS"
for part in 1 2 3; do
    has_part "$part" || continue
    for seed in $SEEDS; do
        start=$SECONDS
        # A subshell per part and seed, with errexit on (not an if condition, where bash ignores it).
        set +e
        (
            set -e
            trap on_exit EXIT
            "part$part" "$seed"
        )
        rc=$?
        set -e
        if [ "$rc" -eq 0 ]; then
            echo "   part $part, seed $seed: ok ($((SECONDS - start))s)"
        else
            echo "   part $part, seed $seed: FAILED ($((SECONDS - start))s)"
            FAILED+=("part $part seed $seed")
        fi
    done
done
summary="$(awk '$1 == "tx" { tx += $2 } $1 == "rows" { rows += $2 } END { printf "%d pgbench transactions, %d rows compared", tx, rows }' "$COUNTS")"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "chaos: ${#FAILED[@]} failed: $(printf '%s, ' "${FAILED[@]}" | sed 's/, $//') ($summary, seeds $SEEDS, ${SECONDS}s)"
    exit 1
fi
dropdb --if-exists "$DB"
echo "chaos: ok ($summary, seeds $SEEDS, ${SECONDS}s)"
