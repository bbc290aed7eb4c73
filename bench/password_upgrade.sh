#!/usr/bin/env bash
# cf_upgrade_password() calls per second on this machine's cores, against the reference Argon2
# implementation's CLI (Debian's argon2 package) making hashes of the same parameters (m=65536,
# t=3, p=2, 32 bytes), side by side in one run (part of make bench; also runs on its own):
#
#   PGHOST=... PGPORT=... PGUSER=postgres bash bench/password_upgrade.sh [reps] [calls per client]
#
# The upgrades: phase cutover, users whose legacy hash is an unsalted md5 (its check costs next to
# nothing, so a call costs its Argon2id hash, the write of cf_users and its reverse sync). One
# client per core, each upgrading its own users once per round; the legacy hashes are put back
# between rounds. The baseline: one loop per core running `argon2` once per hash. It prints a
# markdown row: calls per second, hashes per second, and their ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p target/bench
REPS="${1:-3}"
CALLS="${2:-20}"
CLIENTS=$(nproc)
DB=coreforge_password_bench
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")

if ! command -v argon2 >/dev/null; then
    # shellcheck source=scripts/common.sh
    source scripts/common.sh
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends argon2 >/dev/null
fi

dropdb --if-exists "$DB" 2>/dev/null || true
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f demo/legacy_schema.sql >/dev/null
"${PSQL[@]}" -v n=$((CLIENTS * CALLS)) >/dev/null <<'SQL'
SET client_min_messages = warning;
INSERT INTO users (id, email, name, password_hash, created_at)
SELECT md5('bench' || i)::uuid, 'bench' || i || '@example.com', 'Bench ' || i, md5('pw-' || i), '2024-01-01'
  FROM generate_series(1, :n) i;
CREATE TABLE bench_logins AS SELECT i AS n, md5('bench' || i)::uuid AS id FROM generate_series(1, :n) i;
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT count(*) FROM cf_sync_all();
SELECT cf_cutover();
SQL

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%.1f", n / (b - a)}'; }
OURS=()
HAND=()
for r in $(seq 1 "$REPS"); do
    # The legacy hashes back (forwarded to CoreForge: md5 is reset to NULL there by the policy).
    "${PSQL[@]}" -c "UPDATE users SET password_hash = md5('pw-' || b.n) FROM bench_logins b WHERE users.id = b.id" >/dev/null
    start=$(now)
    for c in $(seq 0 $((CLIENTS - 1))); do
        "${PSQL[@]}" -At -c "SELECT count(*) FILTER (WHERE cf_upgrade_password(id, 'pw-' || n)) FROM bench_logins WHERE n % $CLIENTS = $c" \
            >"target/bench/upgrade.$c" &
    done
    wait
    end=$(now)
    upgraded=$(cat target/bench/upgrade.* | awk '{s += $1} END {print s}')
    [ "$upgraded" = $((CLIENTS * CALLS)) ] || { echo "only $upgraded of $((CLIENTS * CALLS)) upgraded" >&2; exit 1; }
    OURS+=("$(rate "$upgraded" "$start" "$end")")
    start=$(now)
    for c in $(seq 1 "$CLIENTS"); do
        (for i in $(seq 1 "$CALLS"); do
            printf 'pw-%s' "$i" | argon2 "$(head -c 12 /dev/urandom | base64)" -id -t 3 -k 65536 -p 2 -l 32 -e >/dev/null
        done) &
    done
    wait
    end=$(now)
    HAND+=("$(rate $((CLIENTS * CALLS)) "$start" "$end")")
    echo "  rep $r: cf_upgrade_password ${OURS[-1]} calls/s, argon2 CLI ${HAND[-1]} hashes/s ($CLIENTS clients, $CALLS each)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
o=$(median "${OURS[@]}")
h=$(median "${HAND[@]}")
echo "| 11 | \`cf_upgrade_password()\` calls that upgrade (md5 legacy hashes, phase cutover), $CLIENTS clients | ${o} calls/s | the reference \`argon2\` CLI, the same parameters, $CLIENTS loops: ${h} hashes/s | $(awk -v a="$o" -v b="$h" 'BEGIN {printf "%.2f", a / b}')x | (none: one call is one hash) | |"
dropdb "$DB"
