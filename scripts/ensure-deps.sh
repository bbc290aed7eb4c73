#!/usr/bin/env bash
# Install whatever is missing to build, install and test coreforge_sync on Debian 12:
#   - Debian packages (PostgreSQL 15 server + headers + pg_regress, clang for bindgen, a C toolchain, sudo)
#   - cargo-pgrx, exactly $PGRX_VERSION (must equal the pgrx crate version in Cargo.toml)
#   - ~/.pgrx/config.toml pointing pgrx at the Debian PostgreSQL 15 pg_config
# Idempotent, and quiet and quick (well under a second) when everything is already there.
# Runs as root, or as a user with sudo (only apt-get and one config file need root).
# Rust itself (rustup, cargo) is not installed here: it cannot come from a package registry.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

say() { echo "ensure-deps: $*"; }

# Packages the build and the tests need. libreadline-dev/zlib1g-dev are NOT needed: pgrx only
# compiles PostgreSQL itself when `cargo pgrx init` downloads it, and we point it at Debian's.
# postgresql-15 provides the contrib modules (there is no separate postgresql-contrib-15 in Debian 12);
# pg_regress and pg_isolation_regress come with postgresql-client-15.
DEB_PACKAGES=(
    "postgresql-$PG_MAJOR"
    "postgresql-client-$PG_MAJOR"
    "postgresql-server-dev-$PG_MAJOR"
    sudo            # cargo pgrx test --runas / cargo pgrx install --sudo call it
    clang           # bindgen (pgrx-pg-sys)
    libclang-dev
    pkg-config
    build-essential # gcc + make + libc headers (pgrx's C shim, cc-based crates, the Makefile)
    python3-minimal # scripts/check-layers.py (the layers suite of make test)
)
# Only needed to compile cargo-pgrx itself (its ureq pulls in openssl-sys).
CARGO_PGRX_BUILD_PACKAGES=(libssl-dev pkg-config)

deb_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

APT_UPDATED=0
apt_install() {
    local log
    log="$(mktemp)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
            cat "$log" >&2; rm -f "$log"; return 1
        fi
        APT_UPDATED=1
    fi
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; return 1
    fi
    rm -f "$log"
}

install_missing_debs() {
    local missing=() p
    for p in "$@"; do
        deb_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0

    if ! is_root && ! command -v sudo >/dev/null 2>&1; then
        echo "error: missing Debian packages (${missing[*]}) and not root, and no sudo to install them" >&2
        exit 1
    fi

    # Installing postgresql-15 would normally create and start a "main" cluster on port 5432.
    # We never use it, so tell postgresql-common not to create it (before the server package goes in).
    if [[ " ${missing[*]} " == *" postgresql-$PG_MAJOR "* ]] && \
       ! ls /etc/postgresql/"$PG_MAJOR"/ >/dev/null 2>&1; then
        if ! deb_installed postgresql-common; then
            say "installing postgresql-common"
            apt_install postgresql-common
        fi
        # createcluster.conf ends with: include_dir '/etc/postgresql-common/createcluster.d'
        say "disabling creation of the default 'main' cluster (/etc/postgresql-common/createcluster.d/50-coreforge-no-main.conf)"
        as_root mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/50-coreforge-no-main.conf >/dev/null
    fi

    say "installing Debian packages: ${missing[*]}"
    apt_install "${missing[@]}"
}

# ---- 1. Debian packages --------------------------------------------------------------------------
install_missing_debs "${DEB_PACKAGES[@]}"
if [ ! -x "$PG_CONFIG" ]; then
    echo "error: $PG_CONFIG not found even though postgresql-server-dev-$PG_MAJOR is installed" >&2
    exit 1
fi

# ---- 2. cargo-pgrx == $PGRX_VERSION --------------------------------------------------------------
ensure_cargo_on_path
# pgrx-pg-sys runs rustfmt on its generated bindings; a "minimal" rustup profile lacks it.
if ! rustfmt --version >/dev/null 2>&1; then
    say "installing the rustfmt component (pgrx-pg-sys needs it)"
    rustup component add rustfmt || { echo "error: rustfmt is missing and could not be installed" >&2; exit 1; }
fi
have="$(cargo pgrx --version 2>/dev/null || true)"
if [ "$have" != "cargo-pgrx $PGRX_VERSION" ]; then
    install_missing_debs "${CARGO_PGRX_BUILD_PACKAGES[@]}"
    say "installing cargo-pgrx $PGRX_VERSION (was: ${have:-none}); this takes a few minutes"
    start=$SECONDS
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --force --quiet
    say "cargo-pgrx $PGRX_VERSION installed in $((SECONDS - start))s"
fi

# Sanity check: the crate and the CLI must be the same pgrx version.
if [ -f "$REPO_ROOT/Cargo.lock" ]; then
    lock_ver="$(awk '/^name = "pgrx"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' "$REPO_ROOT/Cargo.lock")"
    if [ -n "$lock_ver" ] && [ "$lock_ver" != "$PGRX_VERSION" ]; then
        echo "warning: Cargo.lock has pgrx $lock_ver but cargo-pgrx is $PGRX_VERSION; set PGRX_VERSION=$lock_ver" >&2
    fi
fi

# ---- 3. cargo pgrx init --pg15 <Debian pg_config> -------------------------------------------------
pgrx_config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
if ! grep -Eq "^pg${PG_MAJOR} = \"${PG_CONFIG}\"\$" "$pgrx_config" 2>/dev/null; then
    say "running cargo pgrx init --pg${PG_MAJOR} $PG_CONFIG"
    cargo pgrx init "--pg${PG_MAJOR}" "$PG_CONFIG" >/dev/null
fi
