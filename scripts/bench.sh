#!/usr/bin/env bash
# make bench: coreforge_sync against its baselines, side by side in one run, on a throwaway cluster
# (target/bench-cluster, port $BENCH_PORT, default 54331).
#
#   scripts/bench.sh            default size: 1M users, 100k organizations, 3M memberships (~30 min)
#   scripts/bench.sh quick      20k users, 2k organizations, 60k memberships (a smoke run, about 15 min)
#   BENCH_USERS=200000 BENCH_ORGS=20000 BENCH_REPS=5 scripts/bench.sh
#
# Every comparison runs at least 3 times (BENCH_REPS), alternating ours and the baseline; the table
# shows medians and ratios. It is printed, written to target/bench/results.md, and, for the default
# size, into docs/benchmarks.md between its bench:begin and bench:end markers.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

SIZE="${1:-default}"
case "$SIZE" in
    default) USERS="${BENCH_USERS:-1000000}"; ORGS="${BENCH_ORGS:-100000}" ;;
    quick) USERS="${BENCH_USERS:-20000}"; ORGS="${BENCH_ORGS:-2000}" ;;
    *) echo "usage: scripts/bench.sh [default|quick]" >&2; exit 2 ;;
esac
REPS="${BENCH_REPS:-3}"
[ "$REPS" -ge 3 ] || { echo "BENCH_REPS must be at least 3" >&2; exit 2; }
UPDATE_ROWS=$((USERS / 10))
PGBENCH_SECONDS="${BENCH_PGBENCH_SECONDS:-10}"
DIR="${BENCH_DIR:-target/bench-cluster$CLUSTER_SUFFIX}"
PORT="${BENCH_PORT:-54331}"
DB=coreforge_bench
OUT=target/bench
mkdir -p "$OUT"

step() { printf '\n==== %s ====\n' "$*"; }

step "dependencies, build, cluster"
scripts/ensure-deps.sh
scripts/install-extension.sh
scripts/pg-cluster.sh start "$DIR" "$PORT"
eval "$(scripts/pg-cluster.sh env "$DIR" "$PORT")"
unset PGDATABASE PGOPTIONS PGSERVICE PGSERVICEFILE
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
q() { "${PSQL[@]}" -At -c "$1"; }
# each STATEMENT... in its own transaction (VACUUM cannot run in one with others)
each() { local args=() st; for st in "$@"; do args+=(-c "$st"); done; "${PSQL[@]}" -At "${args[@]}" >/dev/null; }
# As a production server would be set: shared_buffers large enough for the working set (a keyset
# walk over a uuid key visits the heap in random order), and room for the WAL of big statements.
psql -X -q -d postgres -c "ALTER SYSTEM SET shared_buffers = '${BENCH_SHARED_BUFFERS:-4GB}'" \
    -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" >/dev/null
scripts/pg-cluster.sh stop "$DIR"
scripts/pg-cluster.sh start "$DIR" "$PORT"

