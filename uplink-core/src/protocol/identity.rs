//! Ed25519 identities and signatures.
//!
//! Every party that signs something (satellite, node, and the uplink's per-segment piece
//! key) uses the same small types, and every signed structure implements [`Signable`] so
//! that what is signed is always `domain || postcard(fields without the signature)`:
//! a signature made for one kind of message can never be replayed as another.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ProtocolError;
use super::ids::NodeId;

/// An ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Default for Signature {
    fn default() -> Self {
        Signature([0; 64])
    }
}

impl PublicKey {
    /// The node id that belongs to this key.
    pub fn node_id(&self) -> NodeId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"sj-node-id");
        hasher.update(&self.0);
        NodeId(*hasher.finalize().as_bytes())
    }

    /// Verifies `signature` over `message`; the error names what failed.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), ProtocolError> {
        let key = VerifyingKey::from_bytes(&self.0)
            .map_err(|_| ProtocolError::Malformed("invalid ed25519 public key".into()))?;
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &sig)
            .map_err(|_| ProtocolError::BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}..)", hex::encode(&self.0[..8]))
    }
}

macro_rules! bytes_serde {
    ($name:ident, $len:expr) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&B64.encode(self.0))
                } else {
                    serde::Serialize::serialize(&serde_bytes_array::<$len>(&self.0), s)
                }
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bytes: Vec<u8> = if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    B64.decode(s.as_bytes()).map_err(serde::de::Error::custom)?
                } else {
                    <Vec<u8>>::deserialize(d)?
                };
                let arr: [u8; $len] = bytes.as_slice().try_into().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{} must be {} bytes",
                        stringify!($name),
                        $len
                    ))
                })?;
                Ok($name(arr))
            }
        }
    };
}

/// Binary encodings carry fixed arrays as length-prefixed byte strings; this keeps the
/// same shape for keys and signatures.
fn serde_bytes_array<const N: usize>(bytes: &[u8; N]) -> &[u8] {
    bytes.as_slice()
}

bytes_serde!(PublicKey, 32);
bytes_serde!(Signature, 64);

/// A structure that is signed by one party and verified by another.
pub trait Signable {
    /// Distinguishes this message type from every other signed message type.
    const DOMAIN: &'static [u8];

    /// The fields covered by the signature, in a stable binary encoding.
    fn signed_fields(&self) -> Vec<u8>;

    fn signing_bytes(&self) -> Vec<u8> {
        let fields = self.signed_fields();
        let mut out = Vec::with_capacity(Self::DOMAIN.len() + fields.len());
        out.extend_from_slice(Self::DOMAIN);
        out.extend_from_slice(&fields);
        out
    }
}

/// An ed25519 signing identity (satellite, node, or an uplink's per-segment piece key).
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    id: NodeId,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.id)
    }
}

const IDENTITY_FILE_HEADER: &str = "sj-identity-v1";

impl Identity {
    /// A fresh identity whose node id has at least `difficulty` trailing zero bits.
    pub fn generate(difficulty: u32) -> Self {
        loop {
            let identity = Self::from_secret(SigningKey::generate(&mut OsRng).to_bytes());
            if identity.id.difficulty() >= difficulty {
                return identity;
            }
        }
    }

    pub fn from_secret(secret: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&secret);
        let id = PublicKey(key.verifying_key().to_bytes()).node_id();
        Self { key, id }
    }

    pub fn node_id(&self) -> NodeId {
        self.id
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn sign_bytes(&self, message: &[u8]) -> Signature {
        Signature(self.key.sign(message).to_bytes())
    }

    pub fn sign<T: Signable>(&self, message: &T) -> Signature {
        self.sign_bytes(&message.signing_bytes())
    }

    /// Loads the identity stored at `path`, or creates one there (mode 0600) if the file
    /// does not exist yet.
    pub fn load_or_create(path: &Path, difficulty: u32) -> Result<Self, ProtocolError> {
        if path.exists() {
            return Self::load(path);
        }
        let identity = Self::generate(difficulty);
        identity.save(path)?;
        Ok(identity)
    }

    pub fn load(path: &Path) -> Result<Self, ProtocolError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProtocolError::Io(format!("reading identity {}: {e}", path.display())))?;
        let mut lines = text.lines();
        if lines.next() != Some(IDENTITY_FILE_HEADER) {
            return Err(ProtocolError::Malformed(format!(
                "{} is not an identity file",
                path.display()
            )));
        }
        let secret = lines
            .next()
            .and_then(|l| hex::decode(l.trim()).ok())
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| {
                ProtocolError::Malformed(format!("{} holds no valid secret key", path.display()))
            })?;
        Ok(Self::from_secret(secret))
    }

    pub fn save(&self, path: &Path) -> Result<(), ProtocolError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ProtocolError::Io(format!("creating {}: {e}", dir.display())))?;
        }
        let body = format!(
            "{IDENTITY_FILE_HEADER}\n{}\n{}\n",
            hex::encode(self.key.to_bytes()),
            self.id
        );
        write_private_file(path, body.as_bytes())
            .map_err(|e| ProtocolError::Io(format!("writing identity {}: {e}", path.display())))
    }
}

/// Writes a file readable only by its owner (secrets: identities, grants).
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Msg(u32);
    impl Signable for Msg {
        const DOMAIN: &'static [u8] = b"test-msg";
        fn signed_fields(&self) -> Vec<u8> {
            self.0.to_be_bytes().to_vec()
        }
    }

    #[test]
    fn sign_and_verify() {
        let id = Identity::generate(0);
        let sig = id.sign(&Msg(7));
        id.public_key()
            .verify(&Msg(7).signing_bytes(), &sig)
            .unwrap();
        assert!(matches!(
            id.public_key().verify(&Msg(8).signing_bytes(), &sig),
            Err(ProtocolError::BadSignature)
        ));
        let other = Identity::generate(0);
        assert!(
            other
                .public_key()
                .verify(&Msg(7).signing_bytes(), &sig)
                .is_err()
        );
    }

    #[test]
    fn node_id_matches_public_key_and_difficulty() {
        let id = Identity::generate(6);
        assert_eq!(id.node_id(), id.public_key().node_id());
        assert!(id.node_id().difficulty() >= 6);
    }

    #[test]
    fn identity_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let a = Identity::load_or_create(&path, 0).unwrap();
        let b = Identity::load_or_create(&path, 0).unwrap();
        assert_eq!(a.node_id(), b.node_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(Identity::load(&path).is_err());
    }

    #[test]
    fn keys_and_signatures_serialize() {
        let id = Identity::generate(0);
        let pk = id.public_key();
        let json = serde_json::to_string(&pk).unwrap();
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), pk);
        let sig = id.sign_bytes(b"x");
        let bin = postcard::to_allocvec(&sig).unwrap();
        assert_eq!(postcard::from_bytes::<Signature>(&bin).unwrap(), sig);
    }
}
