//! Segments: typed reads, inserts, deletes, paging for the segment loop, and the
//! compare-and-swap of a segment's piece set.

use std::fmt;

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uplink_core::protocol::metainfo::Sealed;
use uplink_core::protocol::{PieceId, RedundancyScheme, SegmentPosition};

use super::{MetabaseError, Piece, PieceSet};
use crate::db::entities::segment;
use crate::error::Result;

/// A segment's address: its object (stream) id and position (part, index).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentKey {
    pub object_id: String,
    pub position: SegmentPosition,
}

impl fmt::Display for SegmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.object_id, self.position)
    }
}

/// Where a segment's data is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentData {
    /// Small enough to live in the database.
    Inline(Vec<u8>),
    Remote(RemoteSegment),
}

/// The part of a remote segment that repair, audit and garbage collection need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSegment {
    pub root_piece_id: PieceId,
    pub scheme: RedundancyScheme,
    /// Bytes of each piece.
    pub piece_size: u64,
    pub pieces: PieceSet,
}

/// One segment, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub key: SegmentKey,
    pub encrypted_key: Sealed,
    pub plain_offset: u64,
    pub plain_size: u64,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub repaired_at: Option<i64>,
    pub data: SegmentData,
    /// The ETag of the multipart part this segment ends, sealed by the uplink.
    pub encrypted_etag: Option<Sealed>,
    /// The piece set exactly as read, for compare-and-swap.
    stored_pieces: Vec<u8>,
}

impl Segment {
    pub fn remote(&self) -> Option<&RemoteSegment> {
        match &self.data {
            SegmentData::Remote(r) => Some(r),
            SegmentData::Inline(_) => None,
        }
    }

    pub fn is_inline(&self) -> bool {
        matches!(self.data, SegmentData::Inline(_))
    }

