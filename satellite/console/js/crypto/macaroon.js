/**
 * API keys: macaroons in the V2 binary format, as the Rust `macaroon` crate (0.3)
 * writes and reads them, and as `uplink-core/src/access/apikey.rs` spells them.
 *
 * Binary V2: a version byte 2; optional location field (tag 1) and the identifier
 * field (tag 2), then an end-of-section byte 0; each caveat as fields (location 1,
 * identifier 2, verification id 4) ending in 0; a final 0; then the signature field
 * (tag 6). A field is tag, LEB128 length (at most 65535), bytes. The signature of a
 * fresh key is HMAC-SHA-256(secret, identifier); adding a first-party caveat makes
 * it HMAC-SHA-256(old signature, predicate), which is why anyone holding a key can
 * narrow it without the secret, and nobody can widen it.
 *
 * The text form is URL-safe base64 without padding. Like the Rust code, parsing
 * accepts standard or URL-safe base64, padded or not, and then insists that the
 * bytes are exactly what re-serializing them gives, so one key has one spelling.
 *
 * @module
 */

import { base64Decode, base64Encode, concatBytes, fromUtf8, utf8 } from './encoding.js';
import { malformed } from './errors.js';
import { hmacSha256 } from './primitives.js';

const EOS = 0;
const LOCATION = 1;
const IDENTIFIER = 2;
const VID = 4;
const SIGNATURE = 6;
const MAX_FIELD_SIZE = 65535;

function invalid(why) {
  return malformed(`not a valid API key: ${why}`);
}

// ---------------------------------------------------------------- writing

function varint(n) {
  const out = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function field(tag, value) {
  return concatBytes(Uint8Array.of(tag, ...varint(value.length)), value);
}

/**
 * The V2 binary form of a macaroon
 * `{location: string|null, identifier, caveats: [{id, location?, vid?}], signature}`.
 */
export function encodeMacaroon(m) {
  const parts = [Uint8Array.of(2)];
  if (m.location != null) parts.push(field(LOCATION, utf8(m.location, 'location')));
  parts.push(field(IDENTIFIER, m.identifier), Uint8Array.of(EOS));
  for (const c of m.caveats) {
    if (c.vid != null) {
      parts.push(field(LOCATION, utf8(c.location, 'caveat location')), field(IDENTIFIER, c.id), field(VID, c.vid));
    } else {
      parts.push(field(IDENTIFIER, c.id));
    }
    parts.push(Uint8Array.of(EOS));
  }
  parts.push(Uint8Array.of(EOS), field(SIGNATURE, m.signature));
  return concatBytes(...parts);
}

// ---------------------------------------------------------------- reading

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }

  byte() {
    if (this.at >= this.bytes.length) throw invalid('it ends too early');
    return this.bytes[this.at++];
  }

  eos() {
    if (this.byte() !== EOS) throw invalid('expected the end of a section');
  }

  field() {
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 56) throw invalid('bad field size');
      const b = this.byte();
      size += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    if (size > MAX_FIELD_SIZE) throw invalid(`field size too large (${size} > ${MAX_FIELD_SIZE})`);
    if (size > this.bytes.length - this.at) throw invalid('unexpected end of a field');
    const out = this.bytes.slice(this.at, this.at + size);
    this.at += size;
    return out;
  }
}

/** One caveat, from its first tag up to and including its end-of-section byte. */
function readCaveat(r, firstTag) {
  const caveat = {};
  let tag = firstTag;
  if (tag === LOCATION) {
    caveat.location = fromUtf8(r.field(), 'caveat location');
    tag = r.byte();
  }
  if (tag !== IDENTIFIER) throw invalid('caveat identifier not found');
  caveat.id = r.field();
  tag = r.byte();
  if (tag === VID) {
    caveat.vid = r.field();
    r.eos();
  } else if (tag !== EOS) {
    throw invalid('unexpected caveat tag');
  }
  if ((caveat.location === undefined) !== (caveat.vid === undefined)) {
    throw invalid('a third-party caveat needs both a location and a verification id');
  }
  return caveat;
}

/** Parses the V2 binary format (the structure only; canonical form is checked by the caller). */
export function decodeMacaroon(bytes) {
  const r = new Reader(bytes);
  if (r.byte() !== 2) throw invalid('unsupported format');
  let location = null;
  let tag = r.byte();
  if (tag === LOCATION) {
    location = fromUtf8(r.field(), 'location');
    tag = r.byte();
  }
  if (tag !== IDENTIFIER) throw invalid('identifier not found');
  const identifier = r.field();
  r.eos();
  const caveats = [];
  for (tag = r.byte(); tag !== EOS; tag = r.byte()) caveats.push(readCaveat(r, tag));
  if (r.byte() !== SIGNATURE) throw invalid('signature not found');
  const signature = r.field();
  if (signature.length !== 32) throw invalid('bad signature length');
  if (identifier.length === 0) throw invalid('it has no identifier');
  return { location, identifier, caveats, signature };
}

/**
 * Parses an API key string into `{macaroon, binary}`. Accepts what the Rust
 * `ApiKey::parse` accepts and nothing else.
 */
export function parseApiKey(text) {
  if (typeof text !== 'string') throw invalid('it must be a string');
  const s = text.trim();
  if (s === '') throw invalid('it is empty');
  const unpadded = s.replace(/=+$/, '');
  const binary = base64Decode(unpadded, { url: true, pad: false })
    ?? base64Decode(unpadded, { url: false, pad: false });
  if (binary === null) throw invalid('it is not base64');
  if (binary[0] !== 2) throw invalid('unsupported format');
  const macaroon = decodeMacaroon(binary);
  const canonical = encodeMacaroon(macaroon);
  if (canonical.length !== binary.length || canonical.some((b, i) => b !== binary[i])) {
    throw invalid('trailing or non-canonical data');
  }
  return { macaroon, binary };
}

/** The text form of a macaroon's binary encoding. */
export function serializeApiKey(binary) {
  return base64Encode(binary, { url: true, pad: false });
}

/** The macaroon with one more first-party caveat and its chained signature. */
export async function addFirstPartyCaveat(macaroon, predicate) {
  return {
    ...macaroon,
    caveats: [...macaroon.caveats, { id: predicate }],
    signature: await hmacSha256(macaroon.signature, predicate),
  };
}
