//! Signing of order limits: the only way anyone gets a node to act on a piece.

use std::time::Duration;

use uplink_core::protocol::{
    AddressedOrderLimit, Identity, NodeId, OrderLimit, PieceAction, PieceId, PublicKey,
    SerialNumber, Signature, now_unix,
};

/// One piece a limit is requested for.
#[derive(Clone, Debug)]
pub struct LimitTarget {
    pub piece_num: u16,
    pub node_id: NodeId,
    pub address: String,
}

#[derive(Clone, Debug)]
pub struct OrderSigner {
    identity: Identity,
    expiration: Duration,
}

impl OrderSigner {
    pub fn new(identity: Identity, expiration: Duration) -> Self {
        Self {
            identity,
            expiration,
        }
    }

    pub fn satellite_id(&self) -> NodeId {
        self.identity.node_id()
    }

    pub fn public_key(&self) -> PublicKey {
        self.identity.public_key()
    }

    /// One signed limit per target; the piece id is derived per node from `root`.
    pub fn limits(
        &self,
        action: PieceAction,
        root: PieceId,
        targets: &[LimitTarget],
        limit: u64,
        piece_public_key: PublicKey,
        piece_expiration: Option<i64>,
    ) -> Vec<AddressedOrderLimit> {
        let now = now_unix();
        targets
            .iter()
            .map(|t| AddressedOrderLimit {
                piece_num: t.piece_num,
                address: t.address.clone(),
                limit: self.sign(OrderLimit {
                    serial_number: SerialNumber::random(),
                    satellite_id: self.identity.node_id(),
                    node_id: t.node_id,
                    piece_id: root.derive(&t.node_id, t.piece_num),
                    action,
                    limit,
                    piece_public_key,
                    order_creation: now,
                    order_expiration: now + self.expiration.as_secs() as i64,
                    piece_expiration,
                    satellite_signature: Signature::default(),
                }),
            })
            .collect()
    }

    /// A limit for the satellite itself to delete one piece.
    pub fn delete_limit(&self, node_id: NodeId, piece_id: PieceId) -> OrderLimit {
        let now = now_unix();
        self.sign(OrderLimit {
            serial_number: SerialNumber::random(),
            satellite_id: self.identity.node_id(),
            node_id,
            piece_id,
            action: PieceAction::Delete,
            limit: 0,
            piece_public_key: self.identity.public_key(),
            order_creation: now,
            order_expiration: now + self.expiration.as_secs() as i64,
            piece_expiration: None,
            satellite_signature: Signature::default(),
        })
    }

    fn sign(&self, mut limit: OrderLimit) -> OrderLimit {
        limit.satellite_signature = self.identity.sign(&limit);
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_signed_and_derived_per_node() {
        let sat = Identity::generate(0);
        let signer = OrderSigner::new(sat.clone(), Duration::from_secs(60));
        let root = PieceId::random();
        let targets: Vec<LimitTarget> = (0..3)
            .map(|i| LimitTarget {
                piece_num: i,
                node_id: NodeId::random(),
                address: format!("127.0.{i}.1:1"),
            })
            .collect();
        let key = Identity::generate(0).public_key();
        let limits = signer.limits(PieceAction::Put, root, &targets, 100, key, None);
        assert_eq!(limits.len(), 3);
        for (l, t) in limits.iter().zip(&targets) {
            l.limit.verify_signature(&sat.public_key()).unwrap();
            assert_eq!(l.limit.piece_id, root.derive(&t.node_id, t.piece_num));
            assert_eq!(l.limit.limit, 100);
            assert!(l.limit.order_expiration > l.limit.order_creation);
        }
        assert_ne!(limits[0].limit.serial_number, limits[1].limit.serial_number);
    }
}
