#!/usr/bin/env bash
# ALTER EXTENSION coreforge_sync UPDATE from every earlier release (the install scripts kept in
# sql/released/) gives the same objects as a fresh install of the current version, object by
# object: every member of the extension with its full definition (functions with their arguments,
# settings such as search_path, SECURITY DEFINER and privileges; tables with their columns,
# defaults, constraints, indexes and privileges; views), the tables pg_dump dumps, and whether the
# schema coreforge_sync is a member. An updated install also keeps the rows of the earlier one.
#
# Run by scripts/test.sh with PGHOST/PGPORT/PGUSER set for the test cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }
fail() { echo "FAIL: $*"; exit 1; }

# Every object of the extension, one line each: what it is, and its whole definition.
describe() {
    psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" <<'SQL'
WITH members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
     WHERE d.refclassid = 'pg_extension'::regclass AND x.extname = 'coreforge_sync' AND d.deptype = 'e')
SELECT pg_describe_object(m.classid, m.objid, m.objsubid) || ' => ' || CASE
    WHEN m.classid = 'pg_proc'::regclass THEN
        (SELECT pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, 'default') FROM pg_proc p WHERE p.oid = m.objid)
    WHEN m.classid = 'pg_class'::regclass THEN
        (SELECT c.relkind::text || ' acl=' || coalesce(c.relacl::text, 'default')
            || ' columns: ' || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                   || coalesce(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), '')
                   || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END, ', ' ORDER BY a.attnum)
                 FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
            || coalesce(' constraints: ' || (SELECT string_agg(co.conname || ' ' || pg_get_constraintdef(co.oid), '; ' ORDER BY co.conname)
                 FROM pg_constraint co WHERE co.conrelid = c.oid), '')
            || coalesce(' indexes: ' || (SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY 1)
                 FROM pg_index i WHERE i.indrelid = c.oid), '')
            || CASE WHEN c.relkind = 'v' THEN ' view: ' || pg_get_viewdef(c.oid) ELSE '' END
            || coalesce(' comment: ' || obj_description(c.oid, 'pg_class'), '')
         FROM pg_class c WHERE c.oid = m.objid)
    ELSE '' END
  FROM members m
UNION ALL
SELECT 'dumped by pg_dump: ' || coalesce((SELECT string_agg(c::regclass::text, ', ' ORDER BY c::regclass::text)
         FROM pg_extension x, unnest(x.extconfig) c WHERE x.extname = 'coreforge_sync'), '')
UNION ALL
SELECT 'schema coreforge_sync is a member: ' || EXISTS (SELECT 1 FROM pg_depend d JOIN pg_namespace n ON n.oid = d.objid
         WHERE d.classid = 'pg_namespace'::regclass AND n.nspname = 'coreforge_sync' AND d.deptype = 'e')
UNION ALL
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'coreforge_sync'
ORDER BY 1;
SQL
}

current=$(q postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'coreforge_sync'")
dropdb --if-exists coreforge_upgrade_fresh 2>/dev/null
createdb coreforge_upgrade_fresh
q coreforge_upgrade_fresh "SET client_min_messages = warning; CREATE EXTENSION coreforge_sync" >/dev/null
describe coreforge_upgrade_fresh >target/upgrade-fresh.txt
objects=$(grep -cE '^(function|procedure|table|sequence|view|type|operator) ' target/upgrade-fresh.txt)

released=$(ls sql/released/ | sed -n 's/^coreforge_sync--\(.*\)\.sql$/\1/p' | sort -V)
[ -n "$released" ] || { echo "no earlier release in sql/released"; exit 77; }
for v in $released; do
    db=coreforge_upgrade_from_$(echo "$v" | tr . _)
    dropdb --if-exists "$db" 2>/dev/null
    createdb "$db"
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f demo/legacy_schema.sql -f tests/pg_regress/fixtures/crm_schema.sql >/dev/null
    # The earlier release in use: configured, synced, with state in its tables.
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION coreforge_sync VERSION '$v';
SELECT cf_create_tables();
INSERT INTO users (email, name) VALUES ('before.update@example.com', 'Before Update'), ('dirty@example.com', '');
SELECT cf_enable_sync();
SELECT count(*) FROM cf_sync_all();
SQL
    # Its triggers as that release's library made them (this build's library made them just now):
    # before 0.4.0, statement triggers only, TRUNCATE's firing in ordinary sessions (the 0.4.0
    # update adds the rest).
    if [ "$(printf '%s\n' "$v" 0.4.0 | sort -V | head -1)" != 0.4.0 ]; then
        psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tgrelid::regclass AS tab, tgname FROM pg_trigger WHERE tgname LIKE 'coreforge_sync%' LOOP
        IF t.tgname LIKE '%replica' THEN
            EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tab);
        ELSIF t.tgname LIKE '%truncate' THEN
            EXECUTE format('ALTER TABLE %s ENABLE TRIGGER %I', t.tab, t.tgname);
        END IF;
    END LOOP;
END $$;
SQL
    fi
    before=$(q "$db" "SELECT (SELECT count(*) FROM cf_users) || ' cf_users, ' || (SELECT count(*) FROM coreforge_sync.rejects) || ' rejects, ' || (SELECT count(*) FROM coreforge_sync.sync_runs) || ' runs'")
    q "$db" "ALTER EXTENSION coreforge_sync UPDATE" >/dev/null
    describe "$db" >"target/upgrade-from-$v.txt"
    if ! diff target/upgrade-fresh.txt "target/upgrade-from-$v.txt" >"target/upgrade-from-$v.diff"; then
        cat "target/upgrade-from-$v.diff"
        fail "$v updated to $current differs from a fresh $current install"
    fi
    after=$(q "$db" "SELECT (SELECT count(*) FROM cf_users) || ' cf_users, ' || (SELECT count(*) FROM coreforge_sync.rejects) || ' rejects, ' || (SELECT count(*) FROM coreforge_sync.sync_runs) || ' runs'")
    [ "$before" = "$after" ] || fail "the update lost state: before $before, after $after"
    # The updated install works on: a write is mirrored, and the new version's functions run.
    q "$db" "UPDATE users SET name = 'After Update' WHERE email = 'before.update@example.com'" >/dev/null
    [ "$(q "$db" "SELECT name FROM cf_users WHERE email = 'before.update@example.com'")" = "After Update" ] \
        || fail "a write after the update was not mirrored"
    [ "$(q "$db" "SELECT cf_phase()")" = side_by_side ] || fail "cf_phase() after the update"
    # Sync stays on through the update, and now also mirrors a write made the way logical
    # replication's apply worker makes it.
    [ "$(q "$db" "SELECT bool_and(sync_enabled) FROM cf_status()")" = t ] || fail "sync is off after the update"
    q "$db" "SET session_replication_role = replica; UPDATE users SET name = 'Replicated' WHERE email = 'before.update@example.com'" >/dev/null
    [ "$(q "$db" "SELECT name FROM cf_users WHERE email = 'before.update@example.com'")" = "Replicated" ] \
        || fail "a replica-session write after the update was not mirrored"
    echo "-- $v -> $current: $objects objects identical to a fresh install; state kept ($after); sync works"
    dropdb "$db"
done
dropdb coreforge_upgrade_fresh
