#!/usr/bin/env bash
# A migration carried across a PostgreSQL upgrade: tests/dump_restore.sh with its dump taken
# mid-cutover on 15 (Debian 12's) and restored into 17 (in the Debian 13 root of pg-root.sh), both
# with this build of the extension installed (make install, make install PG=17: .ci/run has done
# both by the time it calls this). The restored migration must carry its whole state and go on
# there: both directions mirror, rollback works, the interrupted batched pass resumes.
#
#   scripts/cross-major.sh        two throwaway clusters, target/cross-15 and target/cross-17
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"
FROM=target/cross-15
TO=target/cross-17
stop() {
    scripts/pg-cluster.sh stop "$FROM" >/dev/null 2>&1 || true
    scripts/pg-root.sh run 17 scripts/pg-cluster.sh stop "$TO" >/dev/null 2>&1 || true
}
trap stop EXIT
scripts/pg-cluster.sh start "$FROM" 54341
scripts/pg-root.sh run 17 scripts/pg-cluster.sh start "$TO" 54342
eval "$(scripts/pg-cluster.sh env "$FROM" 54341)"
# The 17 server's socket directory as the root sees it (pg-cluster.sh may have moved the cluster
# into the root's /tmp), reached from here through the root.
inside="$(scripts/pg-root.sh run 17 scripts/pg-cluster.sh env "$TO" 54342 | sed -n 's/^export PGHOST=//p')"
RESTORE_PGHOST="$(scripts/pg-root.sh dir 17)$inside" RESTORE_PGPORT=54342 bash tests/dump_restore.sh
echo "cross-major: a migration dumped on 15 went on on 17"
