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

    #[test]
    fn signed_limit_verifies_and_any_change_breaks_it() {
        let sat = Identity::generate(0);
        let limit = sample(&sat);
        limit.verify_signature(&sat.public_key()).unwrap();

        let mut bigger = limit.clone();
        bigger.limit += 1;
        assert!(bigger.verify_signature(&sat.public_key()).is_err());

        let mut other_action = limit.clone();
        other_action.action = PieceAction::Get;
        assert!(other_action.verify_signature(&sat.public_key()).is_err());

        let forger = Identity::generate(0);
        let mut forged = limit.clone();
        forged.satellite_signature = forger.sign(&forged);
        assert!(forged.verify_signature(&sat.public_key()).is_err());
        assert!(forged.verify_signature(&forger.public_key()).is_err());
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
