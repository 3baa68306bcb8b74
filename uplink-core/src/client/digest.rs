//! Digests of an upload's plaintext, taken as it streams past: the MD5 that S3 clients
//! know as the ETag, and the SHA-256 that pins a shared link to exactly this content.
//! Both are sealed into the object's metadata; the satellite sees neither.

use md5::{Digest, Md5};
use sha2::Sha256;

#[derive(Clone)]
pub(crate) struct Digests {
    md5: Md5,
    sha256: Option<Sha256>,
}

impl Digests {
    /// `with_sha256`: also the SHA-256 (not for multipart parts, whose whole-object hash
    /// cannot be formed from the parts).
    pub fn new(with_sha256: bool) -> Self {
        Self {
            md5: Md5::new(),
            sha256: with_sha256.then(Sha256::new),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some(s) = &mut self.sha256 {
            s.update(data);
        }
    }

    /// The MD5 so far, in hex (the digest goes on being updated).
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5.clone().finalize())
    }

    /// The SHA-256 so far, in hex, if taken.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256
            .as_ref()
            .map(|s| hex::encode(s.clone().finalize()))
    }
}

/// The ETag of an object completed from parts: the MD5 of the parts' binary MD5s,
/// then `-` and the number of parts (what S3 returns).
pub fn multipart_etag<'a>(part_md5s_hex: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut outer = Md5::new();
    let mut n = 0usize;
    for hexed in part_md5s_hex {
        outer.update(hex::decode(hexed).ok()?);
        n += 1;
    }
    Some(format!("{}-{n}", hex::encode(outer.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_known_inputs() {
        let mut d = Digests::new(true);
        d.update(b"hello ");
        assert_eq!(d.md5_hex(), hex::encode(Md5::digest(b"hello ")));
        d.update(b"world");
        assert_eq!(d.md5_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(
            d.sha256_hex().unwrap(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(Digests::new(false).sha256_hex(), None);
    }

    #[test]
    fn multipart_etag_is_md5_of_binary_md5s_and_count() {
        // Two parts "a" and "b".
        let a = hex::encode(Md5::digest(b"a"));
        let b = hex::encode(Md5::digest(b"b"));
        let mut concat = Md5::digest(b"a").to_vec();
        concat.extend_from_slice(&Md5::digest(b"b"));
        let expected = format!("{}-2", hex::encode(Md5::digest(&concat)));
        assert_eq!(multipart_etag([a.as_str(), b.as_str()]).unwrap(), expected);
        assert_eq!(multipart_etag(["not hex"]), None);
    }
}
