//! Harnesses for the JSON bodies of the HTTP APIs: metainfo requests and responses,
//! console requests, node check-ins.

use super::console;
use super::fixtures::{json_round_trip, node, signed_checkin};
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
        0 => drop(json_round_trip::<RevokeRequest>(body)),
        1 => drop(json_round_trip::<BucketRequest>(body)),
        2 => drop(json_round_trip::<ListBucketsRequest>(body)),
        3 => drop(json_round_trip::<DeleteBucketRequest>(body)),
        4 => drop(json_round_trip::<BeginObjectRequest>(body)),
        5 => drop(json_round_trip::<BeginSegmentRequest>(body)),
        6 => {
            if let Some(req) = json_round_trip::<CommitSegmentRequest>(body) {
                req.receipts
                    .iter()
                    .for_each(|r| check_piece_hash(&r.receipt));
            }
        }
        7 => drop(json_round_trip::<InlineSegmentRequest>(body)),
        8 => drop(json_round_trip::<CommitObjectRequest>(body)),
        9 => drop(json_round_trip::<ObjectRequest>(body)),
        10 => drop(json_round_trip::<DownloadObjectRequest>(body)),
        11 => drop(json_round_trip::<DownloadSegmentRequest>(body)),
        12 => drop(json_round_trip::<ListObjectsRequest>(body)),
        13 => drop(json_round_trip::<Empty>(body)),
        14 => drop(json_round_trip::<ProjectInfoResponse>(body)),
        15 => drop(json_round_trip::<BucketInfo>(body)),
        16 => drop(json_round_trip::<ListBucketsResponse>(body)),
        17 => drop(json_round_trip::<DeleteBucketResponse>(body)),
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
        20 => drop(json_round_trip::<ObjectInfo>(body)),
        21 => drop(json_round_trip::<DownloadObjectResponse>(body)),
        22 => {
            if let Some(resp) = json_round_trip::<DownloadSegmentResponse>(body) {
                scheme(&resp.redundancy);
                resp.limits.iter().for_each(|l| check_limit(&l.limit));
            }
        }
        23 => drop(json_round_trip::<ListObjectsResponse>(body)),
        24 => drop(json_round_trip::<DeleteObjectResponse>(body)),
        25 => drop(json_round_trip::<ErrorBody>(body)),
        26 => drop(json_round_trip::<PieceReceipt>(body)),
        _ => drop(json_round_trip::<Sealed>(body)),
    }
}

/// The first byte picks a console request body, the rest is JSON; whatever decodes
/// round-trips. See [`console`] for why these are mirrors.
pub fn console_bodies(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => drop(json_round_trip::<console::SignupBody>(body)),
        1 => drop(json_round_trip::<console::LoginBody>(body)),
        2 => drop(json_round_trip::<console::PasswordBody>(body)),
        3 => drop(json_round_trip::<console::ProjectBody>(body)),
        4 => drop(json_round_trip::<console::MemberBody>(body)),
        5 => drop(json_round_trip::<console::KeyBody>(body)),
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
        drop(json_round_trip::<CheckInResponse>(body));
    }
}
