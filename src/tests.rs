//! pgrx tests, run inside PostgreSQL by `cargo pgrx test`. The psql-level behaviour is pinned by
//! the pg_regress suites in tests/pg_regress; these tests hammer the invariant with long random
//! sequences of writes, checked against an independent oracle (tests/pg_regress/fixtures/oracle.sql).

#[pgrx::pg_schema]
pub(crate) mod tests {
    use pgrx::prelude::*;

    pub const LEGACY_SCHEMA: &str = include_str!("../demo/legacy_schema.sql");
    const ORACLE: &str = include_str!("../tests/pg_regress/fixtures/oracle.sql");
    pub const CRM_SCHEMA: &str = include_str!("../tests/pg_regress/fixtures/crm_schema.sql");
    pub const CRM_DATA: &str = include_str!("../tests/pg_regress/fixtures/crm_data.sql");
    const CRM_ORACLE: &str = include_str!("../tests/pg_regress/fixtures/crm_oracle.sql");

    /// Runs a psql script's SQL (its backslash commands and transaction control dropped).
    pub fn run_script(script: &str) {
        let sql: String = script
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                !l.starts_with('\\') && l != "BEGIN;" && l != "COMMIT;"
            })
            .collect::<Vec<_>>()
            .join("\n");
        Spi::run(&sql).unwrap();
    }

    fn setup() {
        Spi::run("DROP TABLE IF EXISTS cf_memberships, cf_organizations, cf_users CASCADE").unwrap();
        run_script(LEGACY_SCHEMA);
        Spi::run("SELECT cf_create_tables()").unwrap();
        run_script(ORACLE);
    }

    /// The number of differences between the cf_ tables and the oracle, per entity.
    fn differences() -> Vec<(String, i64)> {
        Spi::connect(|c| {
            c.select("SELECT entity, differences FROM pg_temp.invariant()", None, &[])
                .unwrap()
                .map(|r| (r.get::<String>(1).unwrap().unwrap(), r.get::<i64>(2).unwrap().unwrap()))
                .collect()
        })
    }

    /// Memberships that differ from the oracle's, compared without their ids.
    fn membership_pair_differences() -> i64 {
        count(
            "SELECT count(*) FROM ( \
               (SELECT user_id, organization_id, role, created_at FROM expected_memberships \
                EXCEPT SELECT user_id, organization_id, role, created_at FROM cf_memberships) \
               UNION ALL \
               (SELECT user_id, organization_id, role, created_at FROM cf_memberships \
                EXCEPT SELECT user_id, organization_id, role, created_at FROM expected_memberships)) d",
        )
    }

    fn assert_invariant(context: &str) {
        for (entity, n) in differences() {
            assert_eq!(n, 0, "{entity}: {n} rows differ from the oracle after {context}");
        }
    }

    fn count(sql: &str) -> i64 {
        Spi::get_one::<i64>(sql).unwrap().unwrap()
    }

    /// A small deterministic generator (64-bit LCG), so that every run is the same.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn user_id(n: u64) -> String {
        format!("a0000000-0000-0000-0000-{n:012}")
    }
    fn tenant_id(n: u64) -> String {
        format!("b0000000-0000-0000-0000-{n:012}")
    }
    fn optional(rng: &mut Rng, value: &str) -> String {
        match rng.below(3) {
            0 => "NULL".into(),
            1 => "''".into(),
            _ => format!("'{value}'"),
        }
    }

    /// One random legacy write: inserts, updates of mapped and unmapped columns, soft deletes,
    /// undeletes, hard deletes and multi-row statements across the three tables.
    fn random_write(rng: &mut Rng, serial: &mut u64) -> String {
        let users = 40;
        let tenants = 8;
        let u = rng.below(users) + 1;
        let t = rng.below(tenants) + 1;
        match rng.below(16) {
            0 | 1 => {
                *serial += 1;
                let avatar = optional(rng, "https://img.example/x.png");
                format!(
                    "INSERT INTO users (id, email, name, avatar_url, created_at) VALUES ('{}', 'u{serial}@example.com', 'Zoë {serial}', {avatar}, now()) ON CONFLICT (id) DO NOTHING",
                    user_id(u)
                )
            }
            2 => format!("UPDATE users SET deleted_at = now() WHERE id = '{}'", user_id(u)),
            3 => format!("UPDATE users SET deleted_at = NULL WHERE id = '{}'", user_id(u)),
            4 => {
                let avatar = optional(rng, "https://img.example/y.png");
                format!("UPDATE users SET name = name || '·', avatar_url = {avatar} WHERE id = '{}'", user_id(u))
            }
            5 => format!("UPDATE users SET updated_at = now() WHERE id = '{}'", user_id(u)),
            6 => format!(
                "DELETE FROM tenant_members WHERE user_id = '{0}'; DELETE FROM users WHERE id = '{0}'",
                user_id(u)
            ),
            7 => {
                *serial += 1;
                format!(
                    "INSERT INTO tenants (id, name, slug, settings, plan, created_at) VALUES ('{}', 'Org {serial}', 'org-{serial}', '{{\"n\": {serial}}}', '{}', now()) ON CONFLICT DO NOTHING",
                    tenant_id(t),
                    ["free", "pro", "", "enterprise"][rng.below(4) as usize]
                )
            }
            8 => format!("UPDATE tenants SET deleted_at = now() WHERE id = '{}'", tenant_id(t)),
            9 => format!("UPDATE tenants SET deleted_at = NULL, plan = 'starter' WHERE id = '{}'", tenant_id(t)),
            10 | 11 => format!(
                "INSERT INTO tenant_members (user_id, tenant_id, role, created_at) SELECT '{}', '{}', 'member', now() \
                 WHERE EXISTS (SELECT 1 FROM users WHERE id = '{0}') AND EXISTS (SELECT 1 FROM tenants WHERE id = '{1}') \
                 ON CONFLICT DO NOTHING",
                user_id(u),
                tenant_id(t)
            ),
            12 => format!("UPDATE tenant_members SET role = 'admin' WHERE tenant_id = '{}'", tenant_id(t)),
            13 => format!("DELETE FROM tenant_members WHERE user_id = '{}'", user_id(u)),
            14 => format!(
                "UPDATE users SET deleted_at = CASE WHEN deleted_at IS NULL THEN now() END WHERE substr(id::text, 36, 1) = '{}'",
                rng.below(10)
            ),
            _ => format!(
                "UPDATE tenant_members SET created_at = created_at + interval '1 second' WHERE user_id IN \
                 (SELECT id FROM users WHERE substr(id::text, 36, 1) = '{}')",
                rng.below(10)
            ),
        }
    }

    fn random_run(seed: u64, writes: usize, check_every: usize) -> u64 {
        let mut rng = Rng(seed);
        let mut serial = seed * 100_000;
        for i in 1..=writes {
            let sql = random_write(&mut rng, &mut serial);
            Spi::run(&sql).unwrap_or_else(|e| panic!("seed {seed}, write {i}: {sql}: {e}"));
            if i % check_every == 0 {
                assert_invariant(&format!("seed {seed}, write {i}: {sql}"));
            }
        }
        serial
    }

    /// With sync on, after any sequence of writes, the cf_ tables hold exactly what a full
    /// backfill of the legacy tables would produce. Several seeds, from before the first backfill
    /// (mirrored writes whose user or organization is not in CoreForge yet wait for it) on.
    #[pg_test]
    fn random_writes_keep_the_invariant() {
        setup();
        Spi::run("SELECT cf_enable_sync()").unwrap();
        // Writes before the first backfill are never an error; the backfill completes them.
        random_run(7, 150, 1000);
        Spi::run("SELECT * FROM cf_sync_all()").unwrap();
        assert_invariant("the first backfill");
        for seed in [1, 2, 3, 42] {
            random_run(seed, 400, 10);
            assert_invariant(&format!("seed {seed}"));
        }
        assert!(count("SELECT count(*) FROM cf_memberships") > 0, "the run made memberships");
        // TRUNCATE is mirrored: everything goes, in foreign-key order.
        Spi::run("TRUNCATE users, tenants, tenant_members").unwrap();
        assert_invariant("TRUNCATE");
        assert_eq!(count("SELECT count(*) FROM cf_users"), 0);
    }

    /// With sync off the cf_ tables drift; sync on plus one backfill brings them back exactly,
    /// and a second backfill writes nothing.
    #[pg_test]
    fn backfill_repairs_any_drift() {
        setup();
        Spi::run("SELECT cf_enable_sync()").unwrap();
        random_run(11, 300, 1000);
        Spi::run("SELECT * FROM cf_sync_all()").unwrap();
        Spi::run("SELECT cf_disable_sync()").unwrap();
        random_run(12, 300, 1000);
        Spi::run("SELECT cf_enable_sync()").unwrap();
        Spi::run("SELECT * FROM cf_sync_all()").unwrap();
        assert_invariant("the backfill after drift");
        let again = count("SELECT sum(inserted + updated + deleted)::bigint FROM cf_sync_all()");
        assert_eq!(again, 0, "a second backfill over unchanged data writes nothing");
        let fails = count("SELECT count(*) FROM cf_validation_report() WHERE status = 'fail'");
        assert_eq!(fails, 0);
    }

    /// The validation counts exactly the rows changed by hand.
    #[pg_test]
    fn validation_counts_hand_edits() {
        setup();
        Spi::run("SELECT cf_enable_sync()").unwrap();
        random_run(5, 200, 1000);
        Spi::run("SELECT * FROM cf_sync_all()").unwrap();
        let edited = Spi::get_one::<i64>(
            "WITH e AS (UPDATE cf_users SET name = name || ' (edited)' WHERE id IN \
             (SELECT id FROM cf_users ORDER BY id LIMIT 3) RETURNING 1) SELECT count(*) FROM e",
        )
        .unwrap()
        .unwrap();
        let reported = count(
            "SELECT discrepancies FROM cf_validation_report() WHERE entity = 'users' AND check_name = 'mismatched'",
        );
        assert_eq!(reported, edited);
        let listed = count("SELECT count(*) FROM cf_mismatches('users')");
        assert_eq!(listed, edited);
    }

    #[pg_test]
    fn uuid_v5_is_rfc4122() {
        // Python: uuid.uuid5(uuid.NAMESPACE_URL, 'http://www.postgresql.org')
        let got = Spi::get_one::<String>(
            "SELECT coreforge_sync.uuid_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'http://www.postgresql.org')::text",
        )
        .unwrap()
        .unwrap();
        assert_eq!(got, "e1ee1ad4-cd4e-5889-962a-4f605a68d94e");
    }

    #[pg_test(
        error = "coreforge_sync: cannot mirror users row id=a0000000-0000-0000-0000-000000000001: email is NULL or empty"
    )]
    fn unmirrorable_write_fails_naming_the_row_when_raising() {
        setup();
        Spi::run("SELECT cf_enable_sync()").unwrap();
        Spi::run("SET LOCAL coreforge_sync.on_error = 'raise'").unwrap();
        Spi::run(
            "INSERT INTO users (id, email, name) VALUES ('a0000000-0000-0000-0000-000000000001', '', 'Nobody')",
        )
        .unwrap();
    }

    /// The crm schema of tests/pg_regress (integer ids, other names, a boolean soft delete, value
    /// maps, dirty rows), configured as in 06_configure. crm_oracle.sql restates this configuration
    /// (names, value maps, the default password policy) by hand: change both together.
    fn setup_crm() {
        setup();
        run_script(CRM_SCHEMA);
        run_script(CRM_DATA);
        run_script(CRM_ORACLE);
        Spi::run(
            r#"SELECT cf_configure('users', '{"table": "crm.accounts",
                 "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
                 "soft_delete": {"column": "is_deleted", "kind": "boolean"},
                 "columns": {"email": "email_address", "name": "full_name", "avatar_url": "photo_url",
                             "password_hash": "pw_digest", "created_at": "signup_at"}}');
               SELECT cf_configure('organizations', '{"table": "crm.companies",
                 "id": {"column": "company_id", "strategy": "random"}, "soft_delete": null,
                 "columns": {"name": "company_name", "slug": "handle", "plan": "tier", "created_at": "created"},
                 "values": {"plan": {"basic": "starter", "premium": "pro", "enterprise": "enterprise", "*": "free"}}}');
               SELECT cf_configure('memberships', '{"table": "crm.company_users",
                 "user_ref": "account_id", "organization_ref": "company_id",
                 "columns": {"role": "access_level", "created_at": "joined_at"},
                 "values": {"role": {"superuser": "owner", "manager": "admin", "staff": "member", "*": "reject"}}}')"#,
        )
        .unwrap();
    }

    fn assert_crm_invariant(context: &str) {
        let broken: Vec<(String, i64)> = Spi::connect(|c| {
            c.select(
                "SELECT check_name, violations FROM pg_temp.crm_invariant() WHERE violations > 0",
                None,
                &[],
            )
            .unwrap()
            .map(|r| (r.get::<String>(1).unwrap().unwrap(), r.get::<i64>(2).unwrap().unwrap()))
            .collect()
        });
        assert!(broken.is_empty(), "after {context}: {broken:?}");
    }

    /// One random write on the crm tables, dirty values included: empty and overlong names,
    /// emails shared by several accounts, unknown tiers and access levels, invalid handles.
    fn random_crm_write(rng: &mut Rng, serial: &mut u64) -> String {
        let a = rng.below(30) + 1;
        let c = rng.below(12) + 1;
        let email = format!("'person{}@example.com'", rng.below(20));
        let name = ["'Ann'", "'Bob'", "''", "NULL", "repeat('n', 300)", "'Cy Young'"][rng.below(6) as usize];
        let pw = ["'$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA'", "md5('x')", "''", "NULL"]
            [rng.below(4) as usize];
        let handle =
            ["'acme'", "'globex'", "'Bad Handle'", "'ab'", "'initech'", "'umbrella'"][rng.below(6) as usize];
        let tier = ["'basic'", "'premium'", "'enterprise'", "'gold'", "NULL"][rng.below(5) as usize];
        let level = ["'superuser'", "'manager'", "'staff'", "'intern'", "''"][rng.below(5) as usize];
        match rng.below(16) {
            0 | 1 => {
                *serial += 1;
                format!(
                    "INSERT INTO crm.accounts (account_id, email_address, full_name, pw_digest, signup_at) \
                     VALUES ({a}, {email}, {name}, {pw}, '2024-01-01'::timestamptz + {serial} * interval '1 minute') \
                     ON CONFLICT DO NOTHING"
                )
            }
            2 => format!("UPDATE crm.accounts SET is_deleted = true WHERE account_id = {a}"),
            3 => format!("UPDATE crm.accounts SET is_deleted = false WHERE account_id = {a}"),
            4 => format!("UPDATE crm.accounts SET email_address = {email} WHERE account_id = {a}"),
            5 => {
                format!("UPDATE crm.accounts SET full_name = {name}, pw_digest = {pw} WHERE account_id = {a}")
            }
            6 => format!("DELETE FROM crm.accounts WHERE account_id = {a}"),
            7 => {
                *serial += 1;
                format!(
                    "INSERT INTO crm.companies (company_id, company_name, handle, tier, created) \
                     VALUES ({c}, 'Company {serial}', {handle}, {tier}, now()) ON CONFLICT DO NOTHING"
                )
            }
            8 => format!("DELETE FROM crm.companies WHERE company_id = {c}"),
            9 => format!("UPDATE crm.companies SET handle = {handle}, tier = {tier} WHERE company_id = {c}"),
            10 | 11 => format!(
                "INSERT INTO crm.company_users SELECT {a}, {c}, {level}, now() \
                 WHERE EXISTS (SELECT 1 FROM crm.accounts WHERE account_id = {a}) \
                   AND EXISTS (SELECT 1 FROM crm.companies WHERE company_id = {c}) ON CONFLICT DO NOTHING"
            ),
            12 => format!("UPDATE crm.company_users SET access_level = {level} WHERE company_id = {c}"),
            13 => format!("DELETE FROM crm.company_users WHERE account_id = {a}"),
            14 => format!(
                "UPDATE crm.accounts SET is_deleted = NOT is_deleted WHERE account_id % 5 = {}",
                rng.below(5)
            ),
            _ => format!(
                "UPDATE crm.accounts SET full_name = 'Fixed ' || account_id, \
                 email_address = 'fixed' || account_id || '@example.com' WHERE account_id % 7 = {}",
                rng.below(7)
            ),
        }
    }

    /// The invariant on a schema unlike the guide's: with sync on, after any sequence of writes,
    /// every live legacy row is in CoreForge as the configuration says or rejected with its
    /// reason, CoreForge holds nothing else, and a full backfill afterwards changes nothing.
    /// The oracle (crm_oracle.sql) decides by itself, from the crm tables and the rules, which rows
    /// are valid and why the others are not: a valid row the extension rejects is a violation, as is
    /// a reject with another reason. Duplicate emails and slugs are checked in the form the history
    /// allows (a row goes through unless another cf_ row holds its value; see the fixture's header).
    #[pg_test]
    fn random_writes_keep_the_invariant_on_a_configured_schema() {
        setup_crm();
        Spi::run("SELECT cf_enable_sync()").unwrap();
        Spi::run("SELECT * FROM cf_sync_all()").unwrap();
        assert_crm_invariant("the first backfill");
        let (mut most_memberships, mut most_rejects) = (0, 0);
        for seed in [3, 8, 13, 21] {
            let mut rng = Rng(seed);
            let mut serial = seed * 100_000;
            for i in 1..=300 {
                let sql = random_crm_write(&mut rng, &mut serial);
                Spi::run(&sql).unwrap_or_else(|e| panic!("seed {seed}, write {i}: {sql}: {e}"));
                if i % 10 == 0 {
                    assert_crm_invariant(&format!("seed {seed}, write {i}: {sql}"));
                    most_memberships = most_memberships.max(count("SELECT count(*) FROM cf_memberships"));
                    most_rejects = most_rejects.max(count("SELECT count(*) FROM coreforge_sync.rejects"));
                }
            }
            let written = count("SELECT sum(inserted + updated + deleted)::bigint FROM cf_sync_all()");
            assert_eq!(written, 0, "seed {seed}: a backfill after the writes changed {written} rows");
        }
        assert!(most_rejects > 0, "the run made rejects");
        assert!(most_memberships > 0, "the run made memberships");
    }

    /// The checks of cf_validation_report() that fail, as `entity.check=n`, and the rows behind them.
    fn failing_checks() -> Vec<String> {
        Spi::connect(|c| {
            c.select(
                "SELECT entity || '.' || check_name || '=' || discrepancies FROM cf_validation_report() \
                 WHERE status = 'fail' \
                 UNION ALL SELECT 'missing ' || e || ': ' || key || ' ' || reason \
                   FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_missing(e) \
                 UNION ALL SELECT 'extra ' || e || ': ' || key FROM unnest(ARRAY['users', 'organizations', 'memberships']) e, cf_extra(e)",
                None,
                &[],
            )
            .unwrap()
            .map(|r| r.get::<String>(1).unwrap().unwrap())
            .collect()
        })
    }

    fn cf_user_id(n: u64) -> String {
        format!("c0000000-0000-0000-0000-{n:012}")
    }
    fn cf_org_id(n: u64) -> String {
        format!("d0000000-0000-0000-0000-{n:012}")
    }

    /// One random write of the new application, to the cf_ tables: signups, renames, deletions
    /// (memberships first: CoreForge's foreign keys), organizations, joins, role changes. Rows
    /// born in CoreForge have ids of their own (c..., d...); updates and deletes reach any row.
    fn random_cf_write(rng: &mut Rng, serial: &mut u64) -> String {
        let any_user =
            if rng.below(2) == 0 { user_id(rng.below(40) + 1) } else { cf_user_id(rng.below(20) + 1) };
        let any_org =
            if rng.below(2) == 0 { tenant_id(rng.below(8) + 1) } else { cf_org_id(rng.below(5) + 1) };
        match rng.below(10) {
            0 | 1 => {
                *serial += 1;
                format!(
                    "INSERT INTO cf_users (id, email, name, avatar_url) VALUES ('{}', 'c{serial}@example.com', 'Cy {serial}', {}) ON CONFLICT DO NOTHING",
                    cf_user_id(rng.below(20) + 1),
                    optional(rng, "https://img.example/c.png").replace("''", "NULL")
                )
            }
            2 => format!("UPDATE cf_users SET name = name || '+', updated_at = now() WHERE id = '{any_user}'"),
            3 => format!(
                "DELETE FROM cf_memberships WHERE user_id = '{any_user}'; DELETE FROM cf_users WHERE id = '{any_user}'"
            ),
            4 => {
                *serial += 1;
                format!(
                    "INSERT INTO cf_organizations (id, name, slug, plan) VALUES ('{}', 'CF Org {serial}', 'cf-org-{serial}', '{}') ON CONFLICT DO NOTHING",
                    cf_org_id(rng.below(5) + 1),
                    ["free", "starter", "pro", "enterprise"][rng.below(4) as usize]
                )
            }
            5 => format!("UPDATE cf_organizations SET plan = 'pro', name = name || '+' WHERE id = '{any_org}'"),
            6 => format!(
                "DELETE FROM cf_memberships WHERE organization_id = '{any_org}'; DELETE FROM cf_organizations WHERE id = '{any_org}'"
            ),
            7 | 8 => format!(
                "INSERT INTO cf_memberships (user_id, organization_id, role) SELECT u.id, o.id, 'member' \
                 FROM cf_users u, cf_organizations o WHERE u.id = '{any_user}' AND o.id = '{any_org}' ON CONFLICT DO NOTHING"
            ),
            _ => format!("UPDATE cf_memberships SET role = 'owner' WHERE organization_id = '{any_org}'"),
        }
    }

    /// Cutover with both applications writing: after any mix of legacy and CoreForge writes, both
    /// sides agree (the validation is clean; users and organizations also match the oracle), the
    /// reverse backfill has nothing to do, and after a rollback neither has the forward one.
    #[pg_test]
    fn random_writes_on_both_sides_during_cutover() {
        setup();
        Spi::run("SELECT cf_enable_sync()").unwrap();
        random_run(17, 200, 1000);
        Spi::run("SELECT * FROM cf_sync_all()").unwrap();
        Spi::run("SELECT cf_cutover()").unwrap();
        let mut cf_born = 0;
        for seed in [4, 9, 16, 25] {
            let mut rng = Rng(seed);
            let mut serial = seed * 100_000;
            for i in 1..=300 {
                let sql = if rng.below(2) == 0 {
                    random_write(&mut rng, &mut serial)
                } else {
                    random_cf_write(&mut rng, &mut serial)
                };
                Spi::run(&sql).unwrap_or_else(|e| panic!("seed {seed}, write {i}: {sql}: {e}"));
                if i % 10 == 0 {
                    let failing = failing_checks();
                    assert!(failing.is_empty(), "seed {seed}, write {i} ({sql}): {failing:?}");
                    for (entity, n) in differences() {
                        if entity != "memberships" {
                            assert_eq!(
                                n, 0,
                                "{entity}: {n} rows differ from the oracle, seed {seed}, write {i}: {sql}"
                            );
                        }
                    }
                    // A membership born in CoreForge keeps its own id: memberships are compared
                    // by their pair, role and creation time.
                    let n = membership_pair_differences();
                    assert_eq!(
                        n, 0,
                        "memberships: {n} rows differ from the oracle, seed {seed}, write {i}: {sql}"
                    );
                }
            }
            let written = count("SELECT sum(inserted + updated + deleted)::bigint FROM cf_sync_legacy()");
            assert_eq!(
                written, 0,
                "seed {seed}: the reverse backfill after the writes changed {written} rows"
            );
            cf_born = cf_born
                .max(count("SELECT count(*) FROM users WHERE id::text LIKE 'c%' AND deleted_at IS NULL"));
        }
        assert!(cf_born > 0, "the run made users in CoreForge");
        Spi::run("SELECT cf_rollback()").unwrap();
        let written = count("SELECT sum(inserted + updated + deleted)::bigint FROM cf_sync_all()");
        assert_eq!(
            written, 0,
            "after the rollback, a backfill from the legacy tables changed {written} rows"
        );
    }
}
