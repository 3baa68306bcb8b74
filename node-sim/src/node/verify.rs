//! Order-limit verification: a node acts on a piece only under a limit signed by a
//! satellite it trusts, addressed to it, for the action requested, unexpired, and never
//! used before. Retain requests (garbage collection) are checked here the same way.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use uplink_core::protocol::{
    ErrorCode, NodeId, OrderLimit, PieceAction, PublicKey, RetainRequest, SerialNumber, now_unix,
};

use super::error::{NodeError, fmt_unix};

/// The kind of request a limit is presented for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Accepts `Put` and `PutRepair`.
    Upload,
    /// Accepts `Get`, `GetAudit` and `GetRepair`.
    Download,
    /// Accepts `Delete`.
    Delete,
}

impl ActionKind {
    pub fn allows(self, action: PieceAction) -> bool {
        match self {
            ActionKind::Upload => action.is_put(),
            ActionKind::Download => action.is_get(),
            ActionKind::Delete => action == PieceAction::Delete,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ActionKind::Upload => "upload",
            ActionKind::Download => "download",
            ActionKind::Delete => "delete",
        }
    }
}

/// Serial numbers already honoured, kept until their order limit expires (after which
/// the limit is refused as expired anyway). In memory: a restarted node forgets them.
#[derive(Debug, Default)]
pub struct SerialStore {
    inner: Mutex<SerialInner>,
}

#[derive(Debug, Default)]
struct SerialInner {
    used: HashMap<(NodeId, SerialNumber), i64>,
    next_prune: i64,
}

/// How often expired serials are dropped.
const PRUNE_EVERY_SECS: i64 = 60;

impl SerialStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `serial` as used until `expiration`; `false` if it was already used.
    pub fn use_once(
        &self,
        satellite: NodeId,
        serial: SerialNumber,
        expiration: i64,
        now: i64,
    ) -> bool {
        let mut inner = self.inner.lock();
        if now >= inner.next_prune {
            inner.used.retain(|_, exp| *exp >= now);
            inner.next_prune = now + PRUNE_EVERY_SECS;
        }
        match inner.used.entry((satellite, serial)) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(expiration);
                true
            }
        }
    }

    /// Number of serials remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().used.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks order limits on behalf of one node.
#[derive(Debug)]
pub struct OrderVerifier {
    node_id: NodeId,
    /// Trusted satellites, and their keys once known.
    satellites: RwLock<HashMap<NodeId, Option<PublicKey>>>,
    serials: SerialStore,
    max_clock_skew: i64,
}

