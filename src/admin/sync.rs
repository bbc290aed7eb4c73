//! `cf_enable_sync()` and `cf_disable_sync()`: the sync triggers on or off (phase side_by_side).

use crate::db::triggers::{arm, drop_all_triggers, install, sync_enabled, Kind};
use crate::db::{config, phase, rights, state};
use crate::errors::{raise, Error, Result};
use crate::settings::EntityKind;
use pgrx::prelude::*;

/// Installs the sync triggers on users, tenants and tenant_members. Idempotent. Switching sync on
/// means CoreForge may have drifted meanwhile, so the next backfill is what makes it complete.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_enable_sync() -> String {
    raise(enable_sync())
}

fn enable_sync() -> Result<String> {
    rights::authorize("run cf_enable_sync()")?;
    let phase = phase::current_shared()?;
    if !Kind::Forward.wanted(phase) {
        return Err(Error::out_of_order(format!(
            "coreforge_sync: there are no legacy tables to sync in phase {phase}"
        ))
        .hint(phase.hint()));
    }
    let entities = config::entities()?;
    rights::require_mirror_rights(&entities)?;
    let mut was_on = true;
    for e in &entities {
        was_on &= sync_enabled(e)?;
    }
    for e in &entities {
        install(Kind::Forward, e)?;
    }
    arm(phase, &entities)?;
    if !was_on {
        state::forget_backfills()?;
    }
    let pairs: Vec<String> =
        entities.iter().map(|e| format!("{} -> {}", e.primary.display(), e.cf_display())).collect();
    Ok(format!("sync enabled: {}", pairs.join(", ")))
}

/// Removes the sync triggers. The cf_ tables keep their rows; a later cf_enable_sync() must be
/// followed by a backfill to catch up with the writes made meanwhile. Phase side_by_side only:
/// from cutover on, the sync is what keeps rollback possible.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_disable_sync() -> String {
    raise(disable_sync())
}

fn disable_sync() -> Result<String> {
    rights::authorize("run cf_disable_sync()")?;
    phase::require_side_by_side("switch sync off")?;
    drop_all_triggers()?;
    state::forget_backfills()?;
    let mut tables = Vec::new();
    for kind in EntityKind::ALL {
        tables.push(config::settings(kind)?.table);
    }
    Ok(format!("sync disabled: {}", tables.join(", ")))
}
