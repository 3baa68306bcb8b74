//! Harness for piece-transfer bodies: upload (`OrderLimit, Data*, PieceHash`) and
//! download (`DownloadHeader, Data*`) frame streams, as they arrive in any chunking.

use bytes::Bytes;

use super::input::Input;
use super::order::{check_limit, check_piece_hash};
use crate::protocol::ProtocolError;
use crate::protocol::piece::{root_of, verify_blocks};
use crate::protocol::wire::{
    DownloadHeader, FrameDecoder, FrameKind, control_frame, decode_control, frame_header,
};
use crate::protocol::{OrderLimit, PieceHash};

#[derive(Debug, PartialEq)]
struct Decoded {
    frames: Vec<(FrameKind, Bytes)>,
    error: Option<ProtocolError>,
    /// Bytes left inside an incomplete frame (meaningful without an error).
    pending: usize,
}

fn decode<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Decoded {
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    return Decoded {
                        frames,
                        error: Some(e),
                        pending: 0,
                    };
                }
            }
        }
    }
    Decoded {
        frames,
        error: None,
        pending: decoder.pending(),
    }
}

/// Four chunk sizes (1 to 256 bytes, used in turn), then the body. The body decodes to
/// the same frames (or the same error) in one piece and in those chunks; the frames
/// re-encode to exactly the bytes they came from; every control frame that decodes
/// re-encodes to itself and verifies only if it is the fixture that was signed; and
/// a download's data checks against its header without a panic.
pub fn piece_frames(data: &[u8]) {
    let mut input = Input::new(data);
    let sizes: Vec<usize> = (0..4).map(|_| input.byte() as usize + 1).collect();
    let body = input.rest();

    let whole = decode([body]);
    let mut chunks = Vec::new();
    let mut rest = body;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    let chunked = decode(chunks);
    assert_eq!(whole, chunked, "chunking changed the decoded frames");

    let mut rebuilt = Vec::new();
    for (kind, payload) in &whole.frames {
        rebuilt.extend_from_slice(&frame_header(*kind, payload.len()));
        rebuilt.extend_from_slice(payload);
    }
    assert_eq!(&body[..rebuilt.len()], &rebuilt[..], "frames re-encode");
    if whole.error.is_none() {
        assert_eq!(
            rebuilt.len() + whole.pending,
            body.len(),
            "every byte counted"
        );
    }

    let mut header: Option<DownloadHeader> = None;
    let mut downloaded = Vec::new();
    for (kind, payload) in &whole.frames {
        match kind {
            FrameKind::OrderLimit => {
                if let Some(limit) = control_round_trip::<OrderLimit>(*kind, payload) {
                    check_limit(&limit);
                }
            }
            FrameKind::PieceHash => {
                if let Some(hash) = control_round_trip::<PieceHash>(*kind, payload) {
                    check_piece_hash(&hash);
                }
            }
            FrameKind::DownloadHeader => {
                if let Some(h) = control_round_trip::<DownloadHeader>(*kind, payload) {
                    check_limit(&h.original_limit);
                    check_piece_hash(&h.piece_hash);
                    header.get_or_insert(h);
                }
            }
            FrameKind::Data => downloaded.extend_from_slice(payload),
        }
    }
    if let Some(h) = header {
        let ph = &h.piece_hash;
        let _ = root_of(&h.block_hashes) == ph.root;
        for offset in [0, ph.hash_block_size as u64, ph.piece_size] {
            let _ = verify_blocks(
                &downloaded,
                offset,
                ph.piece_size,
                ph.hash_block_size,
                &h.block_hashes,
            );
        }
    }
}

fn control_round_trip<T>(kind: FrameKind, payload: &[u8]) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let value: T = decode_control(payload).ok()?;
    let frame = control_frame(kind, &value);
    let mut decoder = FrameDecoder::new();
    decoder.push(&frame);
    let (again_kind, again_payload) = decoder
        .next_frame()
        .expect("an encoded frame decodes")
        .expect("an encoded frame is complete");
    assert_eq!(again_kind, kind);
    let again: T = decode_control(&again_payload).expect("an encoded message decodes");
    assert_eq!(again, value, "control frame round trip changed the message");
    Some(value)
}
