//! Valid inputs for every target, made with the real encoders: the starting corpora
//! (written to `fuzz/corpus/` by the `write_fuzz_seeds` test) and inputs on which every
//! property is checked in the replay test.

use serde::Serialize;

use super::fixtures::{
    NOW, base_key, caveat_with, download_header, grant, piece_data, restricted_key, satellite,
    signed_checkin, signed_limit, signed_piece_hash,
};
use super::input::Output;
use crate::access::{Caveat, CaveatPath};
use crate::protocol::metainfo::*;
use crate::protocol::wire::{
    CheckInResponse, DeleteRequest, DownloadRequest, FrameKind, control_frame, frame_header,
};
use crate::protocol::{
    AddressedOrderLimit, ErrorBody, ErrorCode, NodeId, PieceId, RedundancyScheme, SegmentPosition,
};

fn tagged(tag: u8, body: impl AsRef<[u8]>) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(body.as_ref());
    out
}

fn json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("fixtures encode")
}

fn sealed() -> Sealed {
    Sealed {
        ciphertext: vec![1, 2, 3, 4],
        nonce: vec![0; 24],
    }
}

fn object_info() -> ObjectInfo {
    ObjectInfo {
        bucket: "photos".into(),
        encrypted_key: "X/a".into(),
        object_id: "0f0e".into(),
        status: ObjectStatus::Committed,
        created_at: NOW,
        expires_at: Some(NOW + 60),
        plain_size: 300,
        segment_count: 1,
        encrypted_metadata: Some(sealed()),
    }
}

fn segment_info() -> SegmentInfo {
    SegmentInfo {
        position: SegmentPosition::single(0),
        plain_offset: 0,
        plain_size: 300,
        inline: false,
    }
}

fn addressed() -> AddressedOrderLimit {
    AddressedOrderLimit {
        piece_num: 3,
        address: "127.0.0.1:28967".into(),
        limit: signed_limit(),
    }
}

