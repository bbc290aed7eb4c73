//! The stored configuration (`coreforge_sync.entity_config`), resolved against the live catalog
//! into the entities the actors work with.

use crate::db::catalog::Live;
use crate::db::{phase, state};
use crate::errors::{Error, Result};
use crate::mapping::{build_memberships, build_single, resolve, Entity, Resolved};
use crate::quote::qualified;
use crate::settings::{effective, split_table, EntityKind, Settings};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

/// The stored settings of `entity` (as given to cf_configure), or `{}` when it was never
/// configured. A record that cannot be read is an error, not the guide's defaults.
pub fn stored(entity: EntityKind) -> Result<Value> {
    let record = format!("coreforge_sync.entity_config (entity {entity})");
    let (found, settings) = Spi::get_two_with_args::<bool, JsonB>(
        "SELECT EXISTS (SELECT 1 FROM coreforge_sync.entity_config WHERE entity = $1), \
                (SELECT settings FROM coreforge_sync.entity_config WHERE entity = $1)",
        &[entity.as_str().into()],
    )
    .map_err(|e| state::unreadable(&record, &e.to_string()))?;
    match (found, settings) {
        (Some(true), Some(j)) if j.0.is_object() => Ok(j.0),
        (Some(true), _) => Err(state::unreadable(&record, "its settings are not a JSON object")),
        _ => Ok(json!({})),
    }
}

/// The effective settings of `entity`, without catalog checks (stored ones were checked).
pub fn settings(entity: EntityKind) -> Result<Settings> {
    let mut problems = Vec::new();
    effective(entity, &stored(entity)?, &mut problems).ok_or_else(|| {
        Error::corrupted(format!(
            "coreforge_sync: the stored settings of {entity} are invalid: {}",
            problems.join("; ")
        ))
        .hint(format!("Run SELECT cf_configure('{entity}', '{{}}'); to go back to the guide's tables."))
    })
}

thread_local! {
    /// The schema `reading_from` reads the legacy tables in, while it runs.
    static READING_FROM: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the legacy tables read in `schema` instead of where they are: foreign tables of
/// the legacy server's (postgres_fdw), for a validation across servers. The entities `f` builds
/// read those; nothing else changes.
pub fn reading_from<R>(schema: &str, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            READING_FROM.with(|r| r.borrow_mut().take());
        }
    }
    READING_FROM.with(|r| *r.borrow_mut() = Some(schema.to_string()));
    let _reset = Reset;
    f()
}

/// The schema the legacy tables are read in: `reading_from`'s, or the archive while archived;
/// None: where they are configured.
fn reading_schema() -> Result<Option<String>> {
    if let Some(schema) = READING_FROM.with(|r| r.borrow().clone()) {
        return Ok(Some(schema));
    }
    state::setting("archive_schema")
}

/// Checks `s` for `entity` against the live catalog; problems are collected.
pub fn resolve_live(
    entity: EntityKind,
    s: Settings,
    refs: Option<(&Resolved, &Resolved)>,
    problems: &mut Vec<String>,
) -> Result<Option<Resolved>> {
    let live = Live { foreign: READING_FROM.with(|r| r.borrow().is_some()) };
    resolve(
        &live,
        reading_schema()?.as_deref(),
        state::setting("cf_schema")?.as_deref(),
        entity,
        s,
        refs,
        problems,
    )
}

/// Resolves every entity's settings against the catalog; one error lists every problem.
pub fn resolve_all() -> Result<[Resolved; 3]> {
    let mut problems = Vec::new();
    match resolve_all_into(&mut problems)? {
        Some(r) if problems.is_empty() => Ok(r),
        _ => Err(mismatch(&problems)),
    }
}

