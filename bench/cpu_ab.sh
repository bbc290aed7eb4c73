#!/usr/bin/env bash
# CPU time per statement of one backend, for A/B comparisons of builds of the extension on this
# machine, where throughput measured by pgbench varies by up to 40% between runs of the same code:
#
#   PGHOST=... PGPORT=... PGUSER=postgres DB=coreforge_bench [STMT=...] \
#       bash bench/cpu_ab.sh N BUILD...
#
# BUILD is `none` (sync off) or the path of a coreforge_sync.so; each is installed in turn (an
# atomic rename over the installed library; the one installed before is put back at the end), sync
# is switched on with it (`cf_enable_sync()`, after BUILD.setup.sql if that file exists), and one
# backend runs STMT N times in a PL/pgSQL loop (`i` is the loop counter; default: an updated_at
# touch of user i of bench/generate.sql's users), after 2,000 runs to warm it up. It prints the
# backend's user+system CPU time (/proc/PID/stat) per statement, in microseconds (a resolution of
# 10 ms over N). Give a build several times, interleaved, and compare within rounds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N="$1"; shift
DB="${DB:-coreforge_bench}"
LIB="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pkglibdir)/coreforge_sync.so"
STMT="${STMT:-UPDATE users SET updated_at = now() WHERE id = md5('u' || (1 + i % 20000))::uuid}"
saved=$(mktemp); cp "$LIB" "$saved"
put() { install -m 755 "$1" "$LIB.new" && mv -f "$LIB.new" "$LIB"; }
trap 'put "$saved"; rm -f "$saved"' EXIT
for b in "$@"; do
    put "$saved"
    psql -X -q -d "$DB" -c "SELECT cf_disable_sync()" >/dev/null
    if [ "$b" != none ]; then
        put "$b"
        if [ -f "$b.setup.sql" ]; then psql -X -q -d "$DB" -f "$b.setup.sql" >/dev/null; fi
        psql -X -q -d "$DB" -c "SELECT cf_enable_sync()" >/dev/null
    fi
    out=$(mktemp)
    psql -X -q -At -d "$DB" >"$out" 2>&1 <<SQL &
SELECT pg_backend_pid();
DO \$\$ BEGIN FOR i IN 1..2000 LOOP $STMT; END LOOP; END \$\$;
SELECT 'warm';
SELECT pg_sleep(0.5);
DO \$\$ BEGIN FOR i IN 1..$N LOOP $STMT; END LOOP; END \$\$;
SELECT 'done';
SELECT pg_sleep(1);
SQL
    until grep -q warm "$out"; do sleep 0.05; done
    pid=$(head -1 "$out")
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    until grep -q done "$out"; do sleep 0.02; done
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    wait
    if grep -qi error "$out"; then cat "$out" >&2; exit 1; fi
    rm -f "$out"
    awk -v b="$(basename "$b")" -v t=$((t1 - t0)) -v n="$N" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%s %.1f  ", b, t * 1e6 / hz / n}'
done
echo "(us of CPU per statement)"
