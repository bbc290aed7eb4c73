#!/usr/bin/env bash
# pg_dump of a database in the middle of a migration, restored into a new database: the settings,
# the configuration, the id mappings, the rejects, the phase and its history, and an interrupted
# batched backfill's checkpoint come back (nothing the install script creates collides with the
# dump), and the migration continues there: the triggers of the phase mirror both ways, rollback
# works, and the interrupted pass resumes.
#
# Run by scripts/test.sh with PGHOST/PGPORT/PGUSER set for the test cluster. With RESTORE_PGHOST and
# RESTORE_PGPORT, the dump is restored into that server instead, one of another major with the
# extension installed (scripts/cross-major.sh: a dump taken on 15, the migration continued on 17).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SRC=coreforge_dump_src
DST=coreforge_dump_dst
DUMP=target/coreforge_dump.sql
# on DB CMD...: CMD against the server that holds DB (the restore's, for DST).
on() {
    local db=$1
    shift
    if [ "$db" = "$DST" ] && [ -n "${RESTORE_PGPORT:-}" ]; then
        PGHOST="${RESTORE_PGHOST:-$PGHOST}" PGPORT="$RESTORE_PGPORT" "$@"
    else
        "$@"
    fi
}
q() { on "$1" psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }
fail() { echo "FAIL: $*"; exit 1; }

dropdb --if-exists "$SRC" 2>/dev/null && createdb "$SRC"
on "$DST" dropdb --if-exists "$DST" 2>/dev/null && on "$DST" createdb "$DST"
echo "-- dumped from $(q "$SRC" "SHOW server_version"), restored into $(q "$DST" "SHOW server_version")"
psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -f demo/legacy_schema.sql -f tests/pg_regress/fixtures/crm_schema.sql \
    -f tests/pg_regress/fixtures/crm_data.sql >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_configure('users', '{"table": "crm.accounts",
  "id": {"column": "account_id", "strategy": "random"},
  "soft_delete": {"column": "is_deleted", "kind": "boolean"},
  "columns": {"email": "email_address", "name": "full_name", "avatar_url": "photo_url",
              "password_hash": "pw_digest", "created_at": "signup_at"}}');
SELECT cf_configure('organizations', '{"table": "crm.companies", "id": {"column": "company_id", "strategy": "random"},
  "soft_delete": null, "columns": {"name": "company_name", "slug": "handle", "plan": "tier", "created_at": "created"},
  "values": {"plan": {"basic": "starter", "premium": "pro", "enterprise": "enterprise", "*": "free"}}}');
SELECT cf_configure('memberships', '{"table": "crm.company_users", "user_ref": "account_id", "organization_ref": "company_id",
  "columns": {"role": "access_level", "created_at": "joined_at"},
  "values": {"role": {"superuser": "owner", "manager": "admin", "staff": "member", "*": "reject"}}}');
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();
-- An interrupted batched pass of memberships: started, two batches done, then left.
SELECT coreforge_sync.backfill_start('memberships', 2);
SELECT * FROM coreforge_sync.backfill_batch('memberships');
SELECT * FROM coreforge_sync.backfill_batch('memberships');
SQL
# Mid-migration: cut over (the rejected rows stay in the legacy tables), with a CoreForge-born user.
q "$SRC" "SELECT cf_cutover(force => true, reason => 'dump test')" >/dev/null
q "$SRC" "INSERT INTO cf_users (email, name, created_at) VALUES ('born.before.dump@example.com', 'Born Before Dump', now())" >/dev/null