fn metainfo() -> Vec<Vec<u8>> {
    let receipt = PieceReceipt {
        piece_num: 3,
        receipt: signed_piece_hash(),
    };
    let bodies: Vec<(u8, Vec<u8>)> = vec![
        (
            0,
            json(&RevokeRequest {
                api_key: restricted_key().serialize(),
            }),
        ),
        (
            1,
            json(&BucketRequest {
                name: "photos".into(),
                plain_names_tag: Some("00".repeat(32)),
            }),
        ),
        (
            2,
            json(&ListBucketsRequest {
                cursor: Some("a".into()),
                limit: Some(10),
            }),
        ),
        (
            3,
            json(&DeleteBucketRequest {
                name: "photos".into(),
                force: true,
            }),
        ),
        (
            4,
            json(&BeginObjectRequest {
                bucket: "photos".into(),
                encrypted_key: "X/a".into(),
                expires_at: Some(NOW),
                encrypted_metadata: Some(sealed()),
            }),
        ),
        (
            5,
            json(&BeginSegmentRequest {
                stream_id: "stream".into(),
                position: SegmentPosition::single(0),
                max_plain_size: 1 << 20,
                piece_public_key: signed_limit().piece_public_key,
                exclude_nodes: vec![NodeId([2; 32])],
            }),
        ),
        (
            6,
            json(&CommitSegmentRequest {
                segment_id: "segment".into(),
                plain_size: 300,
                encrypted_key: sealed(),
                receipts: vec![receipt.clone()],
                encrypted_etag: Some(sealed()),
            }),
        ),
        (
            7,
            json(&InlineSegmentRequest {
                stream_id: "stream".into(),
                position: SegmentPosition::single(0),
                plain_size: 4,
                encrypted_key: sealed(),
                data: vec![9; 20],
            }),
        ),
        (
            8,
            json(&CommitObjectRequest {
                stream_id: "stream".into(),
                encrypted_metadata: Some(sealed()),
                parts: Some(vec![1, 3]),
                if_absent: true,
            }),
        ),
        (
            9,
            json(&ObjectRequest {
                bucket: "photos".into(),
                encrypted_key: "X/a".into(),
            }),
        ),
        (
            10,
            json(&DownloadObjectRequest {
                bucket: "photos".into(),
                encrypted_key: "X/a".into(),
                segment_cursor: SegmentPosition::single(1),
                segment_limit: Some(5),
                first_at: None,
            }),
        ),
        (
            11,
            json(&DownloadSegmentRequest {
                stream_id: "stream".into(),
                position: SegmentPosition::single(0),
                exclude: vec![1, 2],
            }),
        ),
        (
            12,
            json(&ListObjectsRequest {
                bucket: "photos".into(),
                prefix: "X/".into(),
                delimiter: Some("/".into()),
                cursor: Some("X/a".into()),
                recursive: true,
                limit: Some(100),
                include_metadata: true,
                pending: false,
            }),
        ),
        (13, json(&Empty {})),
        (
            14,
            json(&ProjectInfoResponse {
                project_id: "p".into(),
                salt: vec![7; 32],
            }),
        ),
        (
            15,
            json(&BucketInfo {
                name: "photos".into(),
                created_at: NOW,
                plain_names_tag: None,
            }),
        ),
        (
            16,
            json(&ListBucketsResponse {
                items: vec![BucketInfo {
                    name: "photos".into(),
                    created_at: NOW,
                    plain_names_tag: Some("ab".repeat(32)),
                }],
                more: true,
            }),
        ),
        (17, json(&DeleteBucketResponse { deleted_objects: 2 })),
        (
            18,
            json(&BeginObjectResponse {
                stream_id: "stream".into(),
                object_id: "object".into(),
                redundancy: RedundancyScheme::default(),
                max_segment_size: 64 << 20,
                max_inline_size: 4096,
            }),
        ),
        (
            19,
            json(&BeginSegmentResponse {
                segment_id: "segment".into(),
                root_piece_id: PieceId([5; 32]),
                redundancy: RedundancyScheme::default(),
                limits: vec![addressed()],
            }),
        ),
        (20, json(&object_info())),
        (
            21,
            json(&DownloadObjectResponse {
                object: object_info(),
                stream_id: "stream".into(),
                segments: vec![segment_info()],
                more: false,
                first_segment: None,
            }),
        ),
        (
            22,
            json(&DownloadSegmentResponse {
                info: segment_info(),
                encrypted_key: sealed(),
                redundancy: RedundancyScheme::default(),
                piece_size: 1024,
                inline_data: Some(vec![1, 2]),
                limits: vec![addressed()],
                satellite_public_key: satellite().public_key(),
            }),
        ),
        (
            23,
            json(&ListObjectsResponse {
                items: vec![ListItem {
                    encrypted_key: "X/".into(),
                    object_id: None,
                    is_prefix: true,
                    created_at: NOW,
                    expires_at: None,
                    plain_size: 0,
                    encrypted_metadata: None,
                }],
                more: false,
            }),
        ),
        (
            24,
            json(&DeleteObjectResponse {
                deleted: Some(object_info()),
            }),
        ),
        (25, json(&ErrorBody::new(ErrorCode::Unavailable, "busy"))),
        (26, json(&receipt)),
        (27, json(&sealed())),
    ];
    bodies.into_iter().map(|(t, b)| tagged(t, b)).collect()
}

