#!/usr/bin/env bash
# Run every test suite of coreforge_sync and print a summary; exit non-zero if any suite failed.
#
#   scripts/test.sh [layers] [unit] [regress] [isolation] [scripts]     (default: all five)
#
#   layers     scripts/check-layers.py: imports in src/ run downward only, no cycles, the pure
#              layers run no SQL (its --self-test first, which proves each rule can fail)
#   unit       cargo pgrx test pg15 (#[pg_test]s; pgrx starts its own temporary server)
#   regress    pg_regress on tests/pg_regress/sql/*.sql (setup.sql first, then the rest sorted),
#              run from tests/pg_regress like `cargo pgrx regress` (so `\i fixtures/x.sql` works),
#              fresh database coreforge_regress, output in target/pg_regress-out
#   isolation  pg_isolation_regress on tests/isolation/specs/*.spec (skipped if there are none),
#              run from tests/isolation, database coreforge_isolation, output in target/isolation-out
#   scripts    every tests/*.sh, run with PGHOST/PGPORT/PGUSER set for the test cluster
#
# regress/isolation/scripts share one throwaway cluster in $TEST_CLUSTER_DIR (default
# target/test-cluster) on port $PORT (default 54329; unix socket only), stopped on exit.
# Expects the extension to be installed already (make test does that first). The unit suite
# installs its own debug build with the pg_test feature over it, so after the unit suite the
# release build is installed again before the other suites run.
set -uo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_cargo_on_path || exit 1
cd "$REPO_ROOT" || exit 1

unset PGDATABASE PGSERVICE PGOPTIONS
PORT="${PORT:-54329}"
CLUSTER_DIR="${TEST_CLUSTER_DIR:-target/test-cluster$CLUSTER_SUFFIX}"
REGRESS_OUT="target/pg_regress-out"
ISOLATION_OUT="target/isolation-out"

if [ $# -eq 0 ]; then set -- layers unit regress isolation scripts; fi
for s in "$@"; do
    case "$s" in layers|unit|regress|isolation|scripts) ;; *) echo "unknown suite: $s" >&2; exit 2 ;; esac
