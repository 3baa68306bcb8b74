//! Satellite-signed handles for pending objects, pending segments and downloads.
//!
//! Instead of keeping per-upload state in the database between `begin` and `commit`, the
//! satellite hands the uplink a token that carries that state and its own signature; at
//! commit it verifies the signature and expiry. Tokens are opaque to the uplink.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uplink_core::protocol::{
    Identity, NodeId, PieceId, PublicKey, RedundancyScheme, SegmentPosition, Signature, now_unix,
};

use crate::error::{Result, SatelliteError};

/// A pending object being uploaded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamToken {
    pub object_id: String,
    pub project_id: String,
    pub bucket: String,
    pub encrypted_key: String,
    pub expires_at: Option<i64>,
    pub redundancy: RedundancyScheme,
    pub token_expiration: i64,
}

/// A pending remote segment: which nodes were handed limits for which pieces.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SegmentToken {
    pub stream: StreamToken,
    pub position: SegmentPosition,
    pub root_piece_id: PieceId,
    pub piece_public_key: PublicKey,
    pub max_plain_size: u64,
    /// The current assignment: commit accepts receipts for exactly these.
    pub nodes: Vec<(u16, NodeId)>,
    /// Assignments replaced by `segments/retry-pieces`. Their nodes are not selected
    /// again for this segment, and whatever they stored is garbage.
    pub replaced: Vec<(u16, NodeId)>,
    /// Replacement rounds so far (bounded).
    pub retries: u8,
    pub token_expiration: i64,
}

impl SegmentToken {
    /// Every (piece number, node) this segment ever handed a PUT limit to.
    pub fn all_assignments(&self) -> impl Iterator<Item = (u16, NodeId)> + '_ {
        self.nodes.iter().chain(&self.replaced).copied()
    }
}

/// A committed object being downloaded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DownloadToken {
    pub object_id: String,
    pub project_id: String,
    pub bucket: String,
    pub encrypted_key: String,
    pub token_expiration: i64,
}

trait Expiring {
    const DOMAIN: &'static [u8];
    fn token_expiration(&self) -> i64;
}

impl Expiring for StreamToken {
    const DOMAIN: &'static [u8] = b"sj-stream-token-v1";
    fn token_expiration(&self) -> i64 {
        self.token_expiration
    }
}
impl Expiring for SegmentToken {
    const DOMAIN: &'static [u8] = b"sj-segment-token-v2";
    fn token_expiration(&self) -> i64 {
        self.token_expiration
    }
}
impl Expiring for DownloadToken {
    const DOMAIN: &'static [u8] = b"sj-download-token-v1";
    fn token_expiration(&self) -> i64 {
        self.token_expiration
    }
}

/// Signs and opens tokens with the satellite identity.
#[derive(Clone, Debug)]
pub struct TokenSigner {
    identity: Identity,
}

impl TokenSigner {
    pub fn new(identity: Identity) -> Self {
        Self { identity }
    }

    fn seal_any<T: Serialize + Expiring>(&self, token: &T) -> String {
        let body = postcard::to_allocvec(token).expect("postcard encoding cannot fail");
        let mut msg = T::DOMAIN.to_vec();
        msg.extend_from_slice(&body);
        let sig = self.identity.sign_bytes(&msg);
        let mut out = body;
        out.extend_from_slice(&sig.0);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn open_any<T: DeserializeOwned + Expiring>(&self, text: &str, what: &str) -> Result<T> {
        let invalid = || SatelliteError::BadRequest(format!("invalid {what}"));
        let raw = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| invalid())?;
        if raw.len() < 64 {
            return Err(invalid());
        }
        let (body, sig) = raw.split_at(raw.len() - 64);
        let mut msg = T::DOMAIN.to_vec();
        msg.extend_from_slice(body);
        let sig = Signature(sig.try_into().map_err(|_| invalid())?);
        self.identity
            .public_key()
            .verify(&msg, &sig)
            .map_err(|_| invalid())?;
        let token: T = postcard::from_bytes(body).map_err(|_| invalid())?;
        if token.token_expiration() < now_unix() {
            return Err(SatelliteError::BadRequest(format!(
                "{what} expired; start the upload or download again"
            )));
        }
        Ok(token)
    }

    pub fn seal_stream(&self, t: &StreamToken) -> String {
        self.seal_any(t)
    }
    pub fn open_stream(&self, s: &str) -> Result<StreamToken> {
        self.open_any(s, "stream id")
    }
    pub fn seal_segment(&self, t: &SegmentToken) -> String {
        self.seal_any(t)
    }
    pub fn open_segment(&self, s: &str) -> Result<SegmentToken> {
        self.open_any(s, "segment id")
    }
    pub fn seal_download(&self, t: &DownloadToken) -> String {
        self.seal_any(t)
    }
    pub fn open_download(&self, s: &str) -> Result<DownloadToken> {
        self.open_any(s, "download id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamToken {
        StreamToken {
            object_id: "o".into(),
            project_id: "p".into(),
            bucket: "b".into(),
            encrypted_key: "k".into(),
            expires_at: None,
            redundancy: RedundancyScheme::default(),
            token_expiration: now_unix() + 60,
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let signer = TokenSigner::new(Identity::generate(0));
        let sealed = signer.seal_stream(&stream());
        assert_eq!(signer.open_stream(&sealed).unwrap(), stream());

        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        raw[3] ^= 1;
        assert!(signer.open_stream(&URL_SAFE_NO_PAD.encode(&raw)).is_err());

        let other = TokenSigner::new(Identity::generate(0));
        assert!(other.open_stream(&sealed).is_err());
        // A stream token is not a download token, even with the same signer.
        assert!(signer.open_download(&sealed).is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let signer = TokenSigner::new(Identity::generate(0));
        let mut t = stream();
        t.token_expiration = now_unix() - 1;
        let err = signer.open_stream(&signer.seal_stream(&t)).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
    }
}
