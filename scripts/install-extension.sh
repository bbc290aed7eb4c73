#!/usr/bin/env bash
# Build coreforge_sync (release) and install it into the system PostgreSQL 15
# (/usr/lib/postgresql/15/lib, /usr/share/postgresql/15/extension). Incremental: when nothing
# changed, cargo does no compiling and this takes well under a second.
# As root, pgrx unlinks the old .so before copying (safe for running servers). As non-root, cargo
# builds as you and only the file copies use sudo (`--sudo`); that path rewrites the .so in place,
# so backends of a running server that have the old one loaded may crash: reconnect afterwards.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_cargo_on_path
cd "$REPO_ROOT"

args=(pgrx install --release --pg-config "$PG_CONFIG")
is_root || args+=(--sudo)
cargo "${args[@]}" "$@"

# The install scripts of earlier releases (sql/released/), so that `CREATE EXTENSION coreforge_sync
# VERSION '0.1.0'` works and `ALTER EXTENSION coreforge_sync UPDATE` can be checked from each
# (tests/upgrade.sh). pgrx installs the current version's script and sql/coreforge_sync--A--B.sql.
as_root cp sql/released/coreforge_sync--*.sql "$("$PG_CONFIG" --sharedir)/extension/"