    /// A new inline segment (at `plain_offset` 0; the object's commit sets offsets).
    pub fn new_inline(
        key: SegmentKey,
        encrypted_key: Sealed,
        plain_size: u64,
        data: Vec<u8>,
        created_at: i64,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            key,
            encrypted_key,
            plain_offset: 0,
            plain_size,
            created_at,
            expires_at,
            repaired_at: None,
            data: SegmentData::Inline(data),
            encrypted_etag: None,
            stored_pieces: Vec::new(),
        }
    }

    /// A new remote segment.
    pub fn new_remote(
        key: SegmentKey,
        encrypted_key: Sealed,
        plain_size: u64,
        remote: RemoteSegment,
        created_at: i64,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            key,
            encrypted_key,
            plain_offset: 0,
            plain_size,
            created_at,
            expires_at,
            repaired_at: None,
            data: SegmentData::Remote(remote),
            encrypted_etag: None,
            stored_pieces: Vec::new(),
        }
    }

    /// This segment as a segment of another object: the same pieces, its key sealed
    /// anew for the other object's path.
    pub fn copied(&self, object_id: &str, encrypted_key: Sealed, created_at: i64) -> Self {
        Self {
            key: SegmentKey {
                object_id: object_id.to_string(),
                position: self.key.position,
            },
            encrypted_key,
            created_at,
            encrypted_etag: None,
            ..self.clone()
        }
    }

    fn decode(row: segment::Model) -> Result<Self, MetabaseError> {
        let key = SegmentKey {
            object_id: row.object_id.clone(),
            position: SegmentPosition::decode(row.position).map_err(|e| {
                MetabaseError::Corrupt {
                    key: SegmentKey {
                        object_id: row.object_id.clone(),
                        position: SegmentPosition::default(),
                    },
                    reason: e.to_string(),
                }
            })?,
        };
        let corrupt = |reason: String| MetabaseError::Corrupt {
            key: key.clone(),
            reason,
        };
        let data = match (&row.inline_data, &row.root_piece_id) {
            (Some(data), None) => SegmentData::Inline(data.clone()),
            (None, Some(root)) => {
                let root_piece_id = PieceId::from_slice(root)
                    .map_err(|e| corrupt(format!("root piece id: {e}")))?;
                let scheme = RedundancyScheme {
                    k: u16::try_from(row.rs_k).map_err(|_| corrupt("negative k".into()))?,
                    repair: u16::try_from(row.rs_repair)
                        .map_err(|_| corrupt("negative repair threshold".into()))?,
                    optimal: u16::try_from(row.rs_optimal)
                        .map_err(|_| corrupt("negative optimal".into()))?,
                    total: u16::try_from(row.rs_total)
                        .map_err(|_| corrupt("negative total".into()))?,
                    share_size: u32::try_from(row.rs_share_size)
                        .map_err(|_| corrupt("negative share size".into()))?,
                };
                scheme
                    .validate()
                    .map_err(|e| corrupt(format!("redundancy scheme: {e}")))?;
                let pieces = PieceSet::decode(&row.pieces).map_err(|e| corrupt(e.to_string()))?;
                if let Some(p) = pieces.iter().find(|p| p.num >= scheme.total) {
                    return Err(corrupt(format!(
                        "piece number {} outside the scheme's {} pieces",
                        p.num, scheme.total
                    )));
                }
                SegmentData::Remote(RemoteSegment {
                    root_piece_id,
                    scheme,
                    piece_size: u64::try_from(row.piece_size)
                        .map_err(|_| corrupt("negative piece size".into()))?,
                    pieces,
                })
            }
            (Some(_), Some(_)) => return Err(corrupt("both inline data and pieces".into())),
            (None, None) => return Err(corrupt("neither inline data nor pieces".into())),
        };
        Ok(Self {
            plain_offset: u64::try_from(row.plain_offset)
                .map_err(|_| corrupt("negative offset".into()))?,
            plain_size: u64::try_from(row.plain_size)
                .map_err(|_| corrupt("negative size".into()))?,
            encrypted_key: Sealed {
                ciphertext: row.encrypted_key,
                nonce: row.encrypted_key_nonce,
            },
            created_at: row.created_at,
            expires_at: row.expires_at,
            repaired_at: row.repaired_at,
            data,
            encrypted_etag: match (row.encrypted_etag, row.encrypted_etag_nonce) {
                (Some(ciphertext), Some(nonce)) => Some(Sealed { ciphertext, nonce }),
                _ => None,
            },
            stored_pieces: row.pieces,
            key,
        })
    }

    fn to_row(&self) -> segment::ActiveModel {
        let (root, scheme, piece_size, pieces, inline) = match &self.data {
            SegmentData::Inline(data) => (
                None,
                RedundancyScheme {
                    k: 0,
                    repair: 0,
                    optimal: 0,
                    total: 0,
                    share_size: 0,
                },
                0,
                PieceSet::default().encode(),
                Some(data.clone()),
            ),
            SegmentData::Remote(r) => (
                Some(r.root_piece_id.0.to_vec()),
                r.scheme,
                r.piece_size,
                r.pieces.encode(),
                None,
            ),
        };
        segment::ActiveModel {
            object_id: Set(self.key.object_id.clone()),
            position: Set(self.key.position.encode()),
            root_piece_id: Set(root),
            encrypted_key: Set(self.encrypted_key.ciphertext.clone()),
            encrypted_key_nonce: Set(self.encrypted_key.nonce.clone()),
            plain_offset: Set(self.plain_offset as i64),
            plain_size: Set(self.plain_size as i64),
            piece_size: Set(piece_size as i64),
            rs_k: Set(scheme.k as i16),
            rs_repair: Set(scheme.repair as i16),
            rs_optimal: Set(scheme.optimal as i16),
            rs_total: Set(scheme.total as i16),
            rs_share_size: Set(scheme.share_size as i32),
            inline_data: Set(inline),
            pieces: Set(pieces),
            created_at: Set(self.created_at),
            expires_at: Set(self.expires_at),
            repaired_at: Set(self.repaired_at),
            encrypted_etag: Set(self.encrypted_etag.as_ref().map(|e| e.ciphertext.clone())),
            encrypted_etag_nonce: Set(self.encrypted_etag.as_ref().map(|e| e.nonce.clone())),
        }
    }
}

