//! Certificates bound to identities: self-signed with the identity's ed25519 key, so
//! the key a peer proves possession of in the handshake is the key its id hashes.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::TransportError;
use crate::protocol::{Identity, NodeId, PublicKey};

/// DER of an ed25519 SubjectPublicKeyInfo up to the key (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A self-signed certificate for `identity`, and its private key.
pub fn self_signed(
    identity: &Identity,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TransportError> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let signing = ed25519_dalek::SigningKey::from_bytes(&identity.secret_bytes());
    let pkcs8 = signing
        .to_pkcs8_der()
        .map_err(|e| TransportError::Certificate(format!("encoding the identity key: {e}")))?;
    let der = PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
        .map_err(|e| TransportError::Certificate(format!("loading the identity key: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, identity.node_id().to_string());
    // Validity is not what makes the certificate trusted (its key is), so it is long.
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2125, 1, 1);
    let cert = params
        .self_signed(&key_pair)
        .map_err(|e| TransportError::Certificate(format!("signing the certificate: {e}")))?;
    Ok((cert.der().clone(), PrivateKeyDer::Pkcs8(der)))
}

/// The identity whose key `cert` carries; an error unless it is an ed25519 key.
pub fn node_id_of(cert: &CertificateDer<'_>) -> Result<NodeId, TransportError> {
    Ok(public_key_of(cert)?.node_id())
}

pub fn public_key_of(cert: &CertificateDer<'_>) -> Result<PublicKey, TransportError> {
    let parsed = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| TransportError::Certificate(format!("unreadable certificate: {e}")))?;
    let spki = parsed.subject_public_key_info();
    let spki = spki.as_ref();
    match spki.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
        Some(key) if key.len() == 32 => {
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(key);
            Ok(PublicKey(bytes))
        }
        _ => Err(TransportError::Certificate(
            "the certificate does not carry an ed25519 identity key".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_carries_the_identity() {
        let identity = Identity::generate(0);
        let (cert, _) = self_signed(&identity).unwrap();
        assert_eq!(node_id_of(&cert).unwrap(), identity.node_id());
        assert_ne!(node_id_of(&cert).unwrap(), Identity::generate(0).node_id());
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        for der in [vec![], vec![0x30, 0x00], vec![0u8; 300]] {
            assert!(matches!(
                node_id_of(&CertificateDer::from(der)),
                Err(TransportError::Certificate(_))
            ));
        }
    }
}
