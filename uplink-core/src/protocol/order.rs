//! Order limits: the satellite's signed permission for one action on one piece at one
//! node. Nodes accept nothing without one.

use serde::{Deserialize, Serialize};

use super::ProtocolError;
use super::identity::{PublicKey, Signable, Signature};
use super::ids::{NodeId, PieceId, SerialNumber};

/// What an order limit allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PieceAction {
    /// Store a new piece (uplink upload).
    Put,
    /// Read a piece (uplink download).
    Get,
    /// Delete a piece (sent by the satellite itself).
    Delete,
    /// Read for an audit (satellite).
    GetAudit,
    /// Read for repair (satellite repair worker).
    GetRepair,
    /// Store a rebuilt piece (satellite repair worker).
    PutRepair,
}

impl PieceAction {
    pub fn is_put(self) -> bool {
        matches!(self, PieceAction::Put | PieceAction::PutRepair)
    }
    pub fn is_get(self) -> bool {
        matches!(
            self,
            PieceAction::Get | PieceAction::GetAudit | PieceAction::GetRepair
        )
    }
}

/// Signed by the satellite; presented to a node by whoever acts on the piece.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLimit {
    pub serial_number: SerialNumber,
    pub satellite_id: NodeId,
    pub node_id: NodeId,
    pub piece_id: PieceId,
    pub action: PieceAction,
    /// Maximum number of piece bytes that may be transferred under this limit.
    pub limit: u64,
    /// The uplink's per-segment public key: piece hashes must be signed by it.
    pub piece_public_key: PublicKey,
    /// Unix seconds.
    pub order_creation: i64,
    /// Unix seconds after which the node refuses the limit.
    pub order_expiration: i64,
    /// Unix seconds after which the piece may be removed by the node, if any.
    pub piece_expiration: Option<i64>,
    pub satellite_signature: Signature,
}

impl Signable for OrderLimit {
    const DOMAIN: &'static [u8] = b"sj-order-limit-v1";
    fn signed_fields(&self) -> Vec<u8> {
        postcard::to_allocvec(&(
            &self.serial_number,
            &self.satellite_id,
            &self.node_id,
            &self.piece_id,
            self.action,
            self.limit,
            &self.piece_public_key,
            self.order_creation,
            self.order_expiration,
            self.piece_expiration,
        ))
        .expect("postcard encoding of plain fields cannot fail")
    }
}

impl OrderLimit {
    /// Checks the satellite's signature with the satellite's public key.
    pub fn verify_signature(&self, satellite_key: &PublicKey) -> Result<(), ProtocolError> {
        if satellite_key.node_id() != self.satellite_id {
            return Err(ProtocolError::Malformed(
                "order limit names a different satellite than the key given".into(),
            ));
        }
        satellite_key.verify(&self.signing_bytes(), &self.satellite_signature)
    }
}

