#!/usr/bin/env bash
# Manage a throwaway PostgreSQL 15 cluster that lives entirely in one directory.
#
#   scripts/pg-cluster.sh start  DIR PORT     initdb DIR if needed, then start it (no-op if running)
#   scripts/pg-cluster.sh stop   DIR [MODE]   stop it (MODE: smart|fast|immediate, default fast)
#   scripts/pg-cluster.sh status DIR          exit 0 if running, 3 if not, 4 if DIR is no cluster
#   scripts/pg-cluster.sh env    DIR [PORT]   print `export PGHOST=... PGPORT=... PGUSER=...`
#
# The server listens only on a unix socket in DIR (listen_addresses = ''), so it never clashes with
# another server on the same port number, and never touches the system cluster. Superuser is
# `postgres`, auth is trust. When run as root the cluster belongs to the `postgres` OS user and the
# server is started with `runuser -u postgres --`; otherwise it runs as the calling user.
# If, as root, DIR's parent is not traversable by `postgres` (e.g. a checkout under /root) or the
# socket path would be too long, the data goes to /tmp and DIR becomes a symlink to it.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd="$1"
DIR_ARG="$2"
case "$DIR_ARG" in /*) DIR_ABS="$DIR_ARG" ;; *) DIR_ABS="$PWD/$DIR_ARG" ;; esac
DIR_ABS="${DIR_ABS%/}"

if is_root; then
    RUN=(runuser -u postgres --)
    PG_OS_USER=postgres
else
    RUN=()
    PG_OS_USER="$(id -un)"
fi

# The real directory (symlink resolved); what the socket path and PGHOST use.
real_dir() { readlink -f "$DIR_ABS" 2>/dev/null || echo "$DIR_ABS"; }

# Run a PostgreSQL binary as the cluster owner, from a cwd it can read, without Rust backtrace
# variables (they would leak backtraces into error DETAILs and hence into expected output).
pg_run() {
    (cd / && "${RUN[@]}" env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$@")
}

is_cluster() { [ -f "$(real_dir)/PG_VERSION" ]; }

is_running() {
    is_cluster && pg_run "$PGBIN/pg_ctl" -D "$(real_dir)" status >/dev/null 2>&1
}

conf_port() {
    sed -n "s/^port = \([0-9]*\).*/\1/p" "$(real_dir)/coreforge-cluster.conf" 2>/dev/null | tail -1 || true
}

running_port() {
    # line 4 of postmaster.pid is the port
    sed -n 4p "$(real_dir)/postmaster.pid" 2>/dev/null || true
}

