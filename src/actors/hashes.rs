//! Legacy password hashes checked against a password, and CoreForge's own Argon2id hash made
//! (pure: no SPI). Every format `coreforge_sync.password_format()` recognises that a password can
//! be checked against is verified with the RustCrypto crates; only the parsing of the framework
//! encodings (Django's `pbkdf2_sha256$...`, `bcrypt_sha256$...`, `argon2$...`, passlib's
//! `$pbkdf2-sha256$29000$...`) is written here.
//! Digests are compared in constant time (`subtle`), as the crates compare their own outputs.

use argon2::{Algorithm, Argon2, Params, Version};
use base64ct::{Base64, Base64Unpadded, Encoding};
use password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::Digest;
use subtle::ConstantTimeEq;

/// CoreForge's Argon2id parameters (the hashes CoreForge itself writes and verifies).
const M_COST: u32 = 65536;
const T_COST: u32 = 3;
const P_COST: u32 = 2;
const OUTPUT_LEN: usize = 32;

/// The start of every hash CoreForge verifies: Argon2id, version 19, CoreForge's parameters.
pub const COREFORGE_PREFIX: &str = "$argon2id$v=19$m=65536,t=3,p=2$";

/// A legacy Argon2 hash asking for more memory than this (KiB) is not tried: the backend would
/// allocate it for one call.
const MAX_ARGON2_KIB: u32 = 1 << 20;

/// Whether `hash` is one CoreForge verifies itself (nothing to upgrade).
pub fn is_coreforge(hash: &str) -> bool {
    hash.starts_with(COREFORGE_PREFIX)
}

/// Whether a password can be checked against `hash`, and CoreForge cannot check it itself: the
/// hashes `cf_upgrade_password()` upgrades. (Parses only, never hashes.)
pub fn upgradable(hash: &str) -> bool {
    !is_coreforge(hash) && scheme(hash).is_some()
}

/// Whether `password` is the one `hash` was made of. A hash of a format that cannot be checked
/// (unknown, empty, scrypt's `$7$`) never matches.
pub fn verify(hash: &str, password: &str) -> bool {
    let pw = password.as_bytes();
    match scheme(hash) {
        Some(Scheme::Phc(phc)) => verify_phc(phc, pw),
        Some(Scheme::Bcrypt(b)) => bcrypt::verify(pw, b).unwrap_or(false),
        // Django's BCryptSHA256PasswordHasher: bcrypt over the hex SHA-256 of the password.
        Some(Scheme::BcryptSha256(b)) => bcrypt::verify(hex(&sha2::Sha256::digest(pw)), b).unwrap_or(false),
        Some(Scheme::DjangoPbkdf2 { digest, rounds, salt, hash }) => {
            let Ok(want) = Base64::decode_vec(hash) else { return false };
            want.len() == digest.len() && same(&pbkdf2(digest, pw, salt.as_bytes(), rounds), &want)
        }
        Some(Scheme::PasslibPbkdf2 { digest, rounds, salt, hash }) => {
            let (Some(salt), Some(want)) = (ab64(salt), ab64(hash)) else { return false };
            want.len() == digest.len() && same(&pbkdf2(digest, pw, &salt, rounds), &want)
        }
        Some(Scheme::DjangoScrypt { log_n, salt, r, p, hash }) => {
            // Django's scrypt hasher always derives 64 bytes.
            let Ok(want) = Base64::decode_vec(hash) else { return false };
            let Ok(params) = scrypt::Params::new(log_n, r, p, 64) else { return false };
            let mut got = vec![0u8; 64];
            scrypt::scrypt(pw, salt.as_bytes(), &params, &mut got).is_ok() && same(&got, &want)
        }
        Some(Scheme::Hex(digest)) => {
            let got: String = match digest {
                Hex::Md5 => hex(&md5::Md5::digest(pw)),
                Hex::Sha1 => hex(&sha1::Sha1::digest(pw)),
                Hex::Sha256 => hex(&sha2::Sha256::digest(pw)),
            };
            same(got.as_bytes(), hash.to_ascii_lowercase().as_bytes())
        }
        None => false,
    }
}