fn console() -> Vec<Vec<u8>> {
    [
        (
            0,
            r#"{"email":"a@example.test","password":"correct horse","full_name":"A"}"#,
        ),
        (
            1,
            r#"{"email":"a@example.test","password":"correct horse"}"#,
        ),
        (2, r#"{"current_password":"old","new_password":"new"}"#),
        (3, r#"{"name":"p","description":null}"#),
        (4, r#"{"email":"b@example.test"}"#),
        (5, r#"{"name":"laptop"}"#),
        (6, r#"{"page":2,"limit":50}"#),
    ]
    .into_iter()
    .map(|(t, b)| tagged(t, b))
    .collect()
}

fn caveats() -> Vec<Vec<u8>> {
    let narrow = caveat_with(
        3,
        Caveat {
            disallow_writes: true,
            allowed_paths: vec![CaveatPath {
                bucket: "photos".into(),
                encrypted_prefix: "X/".into(),
            }],
            not_before: Some(NOW - 60),
            not_after: Some(NOW + 60),
            max_object_ttl: Some(3600),
            ..Caveat::default()
        },
    );
    let read = Output::default()
        .byte(4 | 8)
        .string("photos")
        .string("X/a")
        .i64(NOW);
    let upload = Output::default()
        .byte(1 | 4 | 8 | 16)
        .string("photos")
        .string("X/a")
        .i64(NOW)
        .i64(NOW + 7200);
    let list = Output::default().byte(2 | 4).string("photos").i64(NOW);
    vec![
        read.bytes(&narrow.to_predicate()).0,
        upload.bytes(&narrow.to_predicate()).0,
        list.bytes(&Caveat::default().to_predicate()).0,
    ]
}

fn upload_body() -> Vec<u8> {
    let data = piece_data();
    let mut body = control_frame(FrameKind::OrderLimit, &signed_limit()).to_vec();
    for chunk in data.chunks(128) {
        body.extend_from_slice(&frame_header(FrameKind::Data, chunk.len()));
        body.extend_from_slice(chunk);
    }
    body.extend_from_slice(&control_frame(FrameKind::PieceHash, &signed_piece_hash()));
    body
}

fn download_body() -> Vec<u8> {
    let mut body = control_frame(FrameKind::DownloadHeader, &download_header()).to_vec();
    let data = piece_data();
    body.extend_from_slice(&frame_header(FrameKind::Data, data.len()));
    body.extend_from_slice(&data);
    body
}

/// `(target, input)` pairs.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let restricted_grant = grant()
        .restrict(
            caveat_with(4, Caveat::default()),
            &[("photos".into(), "2024/".into())],
        )
        .expect("the full grant reaches every path");
    for g in [grant(), restricted_grant] {
        out.push(("access_grant", g.serialize().into_bytes()));
    }
    out.push((
        "access_grant",
        format!("  {}\n", grant().serialize()).into_bytes(),
    ));
    for key in [base_key(), restricted_key()] {
        out.push(("api_key", key.serialize().into_bytes()));
    }
    for edits in [
        &[0u8, 10, 0, 1][..],
        &[1, 0, 0, 7],
        &[2, 40, 0, 0],
        &[3, 60, 0, 0],
    ] {
        out.push(("api_key_tamper", edits.to_vec()));
    }
    out.extend(caveats().into_iter().map(|c| ("caveat", c)));
    let limit = signed_limit();
    out.push((
        "order_limit",
        tagged(0, postcard::to_allocvec(&limit).expect("encodes")),
    ));
    out.push(("order_limit", tagged(1, json(&limit))));
    out.push((
        "order_limit",
        tagged(
            2,
            json(&DownloadRequest {
                order_limit: limit.clone(),
                offset: 0,
                length: 300,
            }),
        ),
    ));
    out.push((
        "order_limit",
        tagged(
            3,
            json(&DeleteRequest {
                order_limit: limit.clone(),
            }),
        ),
    ));
    out.push((
        "order_limit",
        tagged(
            4,
            postcard::to_allocvec(&signed_piece_hash()).expect("encodes"),
        ),
    ));
    out.push(("order_limit", tagged(5, json(&addressed()))));
    for body in [upload_body(), download_body()] {
        let mut input = vec![0, 6, 63, 254];
        input.extend_from_slice(&body);
        out.push(("piece_frames", input));
    }
    out.extend(metainfo().into_iter().map(|m| ("metainfo_bodies", m)));
    out.extend(console().into_iter().map(|c| ("console_bodies", c)));
    out.push(("checkin", tagged(0, json(&signed_checkin()))));
    out.push((
        "checkin",
        tagged(
            1,
            json(&CheckInResponse {
                satellite_id: satellite().node_id(),
                satellite_public_key: satellite().public_key(),
            }),
        ),
    ));
    out
}
