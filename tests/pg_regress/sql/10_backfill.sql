-- The batched backfill: CALL cf_backfill(entity, batch_size, pause_ms) walks each legacy table by
-- its key in committed batches, checkpointing every batch, so that a cancelled, terminated or
-- crashed run resumes where it stopped. (The terminate and crash cases are tests/backfill_resume.sh.)
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();

-- All three entities in order, two rows per batch; one NOTICE per finished pass.
CALL cf_backfill(NULL, 2);
SELECT entity, state, phase, pass, rows_done, estimated_total, percent_done, inserted, updated, deleted,
       rejected, batches, batch_size, retries, pid
  FROM cf_backfill_progress;
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
SELECT * FROM pg_temp.invariant();
-- Recorded like the cf_sync_* runs.
SELECT entity, inserted, updated, deleted, rejected FROM coreforge_sync.sync_runs ORDER BY id;

-- A second pass finds nothing to write; it removes what has no live legacy row and repairs drift.
SELECT cf_disable_sync();
UPDATE users SET name = 'Ada, while sync was off' WHERE email = 'ada@example.com';
DELETE FROM tenant_members WHERE role = 'admin';
SELECT cf_enable_sync();
CALL cf_backfill(NULL, 3);
SELECT entity, pass, rows_done, inserted, updated, deleted FROM cf_backfill_progress;
SELECT * FROM pg_temp.invariant();

-- Resume: a pass interrupted after its first batch (here by running the batches by hand, as
-- CALL does, and stopping) continues from its checkpoint; no row is covered twice. (The view says
-- running: the pass belongs to this very session, which is busy running the query.)
TRUNCATE cf_memberships, cf_organizations, cf_users;
SELECT coreforge_sync.backfill_start('users', 2);
SELECT finished, batch_rows FROM coreforge_sync.backfill_batch('users');
SELECT entity, state, phase, pass, rows_done, inserted, batches FROM cf_backfill_progress WHERE entity = 'users';
SELECT count(*) AS users_so_far FROM cf_users;
CALL cf_backfill('users', 2);
SELECT entity, state, pass, rows_done, inserted, batches FROM cf_backfill_progress WHERE entity = 'users';
SELECT count(*) AS users_in_coreforge FROM cf_users;

-- cf_backfill_reset forgets an interrupted pass: the next call starts from the beginning.
SELECT coreforge_sync.backfill_start('organizations', 1);
SELECT finished, batch_rows FROM coreforge_sync.backfill_batch('organizations');
SELECT cf_backfill_reset('organizations');
SELECT cf_backfill_reset();
CALL cf_backfill('organizations');
SELECT entity, pass, rows_done, inserted FROM cf_backfill_progress WHERE entity = 'organizations';
CALL cf_backfill('memberships', 1000);
SELECT * FROM pg_temp.invariant();

-- Bad arguments, and the order of entities.
CALL cf_backfill('users', 0);
CALL cf_backfill('users', -5);
CALL cf_backfill('users', 2000000);
CALL cf_backfill('users', NULL);
CALL cf_backfill('users', 10, -1);
CALL cf_backfill('accounts');
SELECT cf_backfill_reset('accounts');
SELECT cf_disable_sync();
SELECT cf_enable_sync();
CALL cf_backfill('memberships');
-- A procedure that commits cannot run inside a transaction block.
BEGIN;
CALL cf_backfill('users');
ROLLBACK;

-- A configured schema: integer keys, and a membership key whose unique index is
-- (account_id, company_id); the walk follows the index. With sync on, a configuration cannot be
-- changed one entity at a time when the entities would not fit together meanwhile.
\set ECHO none
\i fixtures/crm_schema.sql
\i fixtures/crm_data.sql
\set ECHO all
SELECT cf_configure('users', '{"table": "crm.accounts",
  "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": {"column": "is_deleted", "kind": "boolean"},
  "columns": {"email": "email_address", "name": "full_name", "created_at": "signup_at"}}') ->> 'table';
SELECT cf_disable_sync();
SELECT cf_configure('users', '{"table": "crm.accounts",
  "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": {"column": "is_deleted", "kind": "boolean"},
  "columns": {"email": "email_address", "name": "full_name", "created_at": "signup_at"}}') ->> 'table';
SELECT cf_configure('organizations', '{"table": "crm.companies", "id": {"column": "company_id", "strategy": "random"},
  "soft_delete": null, "columns": {"name": "company_name", "slug": "handle", "created_at": "created"}}') ->> 'table';
SELECT cf_configure('memberships', '{"table": "crm.company_users", "user_ref": "account_id", "organization_ref": "company_id",
  "columns": {"role": "access_level", "created_at": "joined_at"}}') ->> 'table';
SELECT cf_enable_sync();
TRUNCATE cf_memberships, cf_organizations, cf_users;
CALL cf_backfill(NULL, 4);
SELECT entity, state, pass, rows_done, inserted, deleted, rejected, batches FROM cf_backfill_progress;
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
SELECT * FROM cf_sync_all();