/// [`resolve_all`], the problems collected into `problems`.
pub fn resolve_all_into(problems: &mut Vec<String>) -> Result<Option<[Resolved; 3]>> {
    let u = resolve_live(EntityKind::Users, settings(EntityKind::Users)?, None, problems)?;
    let o = resolve_live(EntityKind::Organizations, settings(EntityKind::Organizations)?, None, problems)?;
    let m = match (&u, &o) {
        (Some(u), Some(o)) => {
            resolve_live(EntityKind::Memberships, settings(EntityKind::Memberships)?, Some((u, o)), problems)?
        }
        _ => None,
    };
    Ok(u.zip(o).zip(m).map(|((u, o), m)| [u, o, m]))
}

/// Resolves the settings of users or organizations alone (memberships need all three).
fn resolve_one(entity: EntityKind) -> Result<Resolved> {
    let mut problems = Vec::new();
    match resolve_live(entity, settings(entity)?, None, &mut problems)? {
        Some(r) if problems.is_empty() => Ok(r),
        _ => Err(mismatch(&problems)),
    }
}

fn mismatch(problems: &[String]) -> Error {
    Error::mismatch("coreforge_sync: the legacy tables do not match the configuration")
        .detail(problems.join("\n"))
        .hint("Fix the legacy tables, or change the settings with cf_configure(); SELECT * FROM cf_config(); shows them.")
}

/// A generation number, bumped by every configuration change; the sync triggers carry it, so
/// that every backend builds its statements anew after a change.
pub fn generation() -> Result<i64> {
    match state::setting("config_generation")? {
        None => Ok(0),
        Some(g) => g.parse().map_err(|_| {
            state::unreadable(
                "coreforge_sync.settings (key config_generation)",
                &format!("{g:?} is not a number"),
            )
        }),
    }
}

/// The entity `kind` under the current configuration, its cf_ tables in `cf_schema`.
/// Checks the legacy side against the catalog (one error listing every problem).
/// Users and organizations need their own settings only; memberships need all three.
pub fn entity(kind: EntityKind, cf_schema: &str) -> Result<Entity> {
    phase::require_legacy_tables()?;
    Ok(match kind {
        EntityKind::Users | EntityKind::Organizations => build_single(&resolve_one(kind)?, cf_schema)?,
        EntityKind::Memberships => {
            let [ru, ro, rm] = resolve_all()?;
            build_memberships(&ru, &ro, &rm, cf_schema)?
        }
    })
}

/// All three entities, in dependency order.
pub fn all(cf_schema: &str) -> Result<Vec<Entity>> {
    phase::require_legacy_tables()?;
    let [ru, ro, rm] = resolve_all()?;
    Ok(vec![
        build_single(&ru, cf_schema)?,
        build_single(&ro, cf_schema)?,
        build_memberships(&ru, &ro, &rm, cf_schema)?,
    ])
}

/// All three entities in the schema of the cf_ tables, those tables checked.
pub fn entities() -> Result<Vec<Entity>> {
    let entities = all(&state::cf_schema()?)?;
    for e in &entities {
        crate::db::catalog::check_entity(e)?;
    }
    Ok(entities)
}

/// Entities that reference `kind` (memberships reference users and organizations).
pub fn dependents(kind: EntityKind, cf_schema: &str) -> Result<Vec<Entity>> {
    match kind {
        EntityKind::Memberships => Ok(vec![]),
        _ => Ok(vec![entity(EntityKind::Memberships, cf_schema)?]),
    }
}

/// The configured legacy table of `entity`, as (schema, table) in its home schema (not archived).
pub fn home_table(entity: EntityKind) -> Result<Option<(String, String)>> {
    Ok(split_table(&settings(entity)?.table, &mut Vec::new()))
}

/// The configured legacy tables, quoted and qualified (those whose names parse).
pub fn legacy_table_names() -> Result<Vec<String>> {
    let mut tables = Vec::new();
    for kind in EntityKind::ALL {
        if let Some((schema, table)) = home_table(kind)? {
            tables.push(qualified(&schema, &table));
        }
    }
    Ok(tables)
}