/// A fresh Argon2id hash of `password` in PHC form, with CoreForge's parameters (m=65536, t=3,
/// p=2, a 16-byte random salt, a 32-byte tag).
pub fn coreforge_hash(password: &str) -> Result<String, password_hash::Error> {
    let params = Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN))?;
    let salt = SaltString::generate(&mut password_hash::rand_core::OsRng);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    Ok(argon2.hash_password(password.as_bytes(), &salt)?.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Prf {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Hex {
    Md5,
    Sha1,
    Sha256,
}

/// How `hash` is checked.
#[derive(Debug, PartialEq)]
enum Scheme<'a> {
    /// A PHC string the crates parse and verify: argon2i/d/id, `$pbkdf2-sha256$i=...`, `$scrypt$`.
    Phc(&'a str),
    /// bcrypt, also as Django's `bcrypt$<bcrypt>`.
    Bcrypt(&'a str),
    /// Django's `bcrypt_sha256$<bcrypt>`.
    BcryptSha256(&'a str),
    /// Django's `pbkdf2_sha256$<rounds>$<salt>$<base64>`.
    DjangoPbkdf2 { digest: Prf, rounds: u32, salt: &'a str, hash: &'a str },
    /// passlib's `$pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>` (`$pbkdf2$` is SHA-1).
    PasslibPbkdf2 { digest: Prf, rounds: u32, salt: &'a str, hash: &'a str },
    /// Django's `scrypt$<salt>$...`: `scrypt$<n>$<salt>$<r>$<p>$<base64>`.
    DjangoScrypt { log_n: u8, salt: &'a str, r: u32, p: u32, hash: &'a str },
    /// An unsalted hex digest.
    Hex(Hex),
}

fn scheme(hash: &str) -> Option<Scheme<'_>> {
    if let Some(phc) = hash.strip_prefix("argon2") {
        // Django's Argon2 hasher: "argon2" followed by the PHC string.
        if phc.starts_with("$argon2") {
            return Some(Scheme::Phc(phc)).filter(|_| argon2_ok(phc));
        }
        return None;
    }
    if hash.starts_with("$argon2") {
        return Some(Scheme::Phc(hash)).filter(|_| argon2_ok(hash));
    }
    let is_bcrypt = |b: &str| ["$2a$", "$2b$", "$2y$", "$2x$"].iter().any(|p| b.starts_with(p));
    if is_bcrypt(hash) {
        return Some(Scheme::Bcrypt(hash));
    }
    if let Some(b) = hash.strip_prefix("bcrypt$").filter(|b| is_bcrypt(b)) {
        return Some(Scheme::Bcrypt(b));
    }
    if let Some(b) = hash.strip_prefix("bcrypt_sha256$").filter(|b| is_bcrypt(b)) {
        return Some(Scheme::BcryptSha256(b));
    }
    if hash.starts_with("$scrypt$") {
        return PasswordHash::new(hash).is_ok().then_some(Scheme::Phc(hash));
    }
    let parts: Vec<&str> = hash.split('$').collect();
    if let Some(name) = hash.split('$').next().and_then(|n| n.strip_prefix("pbkdf2_")) {
        let digest = digest_named(name)?;
        let [_, rounds, salt, b64] = parts[..] else { return None };
        return Some(Scheme::DjangoPbkdf2 { digest, rounds: rounds.parse().ok()?, salt, hash: b64 });
    }
    if hash.starts_with("$pbkdf2") {
        let [_, id, rounds, salt, b64] = parts[..] else { return None };
        let digest = match id {
            "pbkdf2" => Prf::Sha1,
            other => digest_named(other.strip_prefix("pbkdf2-")?)?,
        };
        if rounds.starts_with("i=") {
            return PasswordHash::new(hash).is_ok().then_some(Scheme::Phc(hash));
        }
        return Some(Scheme::PasslibPbkdf2 { digest, rounds: rounds.parse().ok()?, salt, hash: b64 });
    }
    if hash.starts_with("scrypt$") {
        let [_, n, salt, r, p, b64] = parts[..] else { return None };
        let n: u64 = n.parse().ok()?;
        if !n.is_power_of_two() || n < 2 {
            return None;
        }
        let log_n = u8::try_from(n.trailing_zeros()).ok()?;
        return Some(Scheme::DjangoScrypt { log_n, salt, r: r.parse().ok()?, p: p.parse().ok()?, hash: b64 });
    }
    if hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return match hash.len() {
            32 => Some(Scheme::Hex(Hex::Md5)),
            40 => Some(Scheme::Hex(Hex::Sha1)),
            64 => Some(Scheme::Hex(Hex::Sha256)),
            _ => None,
        };
    }
    None
}

/// An Argon2 PHC string the crate parses, within [`MAX_ARGON2_KIB`].
fn argon2_ok(phc: &str) -> bool {
    PasswordHash::new(phc)
        .ok()
        .and_then(|h| Params::try_from(&h).ok())
        .is_some_and(|p| p.m_cost() <= MAX_ARGON2_KIB)
}

fn digest_named(name: &str) -> Option<Prf> {
    match name {
        "sha1" => Some(Prf::Sha1),
        "sha256" => Some(Prf::Sha256),
        "sha512" => Some(Prf::Sha512),
        _ => None,
    }
}

fn verify_phc(phc: &str, pw: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let id = parsed.algorithm.as_str();
    if id.starts_with("argon2") {
        Argon2::default().verify_password(pw, &parsed).is_ok()
    } else if id.starts_with("pbkdf2") {
        pbkdf2::Pbkdf2.verify_password(pw, &parsed).is_ok()
    } else if id == "scrypt" {
        scrypt::Scrypt.verify_password(pw, &parsed).is_ok()
    } else {
        false
    }
}

impl Prf {
    /// The digest's size: what the frameworks derive, and all a stored hash may hold.
    fn len(self) -> usize {
        match self {
            Prf::Sha1 => 20,
            Prf::Sha256 => 32,
            Prf::Sha512 => 64,
        }
    }
}

fn pbkdf2(digest: Prf, pw: &[u8], salt: &[u8], rounds: u32) -> Vec<u8> {
    let mut out = vec![0u8; digest.len()];
    match digest {
        Prf::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, salt, rounds, &mut out),
        Prf::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt, rounds, &mut out),
        Prf::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, salt, rounds, &mut out),
    }
    out
}