# time_of CMD...: seconds taken by a command (its output is discarded).
time_of() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}'
}
sql_time() { time_of "${PSQL[@]}" -c "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# peak_anon_kb CMD...: run a psql command under application_name cfbench_mem and report the peak
# private (anonymous) memory of its backend, sampled every 50 ms from /proc (shared buffers are not
# anonymous memory, so a bigger table read through them does not count).
peak_anon_kb() {
    PGAPPNAME=cfbench_mem "$@" >/dev/null &
    local client=$! pid="" peak=0 kb
    while kill -0 "$client" 2>/dev/null; do
        [ -n "$pid" ] || pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'cfbench_mem' LIMIT 1")
        if [ -n "$pid" ] && kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null); then
            [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
        fi
        sleep 0.05
    done
    wait "$client"
    echo "$peak"
}

step "data: $USERS users, $ORGS organizations, $((USERS * 3)) memberships"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" -c "ALTER DATABASE $DB SET jit = off"
"${PSQL[@]}" -f demo/legacy_schema.sql >/dev/null
gen=$(time_of "${PSQL[@]}" -v users="$USERS" -v orgs="$ORGS" -f bench/generate.sql)
echo "generated in ${gen}s"
"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
CREATE TABLE hand_users (LIKE cf_users INCLUDING ALL);
CREATE TABLE guide_users (LIKE cf_users INCLUDING ALL);
SELECT cf_enable_sync();
SQL
"${PSQL[@]}" -f bench/plpgsql_trigger.sql >/dev/null
reset_cf_users() { each "TRUNCATE cf_memberships, cf_users" "SELECT cf_backfill_reset('users')" "CHECKPOINT"; }

declare -a R1_OURS R1_HAND R2_GUIDE R3_OURS R3_HAND R4_NONE R4_FLOOR R4_OURS R4_PLPG R5_NONE R5_OURS R5_FLOOR R5T_NONE R5T_OURS R6_OURS R6_GUIDE R8_NONE R8_FLOOR R8_OURS R8B_NONE R8B_FLOOR R8B_OURS M1 M4

step "1, 2, 7: backfill of users into an empty cf_users (ours, hand-written upsert, the guide's loop)"
for i in $(seq 1 "$REPS"); do
    reset_cf_users
    t0=$(date +%s.%N)
    M1+=("$(peak_anon_kb "${PSQL[@]}" -c "CALL cf_backfill('users')")")
    R1_OURS+=("$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f", b - a}')")
    each "TRUNCATE hand_users" "CHECKPOINT"
    R1_HAND+=("$(time_of "${PSQL[@]}" -f bench/hand_upsert.sql)")
    each "TRUNCATE guide_users" "CHECKPOINT"
    R2_GUIDE+=("$(time_of "${PSQL[@]}" -f bench/guide_sync_users.sql)")
    echo "  rep $i: cf_backfill ${R1_OURS[-1]}s (peak ${M1[-1]} kB), hand ${R1_HAND[-1]}s, guide loop ${R2_GUIDE[-1]}s"
done

step "3: re-sync of unchanged users (cf_sync_users() against the unconditional upsert)"
for i in $(seq 1 "$REPS"); do
    q "CHECKPOINT" >/dev/null
    R3_OURS+=("$(sql_time "SELECT cf_sync_users()")")
    q "CHECKPOINT" >/dev/null
    R3_HAND+=("$(time_of "${PSQL[@]}" -f bench/hand_upsert.sql)")
    echo "  rep $i: cf_sync_users ${R3_OURS[-1]}s, unconditional upsert ${R3_HAND[-1]}s"
done

step "4: one UPDATE of $UPDATE_ROWS legacy users (no trigger, the floor, sync on, a PL/pgSQL row trigger)"
upd="UPDATE users SET name = name || '.' WHERE id IN (SELECT id FROM users ORDER BY id LIMIT $UPDATE_ROWS)"
# The floor: the same UPDATE with a hand-written mirror of it into cf_users in the same statement.
updfloor="WITH l AS ($upd RETURNING id, name) UPDATE cf_users c SET name = l.name, updated_at = now() FROM l WHERE c.id = l.id"
for i in $(seq 1 "$REPS"); do
    each "SELECT cf_disable_sync()" "VACUUM users, cf_users" "CHECKPOINT"
    R4_NONE+=("$(sql_time "$upd")")
    each "SELECT cf_sync_users()" "VACUUM users, cf_users" "CHECKPOINT"
    R4_FLOOR+=("$(sql_time "$updfloor")")
    each "SELECT cf_enable_sync()" "SELECT cf_sync_users()" "VACUUM users, cf_users" "CHECKPOINT"
    R4_OURS+=("$(sql_time "$upd")")
    each "SELECT cf_disable_sync()" "SELECT cf_sync_users()" \
        "CREATE TRIGGER bench_plpgsql AFTER INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION bench_plpgsql_sync()" \
        "VACUUM users, cf_users" "CHECKPOINT"
    R4_PLPG+=("$(sql_time "$upd")")
    each "DROP TRIGGER bench_plpgsql ON users"
    echo "  rep $i: no trigger ${R4_NONE[-1]}s, floor ${R4_FLOOR[-1]}s, sync on ${R4_OURS[-1]}s, PL/pgSQL ${R4_PLPG[-1]}s"
done
each "SELECT cf_enable_sync()" "SELECT cf_sync_users()"

step "5: single-row UPDATEs, 2 clients, ${PGBENCH_SECONDS}s each (no trigger, the floor, sync on; then updated_at touches)"
tps() { # tps [script]
    pgbench -n -c 2 -j 2 -T "$PGBENCH_SECONDS" -D users="$USERS" -f "${1:-bench/single_row_update.pgbench}" "$DB" 2>&1 |
        sed -n 's/^tps = \([0-9]*\).* .*/\1/p'
}
for i in $(seq 1 "$REPS"); do
    each "SELECT cf_disable_sync()" "VACUUM users, cf_users" "CHECKPOINT"
    R5_NONE+=("$(tps)")
    R5_FLOOR+=("$(tps bench/single_row_floor.pgbench)")
    R5T_NONE+=("$(tps bench/single_row_touch.pgbench)")
    each "SELECT cf_enable_sync()" "SELECT cf_sync_users()" "VACUUM users, cf_users" "CHECKPOINT"
    R5_OURS+=("$(tps)")
    R5T_OURS+=("$(tps bench/single_row_touch.pgbench)")
    echo "  rep $i: rename: no trigger ${R5_NONE[-1]} tps, floor ${R5_FLOOR[-1]} tps, sync on ${R5_OURS[-1]} tps; touch: no trigger ${R5T_NONE[-1]} tps, sync on ${R5T_OURS[-1]} tps"
done

step "10: single-row writes of every kind, 2 clients, ${PGBENCH_SECONDS}s each (no sync, the floor, sync on)"
# Each bench/writes/W.pgbench has its floor, W.floor.pgbench: the same statements, each with a
# hand-written mirror into the cf_ tables in the same statement (run with sync off).
WRITES=(user_insert_delete user_soft_delete membership_insert_delete membership_role tenant_rename tenant_soft_delete)
declare -A W_NONE W_FLOOR W_OURS W_TARGET=(
    [user_insert_delete]=0.95 [user_soft_delete]=0.9 [membership_insert_delete]=0.95 [membership_role]=0.95
    [tenant_rename]=0.9 [tenant_soft_delete]=0.9)
declare -A W_WHAT=(
    [user_insert_delete]="a user inserted, then deleted"
    [user_soft_delete]="a user with 3 memberships soft-deleted, then undeleted"
    [membership_insert_delete]="a membership inserted, then deleted"
    [membership_role]="a membership's role changed"
    [tenant_rename]="a tenant renamed"
    [tenant_soft_delete]="a tenant with 30 members soft-deleted, then undeleted")
wtps() {
    local out
    local clients=2 # (the scripts read it as :clients: each client its own rows where two would collide)
    if ! out=$(pgbench -n -c $clients -j $clients -T "$PGBENCH_SECONDS" -D users="$USERS" -D orgs="$ORGS" \
        -D clients=$clients -f "$1" "$DB" 2>&1); then
        printf 'pgbench failed on %s:\n%s\n' "$1" "$out" >&2
        return 1
    fi
    sed -n 's/^tps = \([0-9]*\).* .*/\1/p' <<<"$out"
}
all_tables="users, tenants, tenant_members, cf_users, cf_organizations, cf_memberships"
for i in $(seq 1 "$REPS"); do
    # The floors keep the cf_ tables in step only for the rows they write: every round starts from
    # CoreForge in step with the legacy tables (the earlier steps backfill users only).
    each "SELECT cf_enable_sync()" "SELECT count(*) FROM cf_sync_all()" "SELECT cf_disable_sync()" \
        "VACUUM $all_tables" "CHECKPOINT"
    for w in "${WRITES[@]}"; do
        W_NONE[$w]+=" $(wtps "bench/writes/$w.pgbench")"
        W_FLOOR[$w]+=" $(wtps "bench/writes/$w.floor.pgbench")"
    done
    each "SELECT cf_enable_sync()" "SELECT count(*) FROM cf_sync_all()" "VACUUM $all_tables" "CHECKPOINT"
    for w in "${WRITES[@]}"; do
        W_OURS[$w]+=" $(wtps "bench/writes/$w.pgbench")"
    done
    for w in "${WRITES[@]}"; do
        echo "  rep $i: $w: no sync ${W_NONE[$w]##* } tps, floor ${W_FLOOR[$w]##* } tps, sync on ${W_OURS[$w]##* } tps"
    done
done

step "6: cf_validation_report() on the full data against the guide's validation queries"
t=$(sql_time "SELECT * FROM cf_sync_all()")
echo "  all three entities backfilled (cf_sync_all) in ${t}s"
for i in $(seq 1 "$REPS"); do
    R6_OURS+=("$(sql_time "SELECT * FROM cf_validation_report()")")
    R6_GUIDE+=("$(time_of "${PSQL[@]}" -f bench/guide_validation.sql)")
    echo "  rep $i: cf_validation_report ${R6_OURS[-1]}s, the guide's queries ${R6_GUIDE[-1]}s"
done

step "8: one UPDATE of $UPDATE_ROWS cf_users during cutover (the reverse sync against no trigger); 8b: single-row renames"
t=$(sql_time "SELECT cf_cutover()")
echo "  cf_cutover (its validation included) in ${t}s"
cfupd="UPDATE cf_users SET name = name || '.' WHERE id IN (SELECT id FROM cf_users ORDER BY id LIMIT $UPDATE_ROWS)"
# The reverse floor: the same UPDATE with a hand-written mirror of it into users in the same statement.
cffloor="WITH c AS ($cfupd RETURNING id, name) UPDATE users u SET name = c.name FROM c WHERE u.id = c.id"
# No trigger: the extension's statement triggers on cf_users (the reverse sync) and on users (the
# forward one, which the floor's write would fire) switched off; the foreign keys stay on.
# (session_replication_role = replica would fire the extension's replica row triggers instead.)
# The rounds without them leave users behind CoreForge; cf_sync_legacy() repairs it below.
sync_triggers() {
    each "ALTER TABLE cf_users $1 TRIGGER coreforge_sync_reverse_update" "ALTER TABLE users $1 TRIGGER coreforge_sync_update" \
        "VACUUM users, cf_users" "CHECKPOINT"
}
for i in $(seq 1 "$REPS"); do
    sync_triggers DISABLE
    R8_NONE+=("$(sql_time "$cfupd")")
    each "VACUUM users, cf_users" "CHECKPOINT"
    R8_FLOOR+=("$(sql_time "$cffloor")")
    sync_triggers ENABLE
    R8_OURS+=("$(sql_time "$cfupd")")
    echo "  rep $i: no trigger ${R8_NONE[-1]}s, the reverse floor ${R8_FLOOR[-1]}s, reverse sync ${R8_OURS[-1]}s"
done
for i in $(seq 1 "$REPS"); do
    sync_triggers DISABLE
    R8B_NONE+=("$(wtps bench/single_row_cf_update.pgbench)")
    R8B_FLOOR+=("$(wtps bench/single_row_cf_floor.pgbench)")
    sync_triggers ENABLE
    R8B_OURS+=("$(wtps bench/single_row_cf_update.pgbench)")
    echo "  rep $i: single-row cf_users renames: no trigger ${R8B_NONE[-1]} tps, the reverse floor ${R8B_FLOOR[-1]} tps, reverse sync ${R8B_OURS[-1]} tps"
done
t=$(sql_time "SELECT count(*) FROM cf_sync_legacy()")
echo "  cf_sync_legacy (users written back after the rounds without triggers) in ${t}s"
t=$(sql_time "SELECT cf_rollback()")
echo "  cf_rollback (its validation included) in ${t}s"

step "7: peak backend memory of cf_backfill at 4x the users"
each "SELECT cf_disable_sync()"
"${PSQL[@]}" -v first=$((USERS + 1)) -v last=$((USERS * 4)) >/dev/null <<'SQL'
INSERT INTO users (id, email, name, password_hash, created_at)
SELECT md5('u' || i)::uuid, 'user' || i || '@example.com', 'User ' || i,
       '$argon2id$v=19$m=65536,t=3,p=2$' || md5('s' || i) || '$' || md5('h' || i),
       '2020-01-01'::timestamptz + i * interval '1 minute'
FROM generate_series(:first, :last) i;
VACUUM ANALYZE users;
SQL
each "SELECT cf_enable_sync()"
for i in $(seq 1 "$REPS"); do
    reset_cf_users
    M4+=("$(peak_anon_kb "${PSQL[@]}" -c "CALL cf_backfill('users')")")
    echo "  rep $i: peak ${M4[-1]} kB at $((USERS * 4)) users"
done

step "9: deadlock retries of the legacy workload, sync on against the extension not installed"
bash bench/deadlocks.sh "$REPS" "$PGBENCH_SECONDS" | tee "$OUT/deadlocks.txt"

step "11: cf_upgrade_password() calls per second against the reference argon2 CLI"
bash bench/password_upgrade.sh "$REPS" | tee "$OUT/password_upgrade.txt"

# ---- the report ---------------------------------------------------------------------------------
m() { median "$@"; }
r1o=$(m "${R1_OURS[@]}"); r1h=$(m "${R1_HAND[@]}"); r2g=$(m "${R2_GUIDE[@]}")
r3o=$(m "${R3_OURS[@]}"); r3h=$(m "${R3_HAND[@]}")
r4n=$(m "${R4_NONE[@]}"); r4f=$(m "${R4_FLOOR[@]}"); r4o=$(m "${R4_OURS[@]}"); r4p=$(m "${R4_PLPG[@]}")
r5n=$(m "${R5_NONE[@]}"); r5o=$(m "${R5_OURS[@]}"); r5f=$(m "${R5_FLOOR[@]}")
r5tn=$(m "${R5T_NONE[@]}"); r5to=$(m "${R5T_OURS[@]}")
r6o=$(m "${R6_OURS[@]}"); r6g=$(m "${R6_GUIDE[@]}")
r8n=$(m "${R8_NONE[@]}"); r8f=$(m "${R8_FLOOR[@]}"); r8o=$(m "${R8_OURS[@]}")
r8bn=$(m "${R8B_NONE[@]}"); r8bo=$(m "${R8B_OURS[@]}"); r8bf=$(m "${R8B_FLOOR[@]}")
m1=$(m "${M1[@]}"); m4=$(m "${M4[@]}")
# verdict "X op Y": met or missed (awk does the comparison).
verdict() { if awk "BEGIN {exit !($1)}"; then echo met; else echo "**missed**"; fi; }
c1=$(ratio "$r1o" "$r1h"); c2=$(ratio "$r2g" "$r1o"); c3=$(ratio "$r3o" "$r3h")
c4n=$(ratio "$r4o" "$r4n"); c4f=$(ratio "$r4o" "$r4f"); c8f=$(ratio "$r8o" "$r8f"); c4p=$(ratio "$r4o" "$r4p"); c5=$(ratio "$r5o" "$r5n"); c6=$(ratio "$r6o" "$r6g")
c5t=$(ratio "$r5to" "$r5tn"); c5f=$(ratio "$r5o" "$r5f")
c7=$(ratio "$m4" "$m1"); c8=$(ratio "$r8o" "$r8n"); c8b=$(ratio "$r8bo" "$r8bf")
report="$OUT/results.md"
{
    echo "Size: $USERS users ($((USERS * 4)) for #7), $ORGS organizations, $((USERS * 3)) memberships; $REPS repetitions, medians."
    echo
    echo "| # | what | coreforge_sync | baseline | ratio | target | |"
    echo "|---|---|---|---|---|---|---|"
    echo "| 1 | \`CALL cf_backfill('users')\` into an empty cf_users | ${r1o} s | hand-written \`INSERT ... SELECT ... ON CONFLICT DO UPDATE\`: ${r1h} s | ${c1}x | ≤ 1.25x | $(verdict "$c1 <= 1.25") |"
    echo "| 2 | same | ${r1o} s | the guide's loop, one prepared upsert per row: ${r2g} s | ${c2}x faster | ≥ 5x faster | $(verdict "$c2 >= 5") |"
    echo "| 3 | \`cf_sync_users()\` over unchanged data | ${r3o} s | the unconditional upsert: ${r3h} s | ${c3}x | ≤ 0.3x | $(verdict "$c3 <= 0.3") |"
    echo "| 4 | one \`UPDATE\` of $UPDATE_ROWS users, sync on | ${r4o} s | no trigger: ${r4n} s | ${c4n}x | ≤ 2.0x | $(verdict "$c4n <= 2.0") |"
    echo "| 4 | same | ${r4o} s | the floor, a hand-written dual write in the same statement: ${r4f} s | ${c4f}x | ≤ 1.1x | $(verdict "$c4f <= 1.1") |"
    echo "| 4 | same | ${r4o} s | a PL/pgSQL row trigger: ${r4p} s | ${c4p}x | < 1.0x | $(verdict "$c4p < 1.0") |"
    echo "| 5 | single-row UPDATEs, 2 clients | ${r5o} tps | no trigger: ${r5n} tps | ${c5}x | ≥ 0.8x | $(verdict "$c5 >= 0.8") |"
    echo "| 5 | same | ${r5o} tps | the floor, a hand-written dual write in the same statement: ${r5f} tps | ${c5f}x | ≥ 0.95x | $(verdict "$c5f >= 0.95") |"
    echo "| 5b | single-row \`UPDATE\`s of \`updated_at\` (no mapped column), 2 clients | ${r5to} tps | no trigger: ${r5tn} tps | ${c5t}x | ≥ 0.95x | $(verdict "$c5t >= 0.95") |"
    for w in "${WRITES[@]}"; do
        # shellcheck disable=SC2086 # the lists are space-separated numbers
        wo=$(m ${W_OURS[$w]}); wn=$(m ${W_NONE[$w]}); wf=$(m ${W_FLOOR[$w]})
        cw=$(ratio "$wo" "$wf")
        echo "| 10 | ${W_WHAT[$w]} (\`bench/writes/$w.pgbench\`), 2 clients | ${wo} tps | the floor: ${wf} tps (no sync: ${wn} tps, so sync on is $(ratio "$wo" "$wn")x and the floor $(ratio "$wf" "$wn")x of it) | ${cw}x | ≥ ${W_TARGET[$w]}x | $(verdict "$cw >= ${W_TARGET[$w]}") |"
    done
    echo "| 6 | \`cf_validation_report()\` | ${r6o} s | the guide's validation queries: ${r6g} s | ${c6}x | ≤ 1.0x | $(verdict "$c6 <= 1.0") |"
    echo "| 7 | peak private memory of the \`cf_backfill\` backend | ${m4} kB at $((USERS * 4)) users | ${m1} kB at $USERS users | ${c7}x | within 20% | $(verdict "$c7 <= 1.2 && $c7 >= 0.8") |"
    echo "| 8 | one \`UPDATE\` of $UPDATE_ROWS cf_users during cutover (mirrored back into users) | ${r8o} s | no trigger: ${r8n} s | ${c8}x | (none; #4's forward target is ≤ 2.0x) | |"
    echo "| 8 | same | ${r8o} s | the reverse floor, a hand-written mirror into users in the same statement: ${r8f} s | ${c8f}x | ≤ 1.1x | $(verdict "$c8f <= 1.1") |"
    echo "| 8b | single-row \`UPDATE\`s of cf_users during cutover, 2 clients | ${r8bo} tps | the reverse floor, the rename plus a hand-written mirror into users in the same statement: ${r8bf} tps (no trigger: ${r8bn} tps) | ${c8b}x | ≥ 0.95x | $(verdict "$c8b >= 0.95") |"
    grep '^| 11 ' "$OUT/password_upgrade.txt"
    echo
    echo "Runs: 1 ours ${R1_OURS[*]}; hand ${R1_HAND[*]}; 2 guide ${R2_GUIDE[*]}; 3 ours ${R3_OURS[*]}; upsert ${R3_HAND[*]};"
    echo "4 none ${R4_NONE[*]}; floor ${R4_FLOOR[*]}; ours ${R4_OURS[*]}; PL/pgSQL ${R4_PLPG[*]}; 5 none ${R5_NONE[*]}; ours ${R5_OURS[*]}; floor ${R5_FLOOR[*]};"
    echo "5b none ${R5T_NONE[*]}; ours ${R5T_OURS[*]};"
    echo "6 ours ${R6_OURS[*]}; guide ${R6_GUIDE[*]}; 7 at $USERS ${M1[*]} kB; at $((USERS * 4)) ${M4[*]} kB;"
    echo "8 none ${R8_NONE[*]}; floor ${R8_FLOOR[*]}; ours ${R8_OURS[*]}; 8b none ${R8B_NONE[*]}; floor ${R8B_FLOOR[*]}; ours ${R8B_OURS[*]};"
    for w in "${WRITES[@]}"; do echo "10 $w: none${W_NONE[$w]}; floor${W_FLOOR[$w]}; ours${W_OURS[$w]};"; done
    echo
    echo "9: deadlock retries and throughput of the mixed legacy workload \`tests/chaos/legacy.pgbench\` (hot rows, 3 clients, ${PGBENCH_SECONDS} s, $REPS rounds each, \`bench/deadlocks.sh\`):"
    echo
    grep '^|' "$OUT/deadlocks.txt"
} >"$report"
step "results"
cat "$report"

machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); $(psql -X -At -d postgres -c 'SELECT version()' | cut -d, -f1)"
if [ "$SIZE" = default ] && [ -z "${BENCH_USERS:-}" ] && [ -f docs/benchmarks.md ]; then
    {
        sed '/<!-- bench:begin -->/q' docs/benchmarks.md
        echo "Measured $(date -u +%Y-%m-%d) by \`make bench\` (\`scripts/bench.sh\`) on $machine."
        echo
        cat "$report"
        sed -n '/<!-- bench:end -->/,$p' docs/benchmarks.md
    } >"$OUT/benchmarks.md"
    mv "$OUT/benchmarks.md" docs/benchmarks.md
    echo "docs/benchmarks.md updated"
fi
scripts/pg-cluster.sh stop "$DIR"
