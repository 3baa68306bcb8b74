use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use uplink_core::protocol::{NodeId, RedundancyScheme};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "segments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    pub root_piece_id: Option<Vec<u8>>,
    pub encrypted_key: Vec<u8>,
    pub encrypted_key_nonce: Vec<u8>,
    pub plain_offset: i64,
    pub plain_size: i64,
    pub piece_size: i64,
    pub rs_k: i16,
    pub rs_repair: i16,
    pub rs_optimal: i16,
    pub rs_total: i16,
    pub rs_share_size: i32,
    pub inline_data: Option<Vec<u8>>,
    /// postcard-encoded `Vec<RemotePiece>`.
    pub pieces: Vec<u8>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub repaired_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where one piece of a remote segment lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePiece {
    pub num: u16,
    pub node: NodeId,
}

impl Model {
    pub fn redundancy(&self) -> RedundancyScheme {
        RedundancyScheme {
            k: self.rs_k as u16,
            repair: self.rs_repair as u16,
            optimal: self.rs_optimal as u16,
            total: self.rs_total as u16,
            share_size: self.rs_share_size as u32,
        }
    }

    pub fn remote_pieces(&self) -> Vec<RemotePiece> {
        postcard::from_bytes(&self.pieces).unwrap_or_default()
    }

    pub fn is_inline(&self) -> bool {
        self.inline_data.is_some()
    }
}

pub fn encode_pieces(pieces: &[RemotePiece]) -> Vec<u8> {
    postcard::to_allocvec(pieces).expect("postcard encoding cannot fail")
}
