//! The wire types that satellite, nodes and uplinks share: one definition of each.
//!
//! Signed structures implement [`identity::Signable`]; HTTP bodies are JSON (metainfo,
//! check-in) or framed binary (piece transfer, see [`wire`]).

pub mod cors;
pub mod edge;
pub mod error;
pub mod exit;
pub mod identity;
pub mod ids;
pub mod metainfo;
pub mod order;
pub mod piece;
pub mod position;
pub mod redundancy;
pub mod retain;
pub mod wire;

pub use error::{ErrorBody, ErrorCode, ProtocolError};
pub use identity::{Identity, PublicKey, Signable, Signature};
pub use ids::{NodeId, PieceId, SerialNumber};
pub use order::{AddressedOrderLimit, OrderLimit, PieceAction};
pub use piece::{BlockHasher, PieceHash};
pub use position::SegmentPosition;
pub use redundancy::RedundancyScheme;
pub use retain::{BloomFilter, RETAIN_PATH, RetainRequest, RetainResponse};

/// Current time in unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `nodeid@host:port`, the way grants and configuration name a satellite or node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeUrl {
    pub id: NodeId,
    pub address: String,
}

impl std::fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.id, self.address)
    }
}

impl std::str::FromStr for NodeUrl {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, address) = s.split_once('@').ok_or_else(|| {
            ProtocolError::Malformed(format!("{s:?} must look like <node id>@<host>:<port>"))
        })?;
        if address.is_empty() || !address.contains(':') {
            return Err(ProtocolError::Malformed(format!(
                "address {address:?} in {s:?} must be host:port"
            )));
        }
        Ok(NodeUrl {
            id: id.parse()?,
            address: address.to_string(),
        })
    }
}

impl serde::Serialize for NodeUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for NodeUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_url_parses_and_rejects() {
        let id = NodeId::random();
        let url: NodeUrl = format!("{id}@127.0.0.1:7777").parse().unwrap();
        assert_eq!(url.id, id);
        assert_eq!(url.address, "127.0.0.1:7777");
        assert_eq!(url.to_string().parse::<NodeUrl>().unwrap(), url);
        assert!("127.0.0.1:7777".parse::<NodeUrl>().is_err());
        assert!(format!("{id}@nohost").parse::<NodeUrl>().is_err());
    }
}