impl OrderVerifier {
    /// A verifier for `node_id` trusting `satellites` (keys still unknown).
    pub fn new(
        node_id: NodeId,
        satellites: impl IntoIterator<Item = NodeId>,
        max_clock_skew: Duration,
    ) -> Self {
        Self {
            node_id,
            satellites: RwLock::new(satellites.into_iter().map(|s| (s, None)).collect()),
            serials: SerialStore::new(),
            max_clock_skew: i64::try_from(max_clock_skew.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Registers the public key of a trusted satellite (pinned in configuration or
    /// learned at check-in). The key must hash to a trusted satellite id.
    pub fn add_satellite_key(&self, key: PublicKey) -> Result<NodeId, NodeError> {
        let id = key.node_id();
        let mut sats = self.satellites.write();
        match sats.get_mut(&id) {
            Some(slot) => {
                *slot = Some(key);
                Ok(id)
            }
            None => Err(NodeError::UntrustedSatellite(format!(
                "public key {key:?} belongs to satellite {id}, which this node does not trust"
            ))),
        }
    }

    /// Registers the key that satellite `expected` presented; refuses a key that does not
    /// hash to `expected`.
    pub fn learn_key(&self, expected: NodeId, key: PublicKey) -> Result<(), NodeError> {
        if key.node_id() != expected {
            return Err(NodeError::UntrustedSatellite(format!(
                "satellite {expected} presented a public key that belongs to {}",
                key.node_id()
            )));
        }
        self.add_satellite_key(key).map(|_| ())
    }

    pub fn is_trusted(&self, satellite: &NodeId) -> bool {
        self.satellites.read().contains_key(satellite)
    }

    /// The key of a trusted satellite, once known.
    pub fn satellite_key(&self, satellite: &NodeId) -> Option<PublicKey> {
        self.satellites.read().get(satellite).copied().flatten()
    }

    /// The node this verifier checks limits for.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Serials used so far.
    pub fn serials(&self) -> &SerialStore {
        &self.serials
    }

    /// The key of trusted satellite `satellite`, or why there is none, for a message of
    /// kind `what` signed by it.
    fn trusted_key(&self, satellite: &NodeId, what: &str) -> Result<PublicKey, NodeError> {
        match self.satellites.read().get(satellite) {
            None => Err(NodeError::UntrustedSatellite(format!(
                "{what} is signed by satellite {satellite}, which this node does not trust"
            ))),
            Some(None) => Err(NodeError::UntrustedSatellite(format!(
                "the public key of satellite {satellite} is not known yet (it has not \
                 answered a check-in and none is configured)"
            ))),
            Some(Some(key)) => Ok(*key),
        }
    }

    /// Verifies a retain request as of `now`: addressed to this node, signed by a trusted
    /// satellite, created no further ahead of this node's clock than the allowed skew
    /// and no longer than `max_age` ago, and with its snapshot no later than its
    /// creation. Whether it is newer than the last one applied is the caller's to check.
    pub fn verify_retain(
        &self,
        request: &RetainRequest,
        now: i64,
        max_age: Duration,
    ) -> Result<(), NodeError> {
        let refuse = |code, message: String| NodeError::Retain { code, message };
        let key = self.trusted_key(&request.satellite_id, "retain request")?;
        if request.node_id != self.node_id {
            return Err(refuse(
                ErrorCode::WrongNode,
                format!(
                    "it is for node {}, this is node {}",
                    request.node_id, self.node_id
                ),
            ));
        }
        request.verify_signature(&key).map_err(|e| {
            refuse(
                ErrorCode::PermissionDenied,
                format!(
                    "its signature does not verify under the key of satellite {}: {e}",
                    request.satellite_id
                ),
            )
        })?;
        if request.created_at > now.saturating_add(self.max_clock_skew) {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!(
                    "it was created at {}, more than {} s ahead of this node's clock (now {})",
                    fmt_unix(request.created_at),
                    self.max_clock_skew,
                    fmt_unix(now)
                ),
            ));
        }
        let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        if request.created_at < now.saturating_sub(max_age) {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!(
                    "it was created at {}, more than {max_age} s ago (now {})",
                    fmt_unix(request.created_at),
                    fmt_unix(now)
                ),
            ));
        }
        if request.created_before > request.created_at {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!(
                    "its snapshot time {} is after its creation time {}",
                    fmt_unix(request.created_before),
                    fmt_unix(request.created_at)
                ),
            ));
        }
        Ok(())
    }

    /// Verifies `limit` for a request of kind `expected`, now.
    pub fn verify(&self, limit: &OrderLimit, expected: ActionKind) -> Result<(), NodeError> {
        self.verify_at(limit, expected, now_unix())
    }

    /// Verifies `limit` as of `now` (unix seconds). Checks, in order: addressed to this
    /// node, trusted satellite with known key, satellite signature, action, expiration
    /// (and creation not further in the future than the allowed clock skew), piece
    /// expiration, and finally that the serial was never used; the serial is recorded
    /// only when every other check passed.
    pub fn verify_at(
        &self,
        limit: &OrderLimit,
        expected: ActionKind,
        now: i64,
    ) -> Result<(), NodeError> {
        if limit.node_id != self.node_id {
            return Err(NodeError::WrongNode {
                limit_node: limit.node_id,
                this_node: self.node_id,
            });
        }
        let key = self.trusted_key(&limit.satellite_id, "order limit")?;
        limit.verify_signature(&key).map_err(|e| {
            NodeError::OrderLimitInvalid(format!(
                "satellite signature on order limit {} does not verify under the key of \
                 satellite {}: {e}",
                limit.serial_number, limit.satellite_id
            ))
        })?;
        if !expected.allows(limit.action) {
            return Err(NodeError::OrderLimitInvalid(format!(
                "order limit {} allows {:?}, not {}",
                limit.serial_number,
                limit.action,
                expected.name()
            )));
        }
        if now > limit.order_expiration {
            return Err(NodeError::OrderLimitExpired(format!(
                "order limit {} expired at {} (now {})",
                limit.serial_number,
                fmt_unix(limit.order_expiration),
                fmt_unix(now)
            )));
        }
        if limit.order_creation > now.saturating_add(self.max_clock_skew) {
            return Err(NodeError::OrderLimitInvalid(format!(
                "order limit {} was created at {}, more than {} s ahead of this node's clock \
                 (now {})",
                limit.serial_number,
                fmt_unix(limit.order_creation),
                self.max_clock_skew,
                fmt_unix(now)
            )));
        }
        if let Some(piece_expiration) = limit.piece_expiration
            && piece_expiration < now
        {
            return Err(NodeError::OrderLimitExpired(format!(
                "order limit {} is for a piece that expired at {} (now {})",
                limit.serial_number,
                fmt_unix(piece_expiration),
                fmt_unix(now)
            )));
        }
        if !self.serials.use_once(
            limit.satellite_id,
            limit.serial_number,
            limit.order_expiration,
            now,
        ) {
            return Err(NodeError::SerialReused {
                satellite: limit.satellite_id,
                serial: limit.serial_number,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use uplink_core::protocol::{ErrorCode, Identity, PieceId, Signature};

    use super::*;

    const NOW: i64 = 1_800_000_000;

    struct Setup {
        sat: Identity,
        node: NodeId,
        verifier: OrderVerifier,
    }

    fn setup() -> Setup {
        let sat = Identity::generate(0);
        let node = NodeId::random();
        let verifier = OrderVerifier::new(node, [sat.node_id()], Duration::from_secs(300));
        verifier.add_satellite_key(sat.public_key()).unwrap();
        Setup {
            sat,
            node,
            verifier,
        }
    }

    fn limit(s: &Setup, action: PieceAction, edit: impl FnOnce(&mut OrderLimit)) -> OrderLimit {
        let mut l = OrderLimit {
            serial_number: SerialNumber::random(),
            satellite_id: s.sat.node_id(),
            node_id: s.node,
            piece_id: PieceId::random(),
            action,
            limit: 1000,
            piece_public_key: Identity::generate(0).public_key(),
            order_creation: NOW - 10,
            order_expiration: NOW + 3600,
            piece_expiration: None,
            satellite_signature: Signature::default(),
        };
        edit(&mut l);
        l.satellite_signature = s.sat.sign(&l);
        l
    }

    fn code(r: Result<(), NodeError>) -> ErrorCode {
        r.expect_err("must be refused").code()
    }

    #[test]
    fn accepts_each_action_for_its_kind_only() {
        let s = setup();
        use ActionKind::*;
        use PieceAction::*;
        for (action, kind) in [
            (Put, Upload),
            (PutRepair, Upload),
            (Get, Download),
            (GetAudit, Download),
            (GetRepair, Download),
            (PieceAction::Delete, ActionKind::Delete),
        ] {
            let l = limit(&s, action, |_| {});
            for other in [Upload, Download, ActionKind::Delete] {
                if other != kind {
                    assert_eq!(
                        code(s.verifier.verify_at(&l, other, NOW)),
                        ErrorCode::OrderLimitInvalid
                    );
                }
            }
            s.verifier.verify_at(&l, kind, NOW).unwrap();
        }
    }

    #[test]
    fn refusals_name_the_problem() {
        let s = setup();
        let other = Identity::generate(0);

        let l = limit(&s, PieceAction::Put, |l| l.node_id = NodeId::random());
        let err = s
            .verifier
            .verify_at(&l, ActionKind::Upload, NOW)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::WrongNode);
        assert!(err.to_string().contains(&s.node.to_string()), "{err}");

        let mut l = limit(&s, PieceAction::Put, |l| l.satellite_id = other.node_id());
        l.satellite_signature = other.sign(&l);
        let err = s
            .verifier
            .verify_at(&l, ActionKind::Upload, NOW)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::UntrustedSatellite);
        assert!(err.to_string().contains("does not trust"), "{err}");

        let mut l = limit(&s, PieceAction::Put, |_| {});
        l.satellite_signature = other.sign(&l);
        assert_eq!(
            code(s.verifier.verify_at(&l, ActionKind::Upload, NOW)),
            ErrorCode::OrderLimitInvalid
        );
        let mut l = limit(&s, PieceAction::Put, |_| {});
        l.limit += 1;
        assert_eq!(
            code(s.verifier.verify_at(&l, ActionKind::Upload, NOW)),
            ErrorCode::OrderLimitInvalid
        );

        let l = limit(&s, PieceAction::Put, |l| l.order_expiration = NOW - 1);
        let err = s
            .verifier
            .verify_at(&l, ActionKind::Upload, NOW)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::OrderLimitExpired);
        assert!(
            err.to_string()
                .contains("expired at 2027-01-15T07:59:59Z (now 2027-01-15T08:00:00Z)"),
            "{err}"
        );

        let l = limit(&s, PieceAction::Put, |l| l.order_creation = NOW + 301);
        let err = s
            .verifier
            .verify_at(&l, ActionKind::Upload, NOW)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::OrderLimitInvalid);
        assert!(err.to_string().contains("ahead"), "{err}");
        let l = limit(&s, PieceAction::Put, |l| l.order_creation = NOW + 299);
        s.verifier.verify_at(&l, ActionKind::Upload, NOW).unwrap();

        let l = limit(&s, PieceAction::Put, |l| l.piece_expiration = Some(NOW - 1));
        assert_eq!(
            code(s.verifier.verify_at(&l, ActionKind::Upload, NOW)),
            ErrorCode::OrderLimitExpired
        );
    }

    #[test]
    fn unknown_key_of_a_trusted_satellite_is_refused_until_learned() {
        let sat = Identity::generate(0);
        let node = NodeId::random();
        let v = OrderVerifier::new(node, [sat.node_id()], Duration::from_secs(300));
        let mut l = OrderLimit {
            serial_number: SerialNumber::random(),
            satellite_id: sat.node_id(),
            node_id: node,
            piece_id: PieceId::random(),
            action: PieceAction::Get,
            limit: 10,
            piece_public_key: PublicKey::default(),
            order_creation: NOW,
            order_expiration: NOW + 10,
            piece_expiration: None,
            satellite_signature: Signature::default(),
        };
        l.satellite_signature = sat.sign(&l);
        let err = v.verify_at(&l, ActionKind::Download, NOW).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UntrustedSatellite);
        assert!(err.to_string().contains("not known yet"), "{err}");
        // A key that hashes to another id is refused.
        assert!(
            v.learn_key(sat.node_id(), Identity::generate(0).public_key())
                .is_err()
        );
        assert!(
            v.add_satellite_key(Identity::generate(0).public_key())
                .is_err()
        );
        v.learn_key(sat.node_id(), sat.public_key()).unwrap();
        v.verify_at(&l, ActionKind::Download, NOW).unwrap();
    }

    #[test]
    fn serials_are_used_once_and_only_after_every_other_check() {
        let s = setup();
        let l = limit(&s, PieceAction::Get, |_| {});
        // A refused attempt does not burn the serial.
        assert!(s.verifier.verify_at(&l, ActionKind::Upload, NOW).is_err());
        assert!(s.verifier.verifier_is_fresh());
        s.verifier.verify_at(&l, ActionKind::Download, NOW).unwrap();
        let err = s
            .verifier
            .verify_at(&l, ActionKind::Download, NOW)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::SerialReused);
        assert!(err.to_string().contains(&l.serial_number.to_string()));
    }

    #[test]
    fn expired_serials_are_pruned() {
        let store = SerialStore::new();
        let sat = NodeId::random();
        let serial = SerialNumber::random();
        assert!(store.use_once(sat, serial, NOW + 10, NOW));
        assert!(!store.use_once(sat, serial, NOW + 10, NOW + 5));
        assert!(store.use_once(NodeId::random(), serial, NOW + 10, NOW + 5));
        assert!(store.use_once(sat, SerialNumber::random(), NOW + 1000, NOW + 100));
        assert_eq!(store.len(), 1, "the serials expired at NOW + 10 are gone");
    }

    #[test]
    fn retain_requests_are_checked_at_the_edges_of_their_time_window() {
        use uplink_core::protocol::BloomFilter;
        let s = setup();
        let day = Duration::from_secs(86_400);
        let request = |created_before: i64, created_at: i64| {
            RetainRequest::signed(
                &s.sat,
                s.node,
                created_before,
                created_at,
                BloomFilter::new(10, 0.1),
                10,
            )
        };
        let check = |r: &RetainRequest| s.verifier.verify_retain(r, NOW, day);
        // Ahead by exactly the allowed skew, old by exactly the maximum age, a snapshot
        // at the creation time: accepted.
        check(&request(NOW, NOW + 300)).unwrap();
        check(&request(NOW - 86_400, NOW - 86_400)).unwrap();
        check(&request(NOW, NOW)).unwrap();
        check(&request(i64::MIN, NOW)).unwrap();
        for (what, r, want) in [
            ("one second too far ahead", request(NOW, NOW + 301), "ahead"),
            (
                "one second too old",
                request(NOW - 86_401, NOW - 86_401),
                "ago",
            ),
            (
                "snapshot after creation",
                request(NOW + 1, NOW),
                "after its creation",
            ),
        ] {
            let err = check(&r).unwrap_err();
            assert_eq!(err.code(), ErrorCode::BadRequest, "{what}");
            assert!(err.to_string().contains(want), "{what}: {err}");
        }
        // Keys: unknown satellite, known satellite whose key is not learned yet.
        let stranger = Identity::generate(0);
        let r = RetainRequest::signed(&stranger, s.node, NOW, NOW, BloomFilter::new(1, 0.1), 0);
        assert_eq!(code(check(&r)), ErrorCode::UntrustedSatellite);
        let v = OrderVerifier::new(s.node, [s.sat.node_id()], Duration::from_secs(300));
        let err = v.verify_retain(&request(NOW, NOW), NOW, day).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UntrustedSatellite);
        assert!(err.to_string().contains("not known yet"), "{err}");
    }

    impl OrderVerifier {
        fn verifier_is_fresh(&self) -> bool {
            self.serials.is_empty()
        }
    }
}
