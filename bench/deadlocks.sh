#!/usr/bin/env bash
# Deadlock retries of the legacy application, with sync on against the extension not installed,
# side by side in one run (part of make bench; also runs on its own against any cluster):
#
#   PGHOST=... PGPORT=... PGUSER=postgres [SERVER_LOG=...] bash bench/deadlocks.sh [reps] [seconds]
#
# Each round loads the demo tables into a fresh database twice: one without the extension, one with
# sync on after a full backfill (phase side_by_side). The old application's workload of
# tests/chaos/legacy.pgbench runs against each, 3 clients for `seconds` (default 10), with
# `pgbench --max-tries=50 --failures-detailed`: a transaction that meets a deadlock is rolled back
# and retried. Rounds alternate the two, `reps` times (default 3), with the same seeds. It prints,
# per configuration, the transactions, the retries, the retries per 10,000 transactions and the
# throughput of sync on against the extension not installed (rounds of equal time), and the deadlocks the server logged are counted by the tables of the two statements that met.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPS="${1:-3}"
SECONDS_PER_RUN="${2:-10}"
CLIENTS=3
DB=coreforge_deadlocks
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
# Detect deadlocks as fast as tests/chaos.sh does, so that both configurations meet the same rule.
export PGOPTIONS="${PGOPTIONS:-} -c deadlock_timeout=20ms"
OUT=target/bench
mkdir -p "$OUT"

# load WITH_SYNC: the demo tables (as tests/chaos.sh prepares them) in a fresh database.
load() {
    dropdb --if-exists "$DB" 2>/dev/null || true
    createdb "$DB"
    "${PSQL[@]}" -d "$DB" -f demo/legacy_schema.sql -f demo/legacy_data.sql >/dev/null
    "${PSQL[@]}" -d "$DB" >/dev/null <<'SQL'
UPDATE users SET email = 'earlier.' || id || '.' || email WHERE deleted_at IS NOT NULL;
CREATE TABLE bench_users AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM users;
CREATE TABLE bench_tenants AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM tenants;
CREATE UNIQUE INDEX ON bench_users (n);
CREATE UNIQUE INDEX ON bench_tenants (n);
CREATE SEQUENCE chaos_serial;
SQL
    if [ "$1" = 1 ]; then
        "${PSQL[@]}" -d "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT count(*) FROM cf_sync_all();
SQL
    fi
    "${PSQL[@]}" -d "$DB" -c "VACUUM ANALYZE" >/dev/null
}

# run LOG SEED: the workload; prints "transactions retried".
run() {
    pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" --random-seed="$2" --max-tries=50 \
        --failures-detailed -f tests/chaos/legacy.pgbench "$DB" >"$1" 2>&1 || { cat "$1" >&2; exit 1; }
    if grep -qE "aborted" "$1"; then cat "$1" >&2; exit 1; fi
    local tx retried
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1" | tail -1)
    retried=$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' "$1" | tail -1)
    echo "${tx:-0} ${retried:-0}"
}

declare -A TX RETRIED
TX[off]=0; TX[on]=0; RETRIED[off]=0; RETRIED[on]=0
# The server log (SERVER_LOG, e.g. target/test-cluster/log), if given, is read for the deadlocks.
LOGFILE="${SERVER_LOG:-}"
LOG_START=0
if [ -n "$LOGFILE" ]; then LOG_START=$(stat -c %s "$LOGFILE" 2>/dev/null || echo 0); fi
for rep in $(seq 1 "$REPS"); do
    for config in off on; do
        load "$([ "$config" = on ] && echo 1 || echo 0)"
        read -r tx retried < <(run "$OUT/deadlocks-$config-$rep.log" "$rep")
        TX[$config]=$((TX[$config] + tx))
        RETRIED[$config]=$((RETRIED[$config] + retried))
        echo "round $rep, $config: $tx transactions, $retried retried after a deadlock"
    done
done
dropdb --if-exists "$DB" 2>/dev/null || true
per10k() { awk -v r="$1" -v t="$2" 'BEGIN {printf "%.2f", (t > 0 ? 10000 * r / t : 0)}'; }
echo
# Every round runs for the same time, so the transactions' ratio is the throughput's (issue 14's
# mixed workload: target ≥ 0.6x of the extension not installed).
ratio=$(awk -v a="${TX[on]}" -v b="${TX[off]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
echo "| configuration | transactions | retried after a deadlock | per 10,000 transactions | throughput |"
echo "|---|---|---|---|---|"
echo "| extension not installed | ${TX[off]} | ${RETRIED[off]} | $(per10k "${RETRIED[off]}" "${TX[off]}") | 1.00x |"
echo "| sync on (side_by_side) | ${TX[on]} | ${RETRIED[on]} | $(per10k "${RETRIED[on]}" "${TX[on]}") | ${ratio}x of not installed (target ≥ 0.6x) |"
if [ -n "$LOGFILE" ] && [ -r "$LOGFILE" ]; then
    echo
    echo "deadlocks in the server log, by the statements that met:"
    tail -c +"$((LOG_START + 1))" "$LOGFILE" | grep -A12 "deadlock detected" \
        | sed -n 's/.*Process [0-9]*: \(.*\)/\1/p' | cut -c1-90 | sort | uniq -c | sort -rn | head -20
fi
