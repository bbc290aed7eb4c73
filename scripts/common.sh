# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this
# Shared settings and helpers for the scripts in this directory. Source it, don't run it.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config}"
PGBIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PGXS_DIR="/usr/lib/postgresql/${PG_MAJOR}/lib/pgxs"
PGRX_VERSION="${PGRX_VERSION:-0.18.0}"
# The throwaway clusters of another major live beside 15's (target/test-cluster-17): a cluster
# directory belongs to one major, and to that root's postgres user.
CLUSTER_SUFFIX=""
[ "$PG_MAJOR" = 15 ] || CLUSTER_SUFFIX="-$PG_MAJOR"
EXT_NAME=coreforge_sync

# CI may run with a scrubbed environment; cargo, rustup and pgrx-tests need these.
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
: "${USER:=$(id -un)}"
export HOME USER

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command with root privileges: directly as root, through sudo otherwise.
as_root() {
    if is_root; then
        "$@"
    else
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: '$*' needs root, and sudo is not installed" >&2
            return 1
        fi
        sudo "$@"
    fi
}

# cargo lives in ~/.cargo/bin, which a non-login shell (CI, make) may not have on PATH.
ensure_cargo_on_path() {
    if ! command -v cargo >/dev/null 2>&1; then
        local cargo_home="${CARGO_HOME:-$HOME/.cargo}"
        if [ -x "$cargo_home/bin/cargo" ]; then
            export PATH="$cargo_home/bin:$PATH"
        fi
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo not found (install Rust with rustup; it is not installed by these scripts)" >&2
        return 1
    fi
}