/// An order limit together with where to use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressedOrderLimit {
    pub piece_num: u16,
    /// `host:port` of the node's HTTP API.
    pub address: String,
    pub limit: OrderLimit,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::identity::Identity;

    pub(crate) fn sample(satellite: &Identity) -> OrderLimit {
        let mut limit = OrderLimit {
            serial_number: SerialNumber::random(),
            satellite_id: satellite.node_id(),
            node_id: NodeId::random(),
            piece_id: PieceId::random(),
            action: PieceAction::Put,
            limit: 1 << 20,
            piece_public_key: Identity::generate(0).public_key(),
            order_creation: 1_700_000_000,
            order_expiration: 1_700_003_600,
            piece_expiration: None,
            satellite_signature: Signature::default(),
        };
        limit.satellite_signature = satellite.sign(&limit);
        limit
    }

    /// Every action but `a`, each once: the match makes a new action a compile error
    /// here until it is listed.
    fn other_actions(a: PieceAction) -> Vec<PieceAction> {
        let next = |a| match a {
            PieceAction::Put => PieceAction::Get,
            PieceAction::Get => PieceAction::Delete,
            PieceAction::Delete => PieceAction::GetAudit,
            PieceAction::GetAudit => PieceAction::GetRepair,
            PieceAction::GetRepair => PieceAction::PutRepair,
            PieceAction::PutRepair => PieceAction::Put,
        };
        std::iter::successors(Some(next(a)), |&b| Some(next(b)))
            .take_while(|&b| b != a)
            .collect()
    }

    fn flip<const N: usize>(mut bytes: [u8; N], at: usize) -> [u8; N] {
        bytes[at] ^= 0x01;
        bytes
    }

    /// Copies of `original`, each with one field changed, naming the field. Every field
    /// is taken apart here without `..`, so a field added to [`OrderLimit`] does not
    /// compile until it has its own changes (and so, to pass, is signed).
    fn each_field_changed(original: &OrderLimit) -> Vec<(String, OrderLimit)> {
        let OrderLimit {
            serial_number,
            satellite_id,
            node_id,
            piece_id,
            action,
            limit,
            piece_public_key,
            order_creation,
            order_expiration,
            piece_expiration,
            satellite_signature,
        } = original.clone();
        let base = || original.clone();
        let mut out: Vec<(String, OrderLimit)> = Vec::new();
        for at in [0, 15] {
            out.push((
                format!("serial_number[{at}]"),
                OrderLimit {
                    serial_number: SerialNumber(flip(serial_number.0, at)),
                    ..base()
                },
            ));
        }
        for at in [0, 31] {
            out.push((
                format!("satellite_id[{at}]"),
                OrderLimit {
                    satellite_id: NodeId(flip(satellite_id.0, at)),
                    ..base()
                },
            ));
            out.push((
                format!("node_id[{at}]"),
                OrderLimit {
                    node_id: NodeId(flip(node_id.0, at)),
                    ..base()
                },
            ));
            out.push((
                format!("piece_id[{at}]"),
                OrderLimit {
                    piece_id: PieceId(flip(piece_id.0, at)),
                    ..base()
                },
            ));
            out.push((
                format!("piece_public_key[{at}]"),
                OrderLimit {
                    piece_public_key: PublicKey(flip(piece_public_key.0, at)),
                    ..base()
                },
            ));
        }
        for other in other_actions(action) {
            out.push((
                format!("action {other:?}"),
                OrderLimit {
                    action: other,
                    ..base()
                },
            ));
        }
        for changed in [limit + 1, limit - 1, limit ^ (1 << 40)] {
            out.push((
                format!("limit {changed}"),
                OrderLimit {
                    limit: changed,
                    ..base()
                },
            ));
        }
        for delta in [1, -1] {
            out.push((
                format!("order_creation {delta:+}"),
                OrderLimit {
                    order_creation: order_creation + delta,
                    ..base()
                },
            ));
            out.push((
                format!("order_expiration {delta:+}"),
                OrderLimit {
                    order_expiration: order_expiration + delta,
                    ..base()
                },
            ));
        }
        let expirations = match piece_expiration {
            None => vec![Some(0), Some(order_expiration)],
            Some(t) => vec![None, Some(t + 1), Some(t - 1)],
        };
        for changed in expirations {
            out.push((
                format!("piece_expiration {changed:?}"),
                OrderLimit {
                    piece_expiration: changed,
                    ..base()
                },
            ));
        }
        for at in [0, 63] {
            out.push((
                format!("satellite_signature[{at}]"),
                OrderLimit {
                    satellite_signature: Signature(flip(satellite_signature.0, at)),
                    ..base()
                },
            ));
        }
        out
    }

    #[test]
    fn signed_limit_verifies_and_a_change_to_any_field_breaks_it() {
        let sat = Identity::generate(0);
        let key = sat.public_key();
        for piece_expiration in [None, Some(1_700_086_400)] {
            let mut limit = sample(&sat);
            limit.piece_expiration = piece_expiration;
            limit.satellite_signature = sat.sign(&limit);
            limit.verify_signature(&key).unwrap();
            for (what, changed) in &each_field_changed(&limit) {
                assert_ne!(changed, &limit, "{what}: nothing changed");
                if !what.starts_with("satellite_signature") {
                    assert!(
                        changed.signing_bytes() != limit.signing_bytes(),
                        "{what}: not among the signed bytes"
                    );
                }
                // The signature no longer matches the signed bytes ...
                assert!(
                    matches!(
                        key.verify(&changed.signing_bytes(), &changed.satellite_signature),
                        Err(ProtocolError::BadSignature)
                    ),
                    "{what}: still verifies"
                );
                // ... and the node's check refuses it (a different satellite id is
                // refused before the signature is even checked).
                match changed.verify_signature(&key) {
                    Err(ProtocolError::BadSignature) => {}
                    Err(ProtocolError::Malformed(m)) if what.starts_with("satellite_id") => {
                        assert!(m.contains("different satellite"), "{what}: {m}")
                    }
                    other => panic!("{what}: {other:?}"),
                }
            }
        }

        let forger = Identity::generate(0);
        let limit = sample(&sat);
        let mut forged = limit.clone();
        forged.satellite_signature = forger.sign(&forged);
        assert!(matches!(
            forged.verify_signature(&key),
            Err(ProtocolError::BadSignature)
        ));
        assert!(matches!(
            forged.verify_signature(&forger.public_key()),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn json_round_trip_keeps_signature_valid() {
        let sat = Identity::generate(0);
        let limit = sample(&sat);
        let json = serde_json::to_string(&limit).unwrap();
        let back: OrderLimit = serde_json::from_str(&json).unwrap();
        back.verify_signature(&sat.public_key()).unwrap();
        let bin = postcard::to_allocvec(&limit).unwrap();
        let back: OrderLimit = postcard::from_bytes(&bin).unwrap();
        assert_eq!(back, limit);
    }
}