/// passlib's "adapted base64": standard base64 with `.` for `+`, unpadded.
fn ab64(s: &str) -> Option<Vec<u8>> {
    Base64Unpadded::decode_vec(&s.replace('.', "+")).ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality (lengths are not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    !a.is_empty() && a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    //! Vectors made by independent implementations: Python's hashlib and passlib, Django's
    //! hashers, the argon2 reference CLI and PHP's password_hash (see each).
    use super::*;

    const PW: &str = "correct horse battery staple";
    const PW2: &str = "pässwörd ü";

    /// (hash, password): made by Django 5 (django.contrib.auth.hashers), passlib 1.7, argon2-cffi,
    /// pyca/bcrypt and hashlib, not by the crates verified here.
    const VECTORS: &[(&str, &str)] = &[
        ("pbkdf2_sha256$1000$s4ltS4lt1234$1XgvLNc7yRMop6UC/YvZQnaMytityQ9t91/ONr4HflA=", PW),
        ("pbkdf2_sha1$1200$anothersalt9$VRC3x1EA3s/2kS9Ga5/cM4LxpfA=", PW2),
        ("argon2$argon2id$v=19$m=1024,t=1,p=1$ZGphbmdvc2FsdDEyMzQ1Ng$wgVVnvykgTumw0wlB+bZTxJmcfYodrXn03OnTZaVREU", PW),
        ("scrypt$16384$scryptsalt42$8$5$ZUN1TmdAYMPJguM2iOcO/P5JKdezUm8ZEl7RIqkTgOUCyN4F2b8CAVpmonKuykfV4oOKZPer4S5YApUCSk1sUw==", PW),
        ("$pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg$yqSq2SygY1sB4EcH9f2FG0JTMES.wqLsOT5YmiRBplI", PW),
        ("$pbkdf2$1000$MDEyMzQ1Njc4OWFiY2RlZg$aTj5eAoCRBCB5iLEyComUHcLvB8", PW2),
        ("$pbkdf2-sha512$1000$MDEyMzQ1Njc4OWFiY2RlZg$5bTW2oeyDJyGJPcmEr.mRDE11ghpozWrDGnSNhRXo2ZCu0KHRDiUMAVEGzLJC.oDhRoeIja9J1iLIv9ptDJMfQ", PW),
        ("$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1qM", PW),
        ("$pbkdf2-sha256$i=1000,l=32$cGhjc2FsdHBoY3NhbHQxNg$xuoQ47kpMbYYZ4MZjztNfkNSNY5MystU9O/uiuYp5oQ", PW),
        ("$argon2i$v=19$m=2048,t=2,p=2$YXJnb25zYWx0YXJnb25zYWx0$QXXOzBAUZUtNVKptMeXsETA5v6tamaSI", PW),
        ("$argon2d$v=19$m=2048,t=2,p=2$YXJnb25zYWx0YXJnb25zYWx0$lAo4Ak6uxEzjvIUV6Yl/7bZub7Bljjh2", PW),
        ("$argon2id$v=19$m=2048,t=2,p=2$YXJnb25zYWx0YXJnb25zYWx0$vNLEPn0fkbp9F7tcLtsYtgKjeaWmLd++", PW),
        ("$2b$05$MHctAqEqmiqxzR5qFMapRe5rfeIuBuwui6WWjxG2hKyYYsUxf.21a", PW),
        ("$2y$04$d2ibYKKhTBpSXk5fEKY1QufH3KLPnMP7wpc00fiEg951Ns1FrP.J6", PW2),
        ("bcrypt_sha256$$2b$04$xvmQxeUYUkfQGQR5lamxdu4NMuUjNcVH/eOtuiR7LCi4f6Y5/sZ1u", PW),
        ("bcrypt$$2b$04$tEN13ggiDKhsfFzE4L9B4u3TGtVVp2qRCM3M10YR8uOYxBJI5qefi", PW2),
        ("9cc2ae8a1ba7a93da39b46fc1019c481", PW),
        ("1DDD55533A269143DD60C29397B31DB7B072E1ED", PW2),
        ("c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a", PW),
    ];

    #[test]
    fn verifies_independent_vectors() {
        for (hash, pw) in VECTORS {
            assert!(upgradable(hash), "upgradable: {hash}");
            assert!(verify(hash, pw), "right password: {hash}");
            assert!(!verify(hash, &format!("{pw}x")), "wrong password: {hash}");
            assert!(!verify(hash, ""), "empty password: {hash}");
        }
    }

    #[test]
    fn a_damaged_hash_never_matches() {
        for (hash, pw) in VECTORS {
            // One character of the digest changed.
            let i = hash.len() - 6;
            let c = if hash[i..].starts_with(['A', 'a']) { "B" } else { "A" };
            let damaged = format!("{}{c}{}", &hash[..i], &hash[i + 1..]);
            assert!(!verify(&damaged, pw), "{damaged}");
        }
        // The framework forms hold the whole digest: a shortened one is refused.
        for (hash, pw) in
            VECTORS.iter().filter(|(h, _)| !h.starts_with('$') || h.starts_with("$pbkdf2-sha256$1000$"))
        {
            let cut = &hash[..hash.len() - 4];
            assert!(!verify(cut, pw), "{cut}");
        }
    }

    #[test]
    fn coreforge_parameters_are_the_reference_implementations() {
        // `echo -n pw | argon2 saltsaltsaltsalt -id -t 3 -k 65536 -p 2 -l 32 -e` (the reference CLI,
        // Debian's argon2 package): what CoreForge's parameters give for this salt.
        let reference = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$DXaUvpp7bRGL2i+BDEObNe6F5sFNL0SFMbkP3Pmievg";
        assert!(is_coreforge(reference) && verify(reference, "pw") && !verify(reference, "pW"));
        let params = Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)).unwrap();
        let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
        let ours =
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password(b"pw", &salt).unwrap();
        assert_eq!(ours.to_string(), reference);
    }

    #[test]
    fn makes_coreforge_hashes_it_verifies() {
        let h = coreforge_hash("correct horse").unwrap();
        assert!(h.starts_with(COREFORGE_PREFIX), "{h}");
        assert!(is_coreforge(&h) && !upgradable(&h));
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsE"));
        // 16-byte salt (22 base64 characters), 32-byte tag (43).
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!((parts[4].len(), parts[5].len()), (22, 43));
        assert_ne!(h, coreforge_hash("correct horse").unwrap(), "a fresh salt every time");
    }

    #[test]
    fn unknown_formats_never_match() {
        for h in ["", "plaintext", "$7$C6..../....abc", "!unusable", "$1$saltsalt$abcdefghijklmnopqrstuv"] {
            assert!(!verify(h, ""), "{h}");
            assert!(!verify(h, "plaintext"), "{h}");
            assert!(!upgradable(h), "{h}");
        }
    }
}
