//! `cf_configure(entity, settings)` and `cf_config()`: the configuration of each entity's legacy
//! side. Settings are parsed (layer 1) and checked against the catalog (layer 2) before anything
//! is stored: every problem is listed in one error and nothing changes.

use crate::db::{config, ids, phase, rights, state, triggers};
use crate::errors::{raise, Error, Result};
use crate::quote::qualified;
use crate::settings::{effective, EntityKind, IdStrategy};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

/// Sets the configuration of one entity and returns its effective settings. Keys left out take
/// the migration guide's defaults; `'{}'` goes back to the guide's tables.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_configure(entity: Option<&str>, settings: Option<JsonB>) -> JsonB {
    raise(cf_configure_impl(entity, settings))
}

fn cf_configure_impl(entity: Option<&str>, settings: Option<JsonB>) -> Result<JsonB> {
    rights::authorize("run cf_configure()")?;
    let entity = EntityKind::from_arg(entity)?;
    let Some(JsonB(given)) = settings else {
        return Err(Error::null_value("coreforge_sync: settings must not be NULL")
            .hint("Pass '{}' to go back to the migration guide's tables."));
    };
    phase::require_side_by_side("change the configuration")?;
    let mut problems = Vec::new();
    let resolved = match effective(entity, &given, &mut problems) {
        None => None,
        Some(s) => {
            let refs = if entity == EntityKind::Memberships {
                let mut ignore = Vec::new();
                let u = config::resolve_live(
                    EntityKind::Users,
                    config::settings(EntityKind::Users)?,
                    None,
                    &mut ignore,
                )?;
                let o = config::resolve_live(
                    EntityKind::Organizations,
                    config::settings(EntityKind::Organizations)?,
                    None,
                    &mut ignore,
                )?;
                u.zip(o)
            } else {
                None
            };
            config::resolve_live(entity, s, refs.as_ref().map(|(u, o)| (u, o)), &mut problems)?
        }
    };
    if let Some(r) = &resolved {
        let mapped: Vec<&str> =
            r.settings.columns.keys().chain(r.settings.expressions.keys()).map(String::as_str).collect();
        problems.extend(super::tables::missing_mapped(entity, &mapped)?);
    }
    let resolved = match resolved {
        Some(r) if problems.is_empty() => r,
        _ => {
            return Err(Error::invalid(format!(
                "coreforge_sync: invalid settings for {entity} ({} problem{})",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ))
            .detail(problems.join("\n"))
            .hint("Nothing was changed. The keys are documented in the README, section \"Configuring a real schema\"."))
        }
    };
    rights::require_owner_rights(
        &[qualified(&resolved.schema, &resolved.table)],
        &format!("configure {entity} on {}.{}", resolved.schema, resolved.table),
    )?;
    Spi::run_with_args(
        "INSERT INTO coreforge_sync.entity_config (entity, settings) VALUES ($1, $2) \
         ON CONFLICT (entity) DO UPDATE SET settings = EXCLUDED.settings, configured_at = pg_catalog.now()",
        &[entity.as_str().into(), JsonB(given).into()],
    )?;
    state::set_setting("config_generation", &(config::generation()? + 1).to_string())?;
    state::forget_backfills()?;
    if let Some((_, strategy, id_type)) = &resolved.id {
        if *strategy != IdStrategy::Keep {
            ids::ensure_mapping_table(entity, *id_type)?;
        }
    }
    // Sync on: the triggers move to the configured tables and carry the new generation. That needs
    // the whole configuration to hold together (a membership's references and its parents' ids).
    if triggers::any_sync_enabled()? {
        let mut problems = Vec::new();
        config::resolve_all_into(&mut problems)?;
        if !problems.is_empty() {
            return Err(Error::out_of_order(format!(
                "coreforge_sync: with sync on, this change would leave the configuration incomplete ({entity} was not changed)"
            ))
            .detail(problems.join("\n"))
            .hint("Switch sync off (SELECT cf_disable_sync();), configure every entity, then SELECT cf_enable_sync(); and backfill."));
        }
        triggers::drop_all_triggers()?;
        triggers::install_all_triggers()?;
    }
    Ok(JsonB(as_json(&resolved.settings)?))
}

/// One row per entity: its legacy table, id strategy and effective settings.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_config() -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(legacy_table, String),
        name!(id_strategy, Option<String>),
        name!(configured, bool),
        name!(settings, JsonB),
    ),
> {
    raise((|| -> Result<_> {
        let mut rows = Vec::new();
        for kind in EntityKind::ALL {
            let s = config::settings(kind)?;
            let configured = config::stored(kind)? != json!({});
            let strategy = s.id.as_ref().map(|i| i.strategy.clone().unwrap_or_else(|| "keep".into()));
            rows.push((kind.to_string(), s.table.clone(), strategy, configured, JsonB(as_json(&s)?)));
        }
        Ok(TableIterator::new(rows))
    })())
}

/// Effective settings as JSON.
fn as_json(s: &crate::settings::Settings) -> Result<serde_json::Value> {
    serde_json::to_value(s)
        .map_err(|e| Error::invalid(format!("coreforge_sync: settings do not serialize: {e}")))
}
