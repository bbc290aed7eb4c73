#!/usr/bin/env bash
# PostgreSQL majors other than Debian 12's own 15. Debian 12's archive has only PostgreSQL 15; the
# Debian mirror also serves Debian 13 (trixie), whose postgresql-17 packages are built for its
# newer libc. So a Debian 13 root made by debootstrap from that mirror holds PostgreSQL 17 with its
# server headers and contrib modules, and the project's own scripts (ensure-deps, install, test,
# demo) run inside it, with this checkout, cargo and rustup bound in at the same paths.
#
#   scripts/pg-root.sh ensure MAJOR        make the root if it is missing (about 2 minutes)
#   scripts/pg-root.sh run MAJOR CMD...    run CMD in the checkout, inside the root, as root
#   scripts/pg-root.sh umount MAJOR        take the bind mounts away again
#   scripts/pg-root.sh dir MAJOR           print where the root is (a path inside is $(dir)/path)
#
# `make test PG=17` and the other targets call it. The root lives in $PG_ROOT_DIR (default
# /var/lib/coreforge_sync/debian13); the build inside goes to target/pg17. Needs root or sudo
# (debootstrap, mount, chroot). The bind mounts stay after a run, so that a cluster started
# inside (make demo PG=17) keeps running; `umount` takes them away.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { sed -n '8,11p' "$0" | sed 's/^# *//' >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1
major=$2
shift 2
case "$major" in
    17) suite=trixie ;;
    *) echo "pg-root: PostgreSQL $major is not supported (15 is Debian 12's own; 17 comes from Debian 13)" >&2; exit 2 ;;
esac
ROOT="${PG_ROOT_DIR:-/var/lib/coreforge_sync/debian13}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What ensure-deps.sh installs on Debian 12, for this major, and what the scripts use.
PACKAGES="postgresql-$major,postgresql-client-$major,postgresql-server-dev-$major,sudo,clang,libclang-dev,pkg-config,build-essential,python3-minimal,ca-certificates,procps"
: "${CARGO_HOME:=$HOME/.cargo}"
: "${RUSTUP_HOME:=$HOME/.rustup}"

ensure() {
    [ -x "$ROOT/usr/lib/postgresql/$major/bin/pg_config" ] && return 0
    if [ -e "$ROOT" ]; then
        # An incomplete root: removed, but never while something is mounted inside it (a bound
        # checkout or cargo home would be removed with it).
        umount_all
        if [ -n "$(mounts)" ]; then
            echo "pg-root: $ROOT is incomplete and still has mounts inside: $(mounts | tr '\n' ' ')" >&2
            exit 1
        fi
        as_root rm -rf --one-file-system "$ROOT"
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        echo "pg-root: installing debootstrap"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
            || { as_root apt-get update -qq >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
    fi
    echo "pg-root: making a Debian 13 root with PostgreSQL $major in $ROOT (about 2 minutes)"
    local start=$SECONDS
    as_root rm -rf --one-file-system "$ROOT.partial"
    as_root mkdir -p "$(dirname "$ROOT")"
    if ! as_root debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$ROOT.partial" "$MIRROR" \
        >"/tmp/coreforge-debootstrap.log" 2>&1; then
        tail -20 /tmp/coreforge-debootstrap.log >&2
        echo "pg-root: debootstrap failed (log: /tmp/coreforge-debootstrap.log)" >&2
        exit 1
    fi
    as_root mv "$ROOT.partial" "$ROOT"
    echo "pg-root: made in $((SECONDS - start))s"
}

# bind DIR: DIR inside the root is DIR outside. A mount already there is kept only when it shows
# this very directory: one left by an earlier run whose checkout was since removed and made again
# at the same path (a CI clone) shows the removed directory, and is replaced.
bind() {
    local inside="$ROOT$1"
    while mountpoint -q "$inside"; do
        [ "$(stat -c %d:%i "$1")" = "$(stat -c %d:%i "$inside")" ] && return 0
        as_root umount -l "$inside"
    done
    as_root mkdir -p "$inside"
    as_root mount --bind "$1" "$inside"
}

# Mounts inside the root of directories that were removed since (a checkout deleted after its run)
# are of no use to anyone: taken away before a run.
umount_removed() {
    local m
    for m in $(awk -v root="$ROOT" '$4 ~ /\/\/deleted$/ && index($5, root "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        as_root umount -l "$m"
    done
}

run() {
    ensure
    umount_removed
    bind /proc
    bind /dev
    bind "$REPO_ROOT"
    bind "$CARGO_HOME"
    bind "$RUSTUP_HOME"
    as_root cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
    as_root chroot "$ROOT" /usr/bin/env -i \
        HOME=/root USER=root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
        PATH="$CARGO_HOME/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        CARGO_HOME="$CARGO_HOME" RUSTUP_HOME="$RUSTUP_HOME" \
        CARGO_TARGET_DIR="$REPO_ROOT/target/pg$major" PGRX_HOME="/root/.pgrx" \
        PG_MAJOR="$major" COREFORGE_PG_ROOT="$ROOT" \
        ${SIZE:+SIZE="$SIZE"} ${CHAOS_SEEDS:+CHAOS_SEEDS="$CHAOS_SEEDS"} \
        /bin/bash -c 'cd "$1" && shift && exec "$@"' bash "$REPO_ROOT" "$@"
}

# The mount points inside the root (every run's, whatever checkout it came from), deepest first.
mounts() {
    awk -v root="$ROOT" '$2 == root || index($2, root "/") == 1 {print $2}' /proc/mounts | sort -r
}

umount_all() {
    local m
    for m in $(mounts); do as_root umount -l "$m"; done
}

case "$action" in
    ensure) ensure ;;
    run) [ $# -ge 1 ] || usage; run "$@" ;;
    umount) umount_all ;;
    dir) echo "$ROOT" ;;
    *) usage ;;
esac
