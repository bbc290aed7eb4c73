//! The settings parser, fuzzed with proptest: `cf_configure()` is called with thousands of
//! generated settings, from arbitrary JSON to small mutations of valid configurations. Every call
//! must either be refused with a clear error (never an internal error, SQLSTATE XX000, which is
//! what a Rust panic becomes) that leaves the stored configuration as it was, or be accepted; and
//! a configuration it accepted must work: the validation and a full backfill run on it, or refuse
//! with an error of the extension's own, never one of PostgreSQL's over generated SQL. The
//! identifier parser is fuzzed on its own: it never panics, and reads back any quoted name.

/// The fuzzers' seed: fixed, so that `make test` is the same on every run (CI cannot fail on a
/// draw of its own); built with `COREFORGE_FUZZ_SEED=<n>` for another, or `=random` for a new
/// one each run (a soak).
fn fuzz_seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match option_env!("COREFORGE_FUZZ_SEED") {
        Some("random") => RngSeed::Random,
        Some(n) => RngSeed::Fixed(n.parse().expect("COREFORGE_FUZZ_SEED is a number or random")),
        None => RngSeed::Fixed(20_261_202),
    }
}

#[cfg(test)]
mod parse {
    use crate::quote::ident;
    use crate::settings::ident::parse_ident;
    use proptest::prelude::*;