fn decode_all(rows: Vec<segment::Model>) -> Result<Vec<Segment>> {
    rows.into_iter()
        .map(|r| Segment::decode(r).map_err(Into::into))
        .collect()
}

/// Inserts a new segment; `Ok(false)` if one exists at its key already.
pub async fn insert<C: ConnectionTrait>(conn: &C, segment: &Segment) -> Result<bool> {
    match segment::Entity::insert(segment.to_row()).exec(conn).await {
        Ok(_) => Ok(true),
        Err(e) if crate::error::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Inserts new segments in one statement (all or none; a key that exists fails it).
pub async fn insert_many<C: ConnectionTrait>(conn: &C, segments: &[Segment]) -> Result<()> {
    if segments.is_empty() {
        return Ok(());
    }
    segment::Entity::insert_many(segments.iter().map(Segment::to_row))
        .exec(conn)
        .await?;
    Ok(())
}

/// One segment, if it exists.
pub async fn get<C: ConnectionTrait>(conn: &C, key: &SegmentKey) -> Result<Option<Segment>> {
    segment::Entity::find_by_id((key.object_id.clone(), key.position.encode()))
        .one(conn)
        .await?
        .map(|r| Segment::decode(r).map_err(Into::into))
        .transpose()
}

/// The segments of one object from position `from` on, in order, at most `limit`.
pub async fn of_object<C: ConnectionTrait>(
    conn: &C,
    object_id: &str,
    from: SegmentPosition,
    limit: u64,
) -> Result<Vec<Segment>> {
    decode_all(
        segment::Entity::find()
            .filter(segment::Column::ObjectId.eq(object_id))
            .filter(segment::Column::Position.gte(from.encode()))
            .order_by_asc(segment::Column::Position)
            .limit(limit)
            .all(conn)
            .await?,
    )
}

/// The segments of one part of an object, in order.
pub async fn of_part<C: ConnectionTrait>(
    conn: &C,
    object_id: &str,
    part: u32,
) -> Result<Vec<Segment>> {
    let mut query = segment::Entity::find()
        .filter(segment::Column::ObjectId.eq(object_id))
        .filter(segment::Column::Position.gte(SegmentPosition::new(part, 0).encode()));
    if part < SegmentPosition::MAX_PART {
        query =
            query.filter(segment::Column::Position.lt(SegmentPosition::new(part + 1, 0).encode()));
    }
    decode_all(
        query
            .order_by_asc(segment::Column::Position)
            .all(conn)
            .await?,
    )
}

/// Every segment, for tests and diagnostics of small networks (the segment loop pages).
pub async fn all<C: ConnectionTrait>(conn: &C) -> Result<Vec<Segment>> {
    decode_all(
        segment::Entity::find()
            .order_by_asc(segment::Column::ObjectId)
            .order_by_asc(segment::Column::Position)
            .all(conn)
            .await?,
    )
}

/// Every segment of the given objects.
pub async fn of_objects<C: ConnectionTrait>(
    conn: &C,
    object_ids: &[String],
) -> Result<Vec<Segment>> {
    if object_ids.is_empty() {
        return Ok(Vec::new());
    }
    decode_all(
        segment::Entity::find()
            .filter(segment::Column::ObjectId.is_in(object_ids.iter().cloned()))
            .order_by_asc(segment::Column::ObjectId)
            .order_by_asc(segment::Column::Position)
            .all(conn)
            .await?,
    )
}

/// Deletes every segment of the given objects and returns them (for piece deletion
/// and accounting). Fails without deleting anything if one is unreadable: its pieces
/// could not be queued for deletion.
pub async fn delete_of_objects<C: ConnectionTrait>(
    conn: &C,
    object_ids: &[String],
) -> Result<Vec<Segment>> {
    let segments = of_objects(conn, object_ids).await?;
    if !segments.is_empty() {
        segment::Entity::delete_many()
            .filter(segment::Column::ObjectId.is_in(object_ids.iter().cloned()))
            .exec(conn)
            .await?;
    }
    Ok(segments)
}

/// What a listing of a multipart upload's parts shows of one part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartSummary {
    pub part: u32,
    pub plain_size: u64,
    pub segment_count: u32,
    pub last_modified: i64,
    /// From the part's last segment that carries one.
    pub encrypted_etag: Option<Sealed>,
}

/// The parts of an object from part `from` on, ascending, at most `limit`; read from
/// the segments' small columns only.
pub async fn part_summaries<C: ConnectionTrait>(
    conn: &C,
    object_id: &str,
    from: u32,
    limit: usize,
) -> Result<Vec<PartSummary>> {
    type Row = (i64, i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);
    let rows: Vec<Row> = segment::Entity::find()
        .select_only()
        .columns([
            segment::Column::Position,
            segment::Column::PlainSize,
            segment::Column::CreatedAt,
            segment::Column::EncryptedEtag,
            segment::Column::EncryptedEtagNonce,
        ])
        .filter(segment::Column::ObjectId.eq(object_id))
        .filter(segment::Column::Position.gte(SegmentPosition::new(from, 0).encode()))
        .order_by_asc(segment::Column::Position)
        .into_tuple()
        .all(conn)
        .await?;
    let mut parts: Vec<PartSummary> = Vec::new();
    for (position, size, created_at, etag, etag_nonce) in rows {
        let position = SegmentPosition::decode(position).map_err(|e| MetabaseError::Corrupt {
            key: SegmentKey {
                object_id: object_id.to_string(),
                position: SegmentPosition::default(),
            },
            reason: e.to_string(),
        })?;
        let etag = match (etag, etag_nonce) {
            (Some(ciphertext), Some(nonce)) => Some(Sealed { ciphertext, nonce }),
            _ => None,
        };
        match parts.last_mut() {
            Some(last) if last.part == position.part => {
                last.plain_size += size.max(0) as u64;
                last.segment_count += 1;
                last.last_modified = last.last_modified.max(created_at);
                if etag.is_some() {
                    last.encrypted_etag = etag;
                }
            }
            _ => {
                if parts.len() == limit {
                    break;
                }
                parts.push(PartSummary {
                    part: position.part,
                    plain_size: size.max(0) as u64,
                    segment_count: 1,
                    last_modified: created_at,
                    encrypted_etag: etag,
                });
            }
        }
    }
    Ok(parts)
}

/// Which of `roots` a segment of an object other than `owners` names (pieces shared
/// with a server-side copy, which must not be deleted with these owners' rows).
pub async fn roots_named_elsewhere<C: ConnectionTrait>(
    conn: &C,
    roots: &[PieceId],
    owners: &[String],
) -> Result<std::collections::HashSet<PieceId>> {
    let mut shared = std::collections::HashSet::new();
    for chunk in roots.chunks(400) {
        let rows: Vec<Option<Vec<u8>>> = segment::Entity::find()
            .select_only()
            .column(segment::Column::RootPieceId)
            .filter(segment::Column::RootPieceId.is_in(chunk.iter().map(|r| r.0.to_vec())))
            .filter(segment::Column::ObjectId.is_not_in(owners.iter().cloned()))
            .into_tuple()
            .all(conn)
            .await?;
        shared.extend(
            rows.into_iter()
                .flatten()
                .filter_map(|r| PieceId::from_slice(&r).ok()),
        );
    }
    Ok(shared)
}

/// Deletes the given segments of one object (parts left out of a multipart completion).
pub async fn delete_positions<C: ConnectionTrait>(
    conn: &C,
    object_id: &str,
    positions: &[SegmentPosition],
) -> Result<()> {
    for chunk in positions.chunks(500) {
        segment::Entity::delete_many()
            .filter(segment::Column::ObjectId.eq(object_id))
            .filter(segment::Column::Position.is_in(chunk.iter().map(|p| p.encode())))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Sets a segment's offset within its object (at commit).
pub async fn set_offset<C: ConnectionTrait>(conn: &C, key: &SegmentKey, offset: u64) -> Result<()> {
    segment::Entity::update_many()
        .col_expr(segment::Column::PlainOffset, Expr::value(offset as i64))
        .filter(segment::Column::ObjectId.eq(key.object_id.clone()))
        .filter(segment::Column::Position.eq(key.position.encode()))
        .exec(conn)
        .await?;
    Ok(())
}

/// A page of all segments in key order, after `after` (exclusive). Rows that cannot be
/// decoded come back as errors in place, so that one bad row neither stops a pass nor
/// is mistaken for a segment without pieces.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    after: Option<&SegmentKey>,
    limit: u64,
) -> Result<Vec<Result<Segment, MetabaseError>>> {
    let rows = page_query(after, limit).all(conn).await?;
    Ok(rows.into_iter().map(Segment::decode).collect())
}

/// The query behind [`page`]; public for the test that checks its plan.
///
/// `object_id >= a AND (object_id > a OR position > p)` rather than the plain
/// `object_id > a OR (object_id = a AND position > p)`: PostgreSQL reads the plain form
/// as a filter over the index from its start, so every page cost the whole table up to
/// it (a pass quadratic in segments); the first conjunct bounds the index range on
/// PostgreSQL and SQLite alike.
pub fn page_query(after: Option<&SegmentKey>, limit: u64) -> sea_orm::Select<segment::Entity> {
    let mut query = segment::Entity::find();
    if let Some(after) = after {
        query = query
            .filter(segment::Column::ObjectId.gte(after.object_id.clone()))
            .filter(
                Condition::any()
                    .add(segment::Column::ObjectId.gt(after.object_id.clone()))
                    .add(segment::Column::Position.gt(after.position.encode())),
            );
    }
    query
        .order_by_asc(segment::Column::ObjectId)
        .order_by_asc(segment::Column::Position)
        .limit(limit)
}

/// What a compare-and-swap of a piece set found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swap {
    Done,
    /// The segment is gone (its object deleted or overwritten).
    Gone,
    /// Its pieces changed since `segment` was read.
    Changed,
}

/// Replaces the piece set of `segment` with `pieces`, only if the stored set is still
/// the one `segment` was read with.
pub async fn swap_pieces<C: ConnectionTrait>(
    conn: &C,
    segment: &Segment,
    pieces: &PieceSet,
    repaired_at: Option<i64>,
) -> Result<Swap> {
    let mut update = segment::Entity::update_many()
        .col_expr(segment::Column::Pieces, Expr::value(pieces.encode()));
    if let Some(at) = repaired_at {
        update = update.col_expr(segment::Column::RepairedAt, Expr::value(at));
    }
    let result = update
        .filter(segment::Column::ObjectId.eq(segment.key.object_id.clone()))
        .filter(segment::Column::Position.eq(segment.key.position.encode()))
        .filter(segment::Column::Pieces.eq(segment.stored_pieces.clone()))
        .exec(conn)
        .await?;
    if result.rows_affected == 1 {
        return Ok(Swap::Done);
    }
    Ok(if get(conn, &segment.key).await?.is_some() {
        Swap::Changed
    } else {
        Swap::Gone
    })
}

/// Every piece of `segments`, with the id its node stores it under.
pub fn piece_ids(segments: &[Segment]) -> impl Iterator<Item = (Piece, PieceId)> + '_ {
    segments.iter().filter_map(Segment::remote).flat_map(|r| {
        r.pieces
            .iter()
            .map(move |p| (*p, p.piece_id(&r.root_piece_id)))
    })
}
