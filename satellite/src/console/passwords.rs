//! Password rules and hashing with Argon2id (the argon2 crate's defaults follow OWASP's
//! current recommendation), off the async runtime because each hash takes tens of
//! milliseconds.
//!
//! Every password is checked against [`MAX_PASSWORD_BYTES`] before it is hashed, at
//! sign-up, login and password change alike: Argon2 reads all of its input, so an
//! unbounded password is unbounded work for whoever sends it. New passwords must also
//! not be the account's email (or its part before the `@`) nor one of the most common
//! passwords, which are the first guesses of every attacker.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{Result, SatelliteError};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Refuses a password too long to be worth hashing; for every password received.
pub fn check_length(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(SatelliteError::BadRequest(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Refuses a new password for the account `email` (already normalized) that is too
/// short or too long, the email itself or its local part, or a common password.
pub fn validate(password: &str, email: &str) -> Result<()> {
    check_length(password)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(SatelliteError::BadRequest(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let lower = password.trim().to_lowercase();
    let local = email.split_once('@').map_or(email, |(local, _)| local);
    if lower == email || lower == local {
        return Err(SatelliteError::BadRequest(
            "the password must not be your email address or its name part; choose another".into(),
        ));
    }
    if COMMON.contains(lower.as_str()) {
        return Err(SatelliteError::BadRequest(
            "this password is one of the most commonly used ones, which attackers try \
             first; choose another"
                .into(),
        ));
    }
    Ok(())
}

pub async fn hash(password: &str) -> Result<String> {
    let password = zeroize::Zeroizing::new(password.to_string());
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| SatelliteError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| SatelliteError::Internal(e.to_string()))?
}

/// Whether `password` matches the PHC string `stored`.
pub async fn verify(password: &str, stored: &str) -> Result<bool> {
    let password = zeroize::Zeroizing::new(password.to_string());
    let stored = stored.to_string();
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| SatelliteError::Internal(format!("stored password hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| SatelliteError::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").await.unwrap();
        let b = hash("correct horse battery").await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a).await.unwrap());
        assert!(!verify("correct horse batterx", &a).await.unwrap());
    }

    fn refusal(password: &str, email: &str) -> String {
        match validate(password, email) {
            Err(SatelliteError::BadRequest(why)) => why,
            other => panic!("{password:?} for {email}: {other:?}"),
        }
    }

    #[test]
    fn length_rules() {
        assert!(refusal("short", "ann@example.com").contains("at least 8"));
        validate("long enough", "ann@example.com").unwrap();
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(refusal(&long, "ann@example.com").contains("at most 1024 bytes"));
        assert!(matches!(
            check_length(&long),
            Err(SatelliteError::BadRequest(_))
        ));
        check_length(&"x".repeat(MAX_PASSWORD_BYTES)).unwrap();
    }

    #[test]
    fn the_email_and_common_passwords_are_refused_in_any_case() {
        for (password, email) in [
            ("annabelle@example.com", "annabelle@example.com"),
            ("ANNABELLE@Example.com", "annabelle@example.com"),
            ("Annabelle", "annabelle@example.com"),
        ] {
            assert!(
                refusal(password, email).contains("email address"),
                "{password}"
            );
        }
        for common in [
            "password",
            "Password1",
            "QWERTYUIOP",
            "iloveyou",
            "12345678",
        ] {
            assert!(
                refusal(common, "ann@example.com").contains("most commonly used"),
                "{common}"
            );
        }
        validate("annabelle1@x", "annabelle@example.com").unwrap();
        validate("correct horse", "ann@example.com").unwrap();
    }

    #[test]
    fn the_common_list_is_lower_case_and_long_enough_to_matter() {
        assert!(COMMON.len() >= 300, "{}", COMMON.len());
        for p in COMMON.iter() {
            assert_eq!(*p, p.to_lowercase(), "{p}");
            assert!(p.chars().count() >= MIN_PASSWORD_CHARS, "{p}");
        }
    }
}
