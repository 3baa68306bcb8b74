//! Root keys from passphrases, for people who would rather remember than store a key.
//!
//! The passphrase is the only secret, and restricted grants hand out keys derived from
//! it, so guessing it offline must be expensive: Argon2id, memory-hard, with a salt per
//! project so that one precomputed table cannot attack every project at once.

use argon2::{Algorithm, Argon2, Params, Version};

use super::{CryptoError, Key};

/// Argon2id memory cost in KiB (64 MiB).
pub const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes over memory.
pub const ARGON2_ITERATIONS: u32 = 1;
/// Argon2id lanes.
pub const ARGON2_PARALLELISM: u32 = 1;

/// Derives a project's root key from a passphrase and the project's salt (at least 8
/// bytes). The same passphrase and salt always give the same key; the parameters above
/// are part of that contract and must never change for existing projects.
pub fn root_key_from_passphrase(passphrase: &str, salt: &[u8]) -> Result<Key, CryptoError> {
    if passphrase.is_empty() {
        return Err(CryptoError::EmptyPassphrase);
    }
    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_PARALLELISM,
        Some(32),
    )
    .map_err(|e| CryptoError::KeyDerivation(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|e| CryptoError::KeyDerivation(e.to_string()))?;
    Ok(Key::from_bytes(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_key_and_every_input_matters() {
        let salt = b"project-salt-0001";
        let a = root_key_from_passphrase("correct horse", salt).unwrap();
        assert_eq!(a, root_key_from_passphrase("correct horse", salt).unwrap());
        assert_ne!(a, root_key_from_passphrase("correct horsf", salt).unwrap());
        assert_ne!(
            a,
            root_key_from_passphrase("correct horse", b"project-salt-0002").unwrap()
        );
    }

    #[test]
    fn empty_passphrase_and_short_salt_are_refused() {
        assert_eq!(
            root_key_from_passphrase("", b"saltsaltsalt"),
            Err(CryptoError::EmptyPassphrase)
        );
        let err = root_key_from_passphrase("pw", b"short").unwrap_err();
        assert!(matches!(err, CryptoError::KeyDerivation(_)), "{err}");
    }
}