done
want() { local s; for s in "${SUITES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
SUITES=("$@")

SUMMARY=()
FAILED=0
record() { # name status seconds [note]
    SUMMARY+=("$(printf '%-28s %-5s %5ss  %s' "$1" "$2" "$3" "${4:-}")")
    [ "$2" = FAIL ] && FAILED=1
    return 0
}
banner() { printf '\n==== %s ====\n' "$*"; }

PGRX_PGDATA=""
CLUSTER_STARTED=0
cleanup() {
    if [ "$CLUSTER_STARTED" -eq 1 ]; then
        scripts/pg-cluster.sh stop "$CLUSTER_DIR" || true
    fi
    if [ -n "$PGRX_PGDATA" ]; then rm -rf "$PGRX_PGDATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- unit: cargo pgrx test ----------------------------------------------------------------------
run_unit() {
    local args=(pgrx test "pg$PG_MAJOR")
    if is_root; then
        # PostgreSQL refuses to run as root: pgrx runs initdb/pg_ctl via `sudo -u postgres` and
        # creates PGDATA=<dir>/15-<pid> as postgres, so <dir> must exist and be postgres' own.
        # /tmp keeps it reachable by postgres wherever the checkout is, and the socket path short.
        PGRX_PGDATA="$(mktemp -d /tmp/coreforge-pgrx-test.XXXXXX)"
        chown postgres:postgres "$PGRX_PGDATA"
        args+=(--runas postgres --pgdata "$PGRX_PGDATA")
    elif [ -w "$("$PG_CONFIG" --pkglibdir)" ] && [ -w "$("$PG_CONFIG" --sharedir)/extension" ]; then
        : # a user who owns the PostgreSQL install dirs: plain `cargo pgrx test` works
    else
        # Plain `cargo pgrx test` would install into root-owned dirs without sudo and fail.
        # --runas <self> makes pgrx install with `--sudo` and run the server as us (via sudo -u).
        PGRX_PGDATA="$(mktemp -d /tmp/coreforge-pgrx-test.XXXXXX)"
        args+=(--runas "$(id -un)" --pgdata "$PGRX_PGDATA")
    fi
    if [ -n "$PGRX_PGDATA" ]; then
        # With --runas, pgrx installs with `sudo cp`, which rewrites the installed .so in place and
        # can crash other servers' backends that have it mapped. Unlinking it first makes cp write
        # a new file. (The release build is installed again right after this suite.)
        as_root rm -f "$("$PG_CONFIG" --pkglibdir)/$EXT_NAME.so"
    fi
    echo "+ cargo ${args[*]}"
    cargo "${args[@]}"
}

# ---- the shared cluster -------------------------------------------------------------------------
ensure_cluster() {
    if [ "$CLUSTER_STARTED" -eq 0 ]; then
        # pg_stat_statements (track = all, set per session) counts the statements a trigger runs
        # (19_statements_per_write).
        CLUSTER_EXTRA_CONF="shared_preload_libraries = 'pg_stat_statements'" \
            scripts/pg-cluster.sh start "$CLUSTER_DIR" "$PORT" || return 1
        CLUSTER_STARTED=1
        eval "$(scripts/pg-cluster.sh env "$CLUSTER_DIR" "$PORT")"
    fi
}

# ---- regress: pg_regress ------------------------------------------------------------------------
regress_tests() { # setup first (as cargo pgrx regress does), then the others in C-locale order
    local f names=()
    for f in tests/pg_regress/sql/*.sql; do
        [ -e "$f" ] || continue
        f="$(basename "$f" .sql)"
        [ "$f" = setup ] || names+=("$f")
    done
    [ -e tests/pg_regress/sql/setup.sql ] && echo setup
    [ "${#names[@]}" -gt 0 ] && printf '%s\n' "${names[@]}" | LC_ALL=C sort
    return 0
}

# pg_regress_run DRIVER DIR OUT DBNAME TEST...: run pg_regress or pg_isolation_regress from DIR (so
# tests can `\i fixtures/x.sql`, as `cargo pgrx regress` does), printing regression.diffs on failure.
pg_regress_run() {
    local driver="$1" dir="$2" out="$3" db="$4"
    shift 4
    ensure_cluster || return 1
    rm -rf "$out" && mkdir -p "$out"
    if ! (cd "$dir" && "$driver" --bindir="$PGBIN" --inputdir=. --outputdir="$REPO_ROOT/$out" \
            --host="$PGHOST" --port="$PGPORT" --user=postgres --dbname="$db" "$@"); then
        if [ -s "$out/regression.diffs" ]; then
            banner "$out/regression.diffs"
            cat "$out/regression.diffs"
        fi
        return 1
    fi
}

run_regress() {
    local tests
    mapfile -t tests < <(regress_tests)
    if [ "${#tests[@]}" -eq 0 ]; then echo "no tests in tests/pg_regress/sql"; return 77; fi
    pg_regress_run "$PGXS_DIR/src/test/regress/pg_regress" tests/pg_regress "$REGRESS_OUT" \
        coreforge_regress "${tests[@]}"
}

# ---- isolation: pg_isolation_regress --------------------------------------------------------------
run_isolation() {
    local f specs=()
    for f in tests/isolation/specs/*.spec; do
        [ -e "$f" ] && specs+=("$(basename "$f" .spec)")
    done
    if [ "${#specs[@]}" -eq 0 ]; then echo "no specs in tests/isolation/specs"; return 77; fi
    mapfile -t specs < <(printf '%s\n' "${specs[@]}" | LC_ALL=C sort)
    pg_regress_run "$PGXS_DIR/src/test/isolation/pg_isolation_regress" tests/isolation "$ISOLATION_OUT" \
        coreforge_isolation "${specs[@]}"
}

# ---- scripts: tests/*.sh (exit 0 = pass, 3 = skip, else fail) --------------------------------------
run_script() {
    ensure_cluster || return 1
    PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres bash "$1"
}

# ---- run them -------------------------------------------------------------------------------------
# run_suite NAME FUNCTION [ARGS]: return 0 = PASS, 77 = SKIP (as automake; psql exits 3 on a failed script), anything else = FAIL
run_suite() {
    local name="$1" start rc
    shift
    banner "$name"
    start=$SECONDS
    "$@"
    rc=$?
    case "$rc" in
        0) record "$name" PASS $((SECONDS - start)) ;;
        77) record "$name" SKIP $((SECONDS - start)) "(nothing to run)" ;;
        *) record "$name" FAIL $((SECONDS - start)) "(exit $rc)" ;;
    esac
}

run_layers() {
    python3 scripts/check-layers.py --self-test && python3 scripts/check-layers.py
}
want layers && run_suite "layers (check-layers.py)" run_layers
if want unit; then
    run_suite "unit (cargo pgrx test)" run_unit
    banner "reinstalling the release build"
    mkdir -p target
    if ! scripts/install-extension.sh >target/install-extension.log 2>&1; then
        cat target/install-extension.log
        record "reinstall release build" FAIL 0
    fi
fi
want regress && run_suite "regress (pg_regress)" run_regress
want isolation && run_suite "isolation" run_isolation
if want scripts; then
    found=0
    for t in tests/*.sh; do
        [ -e "$t" ] || continue
        found=1
        run_suite "script $t" run_script "$t"
    done
    [ "$found" -eq 1 ] || record "scripts (tests/*.sh)" SKIP 0 "(none)"
fi

banner "summary ($((SECONDS))s)"
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
    echo "FAILED"
    exit 1
fi
echo "all suites passed"