state() { # the migration's state, as text to compare
    q "$1" "SELECT 'phase ' || cf_phase()"
    q "$1" "SELECT 'history ' || string_agg(action || '>' || to_phase || '/' || coalesce(reason, ''), ', ' ORDER BY at) FROM cf_history()"
    q "$1" "SELECT 'config ' || md5(string_agg(entity || settings::text, '|' ORDER BY entity)) FROM coreforge_sync.entity_config"
    q "$1" "SELECT 'settings ' || string_agg(key || '=' || value, ', ' ORDER BY key) FROM coreforge_sync.settings"
    q "$1" "SELECT 'user mappings ' || count(*) || ' ' || md5(string_agg(old_id || '>' || new_id, ',' ORDER BY old_id)) FROM coreforge_sync.user_id_mapping"
    q "$1" "SELECT 'organization mappings ' || count(*) || ' ' || md5(string_agg(old_id || '>' || new_id, ',' ORDER BY old_id)) FROM coreforge_sync.organization_id_mapping"
    q "$1" "SELECT 'rejects ' || count(*) || ' ' || md5(string_agg(entity || legacy_id || reason, ',' ORDER BY entity, legacy_id)) FROM coreforge_sync.rejects"
    q "$1" "SELECT 'checkpoint ' || string_agg(entity || ' ' || state || ' ' || phase || ' pass ' || pass || ' rows ' || rows_done, ', ' ORDER BY entity) FROM cf_backfill_progress WHERE state <> 'done'"
    q "$1" "SELECT 'cf rows ' || (SELECT count(*) FROM cf_users) || '/' || (SELECT count(*) FROM cf_organizations) || '/' || (SELECT count(*) FROM cf_memberships)"
    q "$1" "SELECT 'triggers ' || count(*) FROM pg_trigger WHERE tgname LIKE 'coreforge_sync%'"
}
state "$SRC" >target/coreforge_dump_src.state
pg_dump -d "$SRC" >"$DUMP"
on "$DST" psql -X -q -v ON_ERROR_STOP=1 -d "$DST" -f "$DUMP" >target/coreforge_dump_restore.log 2>&1 \
    || { cat target/coreforge_dump_restore.log; fail "the restore failed"; }
state "$DST" >target/coreforge_dump_dst.state
sed 's/^/   /' target/coreforge_dump_dst.state
diff target/coreforge_dump_src.state target/coreforge_dump_dst.state || fail "the restored state differs"
echo "-- restored: the same phase, history, configuration, settings, mappings, rejects and checkpoint"

# The migration continues in the restored database: both directions mirror...
q "$DST" "UPDATE cf_users SET name = 'Renamed After Restore' WHERE email = 'born.before.dump@example.com'" >/dev/null
[ "$(q "$DST" "SELECT full_name FROM crm.accounts WHERE email_address = 'born.before.dump@example.com'")" = "Renamed After Restore" ] \
    || fail "a CoreForge write was not mirrored back after the restore"
q "$DST" "UPDATE crm.accounts SET full_name = 'Amara (restored)' WHERE account_id = 1" >/dev/null
[ "$(q "$DST" "SELECT name FROM cf_users WHERE email = 'amara.okafor@example.com'")" = "Amara (restored)" ] \
    || fail "a legacy write was not mirrored forward after the restore"
q "$DST" "INSERT INTO cf_users (email, name, created_at) VALUES ('born.after.restore@example.com', 'Born After Restore', now())" >/dev/null
[ "$(q "$DST" "SELECT count(*) FROM crm.accounts a JOIN coreforge_sync.user_id_mapping m ON m.old_id = a.account_id JOIN cf_users c ON c.id = m.new_id WHERE c.email = 'born.after.restore@example.com'")" = 1 ] \
    || fail "a user born after the restore has no legacy row and mapping"
echo "-- after the restore, CoreForge writes are mirrored back (new ids from the restored sequences and mappings), legacy writes forward"
# ...rollback works, and the interrupted pass resumes where it stopped.
q "$DST" "SELECT cf_rollback()" | sed 's/^/   /'
on "$DST" psql -X -q -v ON_ERROR_STOP=1 -d "$DST" -c "CALL cf_backfill('memberships', 2)" 2>&1 | sed 's/^/   /'
resumed=$(q "$DST" "SELECT state || ' pass ' || pass FROM cf_backfill_progress WHERE entity = 'memberships'")
[ "$resumed" = "done pass $(q "$SRC" "SELECT pass FROM cf_backfill_progress WHERE entity = 'memberships'")" ] \
    || fail "the interrupted pass did not resume (got: $resumed)"
fails=$(q "$DST" "SELECT string_agg(entity || '.' || check_name, ', ') FROM cf_validation_report() WHERE status = 'fail' AND check_name <> 'rejected'")
[ -z "$fails" ] || fail "validation after the restore: $fails"
echo "-- rolled back and resumed the interrupted pass in the restored database; the validation is clean (rejects aside)"
dropdb "$SRC"; on "$DST" dropdb "$DST"