    #[test]
    fn unquoted_non_ascii_names_keep_their_case() {
        assert_eq!(parse_ident("crm.Überkunden"), Some(vec!["crm".into(), "Überkunden".into()]));
        assert_eq!(parse_ident("ÜBER"), Some(vec!["Über".into()]));
        assert_eq!(parse_ident("\"Überkunden\""), Some(vec!["Überkunden".into()]));
        assert_eq!(parse_ident("Ärger.漢字"), Some(vec!["Ärger".into(), "漢字".into()]));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, rng_seed: super::fuzz_seed(), ..ProptestConfig::default() })]

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_ident(&s);
        }

        #[test]
        fn folds_only_ascii_letters(name in "[A-Za-z_][A-Za-z0-9_$ÄÖÜäöüßÉé漢]{0,12}") {
            // What PostgreSQL stores for an unquoted name in a UTF8 database.
            let folded: String = name.chars().map(|c| c.to_ascii_lowercase()).collect();
            prop_assert_eq!(parse_ident(&format!("crm.{name}")), Some(vec!["crm".to_string(), folded]));
        }

        #[test]
        fn reads_back_quoted_names(schema in "\\PC{1,20}", table in "\\PC{1,20}") {
            let quoted = format!("{}.{}", ident(&schema), ident(&table));
            prop_assert_eq!(parse_ident(&quoted), Some(vec![schema, table]));
        }
    }
}

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use serde_json::{json, Map, Value};

    use crate::tests::tests::{run_script, CRM_DATA, CRM_SCHEMA, LEGACY_SCHEMA};

    /// Words a configuration is made of: keys, table and column names of both schemas, strategies,
    /// kinds, values; and some that are none of those.
    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "table",
                "id",
                "column",
                "strategy",
                "namespace",
                "type",
                "soft_delete",
                "kind",
                "columns",
                "expressions",
                "write_back",
                "values",
                "defaults",
                "passwords",
                "password_encoding",
                "django",
                "phc",
                "user_ref",
                "organization_ref",
                "normalize_slugs",
                "public.users",
                "public.tenants",
                "public.tenant_members",
                "crm.accounts",
                "crm.companies",
                "crm.company_users",
                "crm.\"Users; DROP TABLE x\"",
                "users",
                "nope.nope",
                "id",
                "account_id",
                "company_id",
                "user_id",
                "tenant_id",
                "email",
                "email_address",
                "name",
                "full_name",
                "slug",
                "handle",
                "plan",
                "tier",
                "role",
                "access_level",
                "created_at",
                "signup_at",
                "deleted_at",
                "is_deleted",
                "settings",
                "password_hash",
                "pw_digest",
                "avatar_url",
                "org_type",
                "active",
                "keep",
                "random",
                "uuidv5",
                "timestamp",
                "boolean",
                "integer",
                "uuid",
                "text",
                "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
                "*",
                "reject",
                "free",
                "starter",
                "pro",
                "enterprise",
                "owner",
                "admin",
                "member",
                "argon2id",
                "bcrypt",
                "md5",
                "reset",
                "",
                " ",
                "\"",
                "'; --",
            ])
            .prop_map(str::to_string),
            "\\PC{0,12}",
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            word().prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                btree_map(word(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    /// Valid configurations of each entity (the guide's tables, and the crm schema's).
    fn valid(entity: &str) -> Vec<Value> {
        match entity {
            "users" => vec![
                json!({}),
                json!({"table": "crm.accounts", "id": {"column": "account_id", "strategy": "uuidv5",
                       "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
                       "soft_delete": {"column": "is_deleted", "kind": "boolean"},
                       "columns": {"email": "email_address", "name": "full_name", "avatar_url": "photo_url",
                                   "password_hash": "pw_digest", "created_at": "signup_at"}}),
            ],
            "organizations" => vec![
                json!({}),
                json!({"table": "crm.companies", "id": {"column": "company_id", "strategy": "random"},
                       "soft_delete": null,
                       "columns": {"name": "company_name", "slug": "handle", "plan": "tier", "created_at": "created"},
                       "values": {"plan": {"basic": "starter", "*": "free"}}, "defaults": {"org_type": "team"}}),
            ],
            _ => vec![
                json!({}),
                json!({"table": "crm.company_users", "user_ref": "account_id", "organization_ref": "company_id",
                       "columns": {"role": "access_level", "created_at": "joined_at"},
                       "values": {"role": {"superuser": "owner", "*": "reject"}}}),
            ],
        }
    }

    /// Settings to try: arbitrary JSON; valid configurations with one key replaced, or one nested
    /// value; and valid configurations with a generated value map entry (often accepted).
    fn settings() -> impl Strategy<Value = (String, Value)> {
        let entity =
            prop::sample::select(vec!["users", "organizations", "memberships"]).prop_map(str::to_string);
        (entity, 0..6usize, value(), word(), word(), value()).prop_map(
            |(entity, how, any, key, sub, replacement)| {
                let base = valid(&entity)[1].clone();
                let settings = match how {
                    0 => any,
                    // A valid configuration with fallbacks: a CoreForge column (some may have them),
                    // then columns of either table's (some exist there) and a generated word.
                    4 => {
                        let mut m = valid(&entity)[key.len() % 2].as_object().cloned().unwrap_or_default();
                        let targets = ["name", "avatar_url", "email", "slug", "role", "plan", "created_at"];
                        let columns = [
                            "email",
                            "name",
                            "avatar_url",
                            "password_hash",
                            "created_at",
                            "email_address",
                            "full_name",
                            "photo_url",
                            "pw_digest",
                            "signup_at",
                            "slug",
                            "handle",
                            "company_name",
                            "tier",
                            "role",
                            "access_level",
                            "logo_url",
                        ];
                        let target = targets[sub.len() % targets.len()];
                        let mut list: Vec<Value> = (0..(key.len() % 3))
                            .map(|i| json!(columns[(sub.len() * 7 + key.len() + i * 5) % columns.len()]))
                            .collect();
                        if key.len() % 4 == 3 {
                            list.push(json!(key));
                        }
                        m.insert("fallbacks".into(), json!({ target: list }));
                        Value::Object(m)
                    }
                    // A valid configuration with a CoreForge column read from an expression of
                    // generated words, SQL punctuation and columns of either schema: PostgreSQL's
                    // parser meets any text, and what it accepts must work.
                    5 => {
                        let mut m = valid(&entity)[key.len() % 2].as_object().cloned().unwrap_or_default();
                        let targets = ["name", "avatar_url", "role", "plan", "created_at", "email"];
                        let glue =
                            [" || ", "(", ")", ", ", "'", " ", "::text", " FROM ", ";", "lower(", "--"];
                        let target = targets[sub.len() % targets.len()];
                        let text = format!(
                            "{key}{}{sub}{}{key}",
                            glue[key.len() % glue.len()],
                            glue[(sub.len() * 3) % glue.len()]
                        );
                        if let Some(Value::Object(columns)) = m.get_mut("columns") {
                            columns.remove(target);
                        }
                        m.insert("expressions".into(), json!({ target: text }));
                        Value::Object(m)
                    }
                    // A valid configuration with a value map entry of generated words.
                    3 => {
                        let mut m = valid(&entity)[key.len() % 2].as_object().cloned().unwrap_or_default();
                        let column = match entity.as_str() {
                            "users" => "name",
                            "organizations" => "plan",
                            _ => "role",
                        };
                        if !sub.is_empty() {
                            m.insert("values".into(), json!({ column: { sub: key } }));
                        }
                        Value::Object(m)
                    }
                    1 => {
                        let mut m = base.as_object().cloned().unwrap_or_default();
                        m.insert(key, replacement);
                        Value::Object(m)
                    }
                    _ => {
                        // Replace a value one level down (a column, the id's strategy, a value map entry).
                        let mut m = base.as_object().cloned().unwrap_or_default();
                        let k = m.keys().nth(sub.len() % m.len().max(1)).cloned().unwrap_or(key);
                        if let Some(Value::Object(inner)) = m.get_mut(&k) {
                            inner.insert(sub, replacement);
                        } else {
                            m.insert(k, replacement);
                        }
                        Value::Object(m)
                    }
                };
                (entity, settings)
            },
        )
    }

    /// The stored configuration, as text.
    fn stored() -> String {
        Spi::get_one::<String>(
            "SELECT coalesce(string_agg(entity || settings::text, '|' ORDER BY entity), '') FROM coreforge_sync.entity_config",
        )
        .unwrap()
        .unwrap_or_default()
    }

    /// Runs `sql` in a subtransaction; returns "ok", or the error's SQLSTATE and message.
    fn attempt(sql: &str) -> String {
        Spi::get_one_with_args::<String>("SELECT pg_temp.attempt($1)", &[sql.into()]).unwrap().unwrap()
    }

    #[pg_test]
    fn cf_configure_refuses_cleanly_or_accepts_what_works() {
        Spi::run("DROP TABLE IF EXISTS cf_memberships, cf_organizations, cf_users CASCADE").unwrap();
        run_script(LEGACY_SCHEMA);
        run_script(CRM_SCHEMA);
        run_script(CRM_DATA);
        Spi::run("SELECT cf_create_tables()").unwrap();
        Spi::run("SET LOCAL client_min_messages = error").unwrap();
        Spi::run(
            "CREATE FUNCTION pg_temp.attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$ \
             BEGIN EXECUTE sql; RETURN 'ok'; \
             EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$",
        )
        .unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 600,
            failure_persistence: None,
            rng_seed: super::fuzz_seed(),
            ..Config::default()
        });
        let (accepted, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let result = runner.run(&settings(), |(entity, settings)| {
            let before = stored();
            let call = format!(
                "SELECT cf_configure({}, {}::jsonb)",
                crate::quote::literal(&entity),
                crate::quote::literal(&settings.to_string())
            );
            let outcome = attempt(&call);
            if outcome == "ok" {
                accepted.set(accepted.get() + 1);
                // What was accepted works: the generated SQL runs over the real tables.
                for check in
                    ["SELECT count(*) FROM cf_validation_report()", "SELECT count(*) FROM cf_sync_all()"]
                {
                    // Refusals of the extension's own ("coreforge_sync: ...", e.g. the other entities
                    // no longer fit) are fine; an error of PostgreSQL's means generated SQL that fails.
                    let ran = attempt(check);
                    if ran != "ok" && !ran.get(6..).unwrap_or("").starts_with("coreforge_sync:") {
                        return Err(TestCaseError::fail(format!(
                            "{entity} {settings}: accepted, then {check}: {ran}"
                        )));
                    }
                }
                // Back to a known configuration for the next case.
                attempt(&format!("SELECT cf_configure({}, '{{}}')", crate::quote::literal(&entity)));
            } else {
                refused.set(refused.get() + 1);
                if outcome.starts_with("XX") {
                    return Err(TestCaseError::fail(format!("{entity} {settings}: {outcome}")));
                }
                let after = stored();
                if after != before {
                    return Err(TestCaseError::fail(format!(
                        "{entity} {settings}: refused ({outcome}) but the configuration changed"
                    )));
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        let (accepted, refused) = (accepted.get(), refused.get());
        assert!(accepted > 20, "only {accepted} of {} generated settings were accepted", accepted + refused);
        assert!(refused > 100, "only {refused} generated settings were refused");
    }
}