# Create DIR (as root: owned by postgres, reachable by postgres; else a symlink into /tmp).
prepare_dir() {
    local port="$1" parent tmp
    if [ -L "$DIR_ABS" ] && [ ! -e "$DIR_ABS" ]; then
        rm -f "$DIR_ABS" # dangling symlink from an earlier run whose /tmp dir is gone
    fi
    parent="$(dirname "$DIR_ABS")"
    mkdir -p "$parent"
    if [ ! -e "$DIR_ABS" ]; then
        local need_tmp=0
        # unix socket path limit is 107 bytes: "$DIR/.s.PGSQL.$PORT"
        if [ $(( ${#DIR_ABS} + 12 + ${#port} )) -gt 100 ]; then need_tmp=1; fi
        if is_root && ! runuser -u postgres -- test -x "$parent" 2>/dev/null; then
            need_tmp=1
        fi
        if [ "$need_tmp" -eq 1 ]; then
            tmp="/tmp/pgcluster-$(printf '%s' "$DIR_ABS" | cksum | cut -d' ' -f1)"
            mkdir -p "$tmp"
            ln -s "$tmp" "$DIR_ABS"
            echo "pg-cluster: $DIR_ARG -> $tmp (postgres cannot reach $parent, or the socket path is too long)"
        else
            mkdir -p "$DIR_ABS"
        fi
    fi
    local real; real="$(real_dir)"
    if is_root; then
        chown postgres:postgres "$real"
        if ! runuser -u postgres -- test -w "$real"; then
            echo "error: user postgres cannot reach $real; some parent directory is not traversable (o+x)." >&2
            echo "       Use a directory under /tmp, or chmod o+x the parents." >&2
            exit 1
        fi
    fi
    chmod 700 "$real"
}

write_conf() {
    local port="$1" real; real="$(real_dir)"
    # Rewritten at every start, so the port can change between runs.
    pg_run tee "$real/coreforge-cluster.conf" >/dev/null <<EOF
# written by scripts/pg-cluster.sh at every start
port = $port
listen_addresses = ''
unix_socket_directories = '$real'
fsync = off
synchronous_commit = off
full_page_writes = off
max_prepared_transactions = 10
timezone = 'UTC'
lc_messages = 'C'
log_line_prefix = '%m [%p] %q%u@%d '
${CLUSTER_EXTRA_CONF:-}
EOF
}

start() {
    local port="${1:-}"
    [ -n "$port" ] || usage
    if is_running; then
        local rp; rp="$(running_port)"
        if [ "$rp" != "$port" ]; then
            echo "error: cluster $DIR_ARG is already running on port $rp, not $port; stop it first" >&2
            exit 1
        fi
        echo "pg-cluster: $DIR_ARG already running (port $port)"
        return 0
    fi
    prepare_dir "$port"
    local real; real="$(real_dir)"
    if ! is_cluster; then
        if [ -n "$(ls -A "$real")" ]; then
            echo "error: $real exists, is not empty and is not a PostgreSQL cluster" >&2
            exit 1
        fi
        local locale=C
        if grep -qixE 'c\.utf-?8' <<<"$(locale -a 2>/dev/null)"; then locale=C.UTF-8; fi
        echo "pg-cluster: initdb $DIR_ARG (locale $locale, owner $PG_OS_USER)"
        if ! pg_run "$PGBIN/initdb" -D "$real" --auth=trust -U postgres --encoding=UTF8 \
                --locale="$locale" --no-sync --no-instructions >"$real.initdb.log" 2>&1; then
            cat "$real.initdb.log" >&2
            exit 1
        fi
        rm -f "$real.initdb.log"
        pg_run sh -c "echo \"include_if_exists = 'coreforge-cluster.conf'\" >> '$real/postgresql.conf'"
    fi
    write_conf "$port"
    if ! pg_run "$PGBIN/pg_ctl" -D "$real" -l "$real/log" -w -t 60 start >/dev/null; then
        echo "error: could not start the cluster in $DIR_ARG; last lines of $real/log:" >&2
        tail -n 30 "$real/log" >&2 || true
        exit 1
    fi
    echo "pg-cluster: started $DIR_ARG (socket $real, port $port)"
}

stop() {
    local mode="${1:-fast}"
    if ! is_running; then
        echo "pg-cluster: $DIR_ARG is not running"
        return 0
    fi
    pg_run "$PGBIN/pg_ctl" -D "$(real_dir)" -m "$mode" -w -t 60 stop >/dev/null
    echo "pg-cluster: stopped $DIR_ARG"
}

status() {
    if ! is_cluster; then
        echo "pg-cluster: $DIR_ARG is not a cluster"
        exit 4
    fi
    if is_running; then
        echo "pg-cluster: $DIR_ARG is running (socket $(real_dir), port $(running_port))"
    else
        echo "pg-cluster: $DIR_ARG is not running"
        exit 3
    fi
}

print_env() {
    local port="${1:-}"
    [ -n "$port" ] || port="$(running_port)"
    [ -n "$port" ] || port="$(conf_port)"
    if [ -z "$port" ]; then
        echo "error: no PORT given and $DIR_ARG has no recorded port" >&2
        exit 1
    fi
    printf 'export PGHOST=%q\nexport PGPORT=%q\nexport PGUSER=postgres\n' "$(real_dir)" "$port"
}

case "$cmd" in
    start) start "${3:-}" ;;
    stop) stop "${3:-}" ;;
    status) status ;;
    env) print_env "${3:-}" ;;
    *) usage ;;
esac
