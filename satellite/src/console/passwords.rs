//! Password hashing with Argon2id (the argon2 crate's defaults follow OWASP's current
//! recommendation), off the async runtime because each hash takes tens of milliseconds.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{Result, SatelliteError};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Refuses passwords that are too short or absurdly long (hashing cost).
pub fn validate(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(SatelliteError::BadRequest(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(SatelliteError::BadRequest(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
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

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
