#!/usr/bin/env bash
# Concurrency: several pgbench clients write all three legacy tables at random (updates, soft
# deletes, undeletes, inserts, deletes, multi-statement transactions, bulk statements) while
# cf_sync_all() runs again and again. Afterwards, with no further backfill, the cf_ tables must
# equal the oracle (tests/pg_regress/fixtures/oracle.sql), cf_validation_report() must be all ok,
# and one more cf_sync_all() must find nothing to write.
#
# Run by scripts/test.sh with PGHOST/PGPORT/PGUSER set for the test cluster.
# CONCURRENCY_SECONDS (default 12) per seed, CONCURRENCY_SEEDS (default "1 2").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_PER_SEED="${CONCURRENCY_SECONDS:-12}"
SEEDS="${CONCURRENCY_SEEDS:-1 2}"
DB=coreforge_concurrency
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
# Crossing cascades can deadlock (the README says when); detect it fast so that the clients
# spend the time writing, not waiting out the default 1 s.
export PGOPTIONS="${PGOPTIONS:-} -c deadlock_timeout=20ms"

for seed in $SEEDS; do
    echo "-- seed $seed: ${SECONDS_PER_SEED}s of writes by 3 clients, cf_sync_all() in a loop"
    dropdb --if-exists "$DB" && createdb "$DB"
    "${PSQL[@]}" -f demo/legacy_schema.sql -f demo/legacy_data.sql >/dev/null
    "${PSQL[@]}" <<'SQL' >/dev/null
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
-- Undeletes are part of the load: give soft-deleted users emails no live user has.
UPDATE users SET email = 'earlier.' || id || '.' || email WHERE deleted_at IS NOT NULL;
SELECT cf_enable_sync();
CREATE TABLE bench_users AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM users;
CREATE TABLE bench_tenants AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM tenants;
CREATE UNIQUE INDEX ON bench_users (n);
CREATE UNIQUE INDEX ON bench_tenants (n);
SQL
    pgbench -n -c 3 -j 3 -T "$SECONDS_PER_SEED" --random-seed="$seed" --max-tries=20 \
        -f tests/concurrency/writes.pgbench "$DB" >"target/concurrency-pgbench-$seed.log" 2>&1 &
    bench=$!
    : >"target/concurrency-backfills-$seed.log"
    backfills=0
    # The first backfill races the writers from an empty CoreForge; later ones find little to do.
    while kill -0 "$bench" 2>/dev/null; do
        if "${PSQL[@]}" -At -c "SELECT string_agg(entity || '=' || (inserted + updated + deleted), ' ') FROM cf_sync_all()" \
            >>"target/concurrency-backfills-$seed.log" 2>&1; then
            backfills=$((backfills + 1))
        fi
        sleep 0.5
    done
    wait "$bench" || { cat "target/concurrency-pgbench-$seed.log"; echo "pgbench failed"; exit 1; }
    grep -E "number of transactions actually processed|number of failed|number of transactions retried" \
        "target/concurrency-pgbench-$seed.log" | sed 's/^/   pgbench: /'
    echo "   backfills completed during the load: $backfills"
    [ "$backfills" -gt 0 ] || { echo "no backfill completed during the load"; exit 1; }

    result=$("${PSQL[@]}" -At <<'SQL'
\set ECHO none
\i tests/pg_regress/fixtures/oracle.sql
SELECT 'differences ' || string_agg(entity || '=' || differences, ' ' ORDER BY entity) FROM pg_temp.invariant();
SELECT 'rows compared ' || (SELECT count(*) FROM cf_users) + (SELECT count(*) FROM cf_organizations) + (SELECT count(*) FROM cf_memberships);
SELECT 'failed checks ' || count(*) FROM cf_validation_report() WHERE status = 'fail';
SELECT 'fail: ' || entity || ' ' || check_name || ' ' || discrepancies FROM cf_validation_report() WHERE status = 'fail';
SELECT 'missing ' || e || ': ' || key || ' (' || reason || ')' FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_missing(e) LIMIT 10;
SELECT 'extra ' || e || ': ' || key || ' (' || reason || ')' FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_extra(e) LIMIT 10;
SELECT 'mismatch ' || e || ': ' || key || ' ' || column_name FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_mismatches(e) LIMIT 10;
SELECT 'rewritten by a final backfill ' || sum(inserted + updated + deleted) FROM cf_sync_all();
SQL
    )
    echo "$result" | sed 's/^/   /'
    # (grep reads a here-string, not a pipe: `echo | grep -q` under pipefail fails at random, when
    # grep has matched and exited before echo wrote its next line, and echo dies of SIGPIPE.)
    grep -q "^differences memberships=0 organizations=0 users=0$" <<<"$result" || { echo "FAIL: cf_ tables differ from the oracle"; exit 1; }
    grep -q "^failed checks 0$" <<<"$result" || { "${PSQL[@]}" -c "SELECT * FROM cf_validation_report() WHERE status = 'fail'"; exit 1; }
    grep -q "^rewritten by a final backfill 0$" <<<"$result" || { echo "FAIL: a final backfill still had work"; exit 1; }
done
dropdb --if-exists "$DB"
echo "concurrency: ok"
