//! The cf_ columns the configuration may fill, how each is filled and checked, and the password
//! formats: CoreForge's side of the mapping (coreforge-identity.md), as data.

use super::EntityKind;

/// The password formats `coreforge_sync.password_format()` recognises (sql/passwords.sql).
pub const PASSWORD_FORMATS: [&str; 11] = [
    "argon2id", "argon2i", "argon2d", "bcrypt", "scrypt", "pbkdf2", "md5", "sha1", "sha256", "empty",
    "unknown",
];

/// How a legacy framework writes password hashes (`"password_encoding"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PasswordEncoding {
    /// PHC strings (`$argon2id$...`, `$2b$...`) as CoreForge writes them, and `''` or NULL for no
    /// password: Rails/Devise, Laravel, PHP's password_hash, passlib, the migration guide.
    Phc,
    /// Django: `argon2$argon2id$...` and `bcrypt$$2b$...` around the PHC string, its own
    /// `pbkdf2_sha256$...`, and a value starting with `!` for no password.
    Django,
}

impl PasswordEncoding {
    pub const NAMES: [&'static str; 2] = ["phc", "django"];

    pub fn parse(name: Option<&str>) -> Option<PasswordEncoding> {
        match name {
            None | Some("phc") => Some(PasswordEncoding::Phc),
            Some("django") => Some(PasswordEncoding::Django),
            Some(_) => None,
        }
    }
}

/// CoreForge's allowed values of the columns that have a fixed set (coreforge-identity.md).
pub fn allowed_values(cf_col: &str) -> Option<&'static [&'static str]> {
    match cf_col {
        "plan" => Some(&["free", "starter", "pro", "enterprise"]),
        "org_type" => Some(&["personal", "team", "enterprise"]),
        _ => None,
    }
}

/// How a cf_ column is filled and checked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Text that must not be NULL or empty (email, name, slug, role).
    Required,
    /// Optional text: an empty string becomes NULL.
    Optional,
    /// Text from a fixed set (plan, org_type); NULL or empty takes CoreForge's default.
    Set(&'static str),
    /// The password hash, filtered by the password policy.
    Password,
    Timestamp,
    /// A timestamp that may be NULL (last_login_at: a user who never logged in).
    OptionalTimestamp,
    Json,
    /// A boolean; NULL takes CoreForge's default.
    Bool(bool),
    /// A uuid that may be NULL, from a uuid column (federation_id, which CoreForge keeps unique).
    Uuid,
}

/// A cf_ column the configuration may fill: its kind, and the longest text CoreForge takes.
#[derive(Clone, Copy, Debug)]
pub struct CfColumn {
    pub name: &'static str,
    pub kind: Kind,
    pub max_len: Option<i32>,
}

const fn col(name: &'static str, kind: Kind, max_len: Option<i32>) -> CfColumn {
    CfColumn { name, kind, max_len }
}

use Kind::*;

impl Kind {
    /// The SQL type of a cf_ column of this kind (coreforge-identity.md).
    pub fn sql_type(self) -> &'static str {
        match self {
            Required | Optional | Set(_) | Password => "text",
            Timestamp | OptionalTimestamp => "timestamptz",
            Json => "jsonb",
            Bool(_) => "boolean",
            Uuid => "uuid",
        }
    }
}

const USER_COLUMNS: &[CfColumn] = &[
    col("email", Required, Some(254)),
    col("name", Required, Some(255)),
    col("avatar_url", Optional, Some(2048)),
    col("password_hash", Password, None),
    col("created_at", Timestamp, None),
    col("is_platform_admin", Bool(false), None),
    col("last_login_at", OptionalTimestamp, None),
    col("federation_id", Uuid, None),
    col("active", Bool(true), None),
];

const ORGANIZATION_COLUMNS: &[CfColumn] = &[
    col("name", Required, Some(255)),
    col("slug", Required, Some(63)),
    col("org_type", Set("team"), None),
    col("logo_url", Optional, Some(2048)),
    col("description", Optional, Some(4096)),
    col("website_url", Optional, Some(2048)),
    col("settings", Json, None),
    col("plan", Set("free"), None),
    col("created_at", Timestamp, None),
    col("active", Bool(true), None),
];

const MEMBERSHIP_COLUMNS: &[CfColumn] =
    &[col("role", Required, Some(64)), col("permissions", Json, None), col("created_at", Timestamp, None)];

/// The cf_ columns each entity may map or default (the keys and foreign keys are the extension's).
pub fn cf_columns(entity: EntityKind) -> &'static [CfColumn] {
    match entity {
        EntityKind::Users => USER_COLUMNS,
        EntityKind::Organizations => ORGANIZATION_COLUMNS,
        EntityKind::Memberships => MEMBERSHIP_COLUMNS,
    }
}

/// Columns of CoreForge's Ent schema that the migration guide's DDL lacks: cf_ tables made from
/// that DDL are adopted without them, and such a column can then not be mapped.
pub const NOT_IN_GUIDE_DDL: &[&str] = &["federation_id"];

pub fn cf_column(entity: EntityKind, name: &str) -> Option<CfColumn> {
    cf_columns(entity).iter().copied().find(|c| c.name == name)
}
