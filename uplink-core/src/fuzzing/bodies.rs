//! Harnesses for the JSON bodies of the HTTP APIs: metainfo requests and responses,
//! console requests, node check-ins.

use super::console;
use super::fixtures::{json_checked, json_round_trip, node, signed_checkin};
use super::order::{check_limit, check_piece_hash};
use crate::protocol::metainfo::*;
use crate::protocol::wire::{CheckInRequest, CheckInResponse};
use crate::protocol::{ErrorBody, RedundancyScheme, Signable};

fn scheme(r: &RedundancyScheme) {
    if r.validate().is_ok() {
        let _ = (r.stripe_size(), r.block_plain_size(), r.piece_size(1 << 20));
    }
}

/// The first byte picks a metainfo type (request bodies the satellite parses, and
/// responses and error bodies the uplink parses), the rest is JSON. Whatever decodes
/// round-trips; order limits and receipts inside verify only if they are the fixtures.
pub fn metainfo_bodies(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 28 {
        0 => json_checked::<RevokeRequest>(body),
        1 => json_checked::<BucketRequest>(body),
        2 => json_checked::<ListBucketsRequest>(body),
        3 => json_checked::<DeleteBucketRequest>(body),
        4 => json_checked::<BeginObjectRequest>(body),
        5 => json_checked::<BeginSegmentRequest>(body),
        6 => {
            if let Some(req) = json_round_trip::<CommitSegmentRequest>(body) {
                req.receipts
                    .iter()
                    .for_each(|r| check_piece_hash(&r.receipt));
            }
        }
        7 => json_checked::<InlineSegmentRequest>(body),
        8 => json_checked::<CommitObjectRequest>(body),
        9 => json_checked::<ObjectRequest>(body),
        10 => json_checked::<DownloadObjectRequest>(body),
        11 => json_checked::<DownloadSegmentRequest>(body),
        12 => json_checked::<ListObjectsRequest>(body),
        13 => json_checked::<Empty>(body),
        14 => json_checked::<ProjectInfoResponse>(body),
        15 => json_checked::<BucketInfo>(body),
        16 => json_checked::<ListBucketsResponse>(body),
        17 => json_checked::<DeleteBucketResponse>(body),
        18 => {
            if let Some(resp) = json_round_trip::<BeginObjectResponse>(body) {
                scheme(&resp.redundancy);
            }
        }
        19 => {
            if let Some(resp) = json_round_trip::<BeginSegmentResponse>(body) {
                scheme(&resp.redundancy);
                resp.limits.iter().for_each(|l| check_limit(&l.limit));
            }
        }
        20 => json_checked::<ObjectInfo>(body),
        21 => json_checked::<DownloadObjectResponse>(body),
        22 => {
            if let Some(resp) = json_round_trip::<DownloadSegmentResponse>(body) {
                scheme(&resp.redundancy);
                resp.limits.iter().for_each(|l| check_limit(&l.limit));
            }
        }
        23 => json_checked::<ListObjectsResponse>(body),
        24 => json_checked::<DeleteObjectResponse>(body),
        25 => json_checked::<ErrorBody>(body),
        26 => json_checked::<PieceReceipt>(body),
        _ => json_checked::<Sealed>(body),
    }
}

/// The first byte picks a console request body, the rest is JSON; whatever decodes
/// round-trips. See [`console`] for why these are mirrors.
pub fn console_bodies(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => json_checked::<console::SignupBody>(body),
        1 => json_checked::<console::LoginBody>(body),
        2 => json_checked::<console::PasswordBody>(body),
        3 => json_checked::<console::ProjectBody>(body),
        4 => json_checked::<console::MemberBody>(body),
        5 => json_checked::<console::KeyBody>(body),
        _ => {
            if let Some(paging) = json_round_trip::<console::Paging>(body) {
                let (page, limit) = paging.resolve();
                assert!((1..=console::MAX_PAGE).contains(&page) && (1..=100).contains(&limit));
                // The satellite asks its database for page `page - 1` of `limit` rows.
                let _ = (page - 1) * limit;
            }
        }
    }
}

/// The first byte picks the request (satellite side) or the response (node side), the
/// rest is JSON. Whatever decodes round-trips, and a check-in verifies under the
/// fixture node's key only if it is the check-in that node signed.
pub fn checkin(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let Some(req) = json_round_trip::<CheckInRequest>(body) else {
            return;
        };
        let verified = req.public_key.verify(&req.signing_bytes(), &req.signature);
        if verified.is_ok() && req.public_key == node().public_key() {
            assert_eq!(req, signed_checkin(), "a modified check-in verified");
        }
        let _ = req.public_key.node_id() == req.node_id;
        let _ = req.node_id.difficulty();
    } else {
        json_checked::<CheckInResponse>(body);
    }
}
