/**
 * Byte encodings shared with the Rust uplink: UTF-8, base64, base58check and the
 * postcard wire format.
 *
 * Decoders are as strict as the Rust crates they mirror (`base64` 0.22, `bs58`,
 * `postcard`): a string that Rust would refuse must be refused here too, or the console
 * could show as valid a grant that no client accepts.
 *
 * @module
 */

import { malformed } from './errors.js';
import { sha256 } from './sha256.js';

// ---------------------------------------------------------------- bytes and UTF-8

/** Concatenates byte arrays. */
export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether two byte arrays are equal, in time that depends only on their lengths. */
export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * UTF-8 bytes of a string. Strings with unpaired surrogates are refused: TextEncoder
 * would silently turn them into U+FFFD, so two different names would encrypt alike,
 * and Rust strings cannot hold them at all.
 */
export function utf8(text, what = 'text') {
  if (typeof text !== 'string') throw malformed(`${what} must be a string`);
  if (LONE_SURROGATE.test(text)) throw malformed(`${what} is not valid Unicode`);
  return new TextEncoder().encode(text);
}

// `ignoreBOM` keeps a leading U+FEFF as Rust does; the default would strip it.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A string from UTF-8 bytes; invalid UTF-8 is refused (as Rust's `from_utf8`). */
export function fromUtf8(bytes, what = 'text') {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw malformed(`${what} is not UTF-8`);
  }
}

/** Lower-case hex, for messages and tests. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------- base64

const B64_STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Base64 of `bytes`.
 * @param {Uint8Array} bytes
 * @param {{url?: boolean, pad?: boolean}} options URL-safe alphabet; `=` padding
 */
export function base64Encode(bytes, { url = false, pad = true } = {}) {
  const alphabet = url ? B64_URL : B64_STANDARD;
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 4) / 3));
    for (let c = 0; c < chars; c++) out += alphabet[(n >>> (18 - 6 * c)) & 63];
  }
  if (pad) out += '='.repeat((4 - (out.length % 4)) % 4);
  return out;
}

/**
 * Decodes base64 like the Rust `base64` crate's strict engines: the padding must be
 * exactly canonical (`pad: true`) or absent (`pad: false`), and the unused bits of the
 * last character must be zero, so every byte string has exactly one spelling.
 * Returns `null` when `text` is not valid, so callers can word the error.
 */
export function base64Decode(text, { url = false, pad = true } = {}) {
  const alphabet = url ? B64_URL : B64_STANDARD;
  let body = text;
  if (pad) {
    if (text.length % 4 !== 0) return null;
    body = text.replace(/={1,2}$/, '');
    if (body.length % 4 === 0 && body.length !== text.length) return null;
  }
  if (body.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (const ch of body) {
    const v = alphabet.indexOf(ch);
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return null; // non-zero trailing bits
  if (pad && (text.length - body.length) !== (4 - (body.length % 4)) % 4) return null;
  return out;
}

// ---------------------------------------------------------------- base58check

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Base58 (Bitcoin alphabet); each leading zero byte becomes a leading `1`. */
export function base58Encode(bytes) {
  const digits = []; // base-58 digits, least significant first
  for (const byte of bytes) {
    let carry = byte;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] << 8;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  let out = '';
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) out += '1';
  for (let i = digits.length - 1; i >= 0; i--) out += B58[digits[i]];
  return out;
}

/**
 * Base58 decoding. Throws an error naming the first character that is not base58
 * (with the same wording whatever the caller, which adds its own context).
 */
export function base58Decode(text) {
  const bytes = []; // least significant first
  for (let index = 0; index < text.length; index++) {
    const ch = text[index];
    const value = B58.indexOf(ch);
    if (value < 0) {
      const shown = ch.charCodeAt(0) > 127 ? 'a non-ASCII character' : `character ${JSON.stringify(ch)}`;
      throw malformed(`${shown} at position ${index} is not base58`);
    }
    let carry = value;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (let i = 0; i < text.length && text[i] === '1'; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

function checksum(payload) {
  return sha256(sha256(payload)).subarray(0, 4);
}

/** Base58check: base58 of `[version] + body + first 4 bytes of SHA-256(SHA-256(...))`. */
export function base58CheckEncode(version, body) {
  const payload = concatBytes(Uint8Array.of(version), body);
  return base58Encode(concatBytes(payload, checksum(payload)));
}

/**
 * Reverses {@link base58CheckEncode}: returns `{version, body}`. The reasons for a
 * refusal are worded for a person who pasted a string.
 */
export function base58CheckDecode(text) {
  const raw = base58Decode(text);
  if (raw.length < 4) throw malformed('it is too short');
  const payload = raw.subarray(0, raw.length - 4);
  if (!bytesEqual(raw.subarray(raw.length - 4), checksum(payload))) {
    throw malformed('checksum mismatch (was it copied completely?)');
  }
  if (payload.length === 0) throw malformed('it is empty');
  return { version: payload[0], body: payload.subarray(1) };
}

// ---------------------------------------------------------------- postcard

/**
 * Builds postcard encodings: unsigned integers as LEB128 varints, strings and byte
 * strings as varint length + bytes, `Option` as a 0/1 tag, structs as their fields in
 * declaration order with nothing between them.
 */
export class PostcardWriter {
  constructor() {
    this.parts = [];
  }

  varint(n) {
    const out = [];
    let v = n;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.parts.push(Uint8Array.from(out));
    return this;
  }

  bytes(b) {
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  string(s, what) {
    return this.bytes(utf8(s, what));
  }

  /** `bool`: one byte, 0 or 1. */
  bool(value) {
    this.parts.push(Uint8Array.of(value ? 1 : 0));
    return this;
  }

  /** `Option<T>`: `write` is called to encode the value when it is not null. */
  option(value, write) {
    this.parts.push(Uint8Array.of(value == null ? 0 : 1));
    if (value != null) write(this, value);
    return this;
  }

  finish() {
    return concatBytes(...this.parts);
  }
}

/** Reads postcard encodings; every error names what was being read. */
export class PostcardReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }

  byte(what) {
    if (this.at >= this.bytes.length) throw malformed(`unexpected end of data in ${what}`);
    return this.bytes[this.at++];
  }

  /** A `usize` varint: at most 10 bytes, as postcard reads on 64-bit targets. */
  varint(what) {
    let value = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(what);
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (i === 9 && b > 1) break;
        return value;
      }
    }
    throw malformed(`bad length in ${what}`);
  }

  bytesField(what) {
    const len = this.varint(what);
    if (len > this.bytes.length - this.at) throw malformed(`unexpected end of data in ${what}`);
    const out = this.bytes.slice(this.at, this.at + len);
    this.at += len;
    return out;
  }

  string(what) {
    return fromUtf8(this.bytesField(what), what);
  }

  /** `bool`: 0 or 1, nothing else. */
  bool(what) {
    const b = this.byte(what);
    if (b > 1) throw malformed(`bad bool ${b} in ${what}`);
    return b === 1;
  }

  /** `Option<T>`: `read` is called to decode the value after a 1 tag. */
  option(what, read) {
    const tag = this.byte(what);
    if (tag === 0) return null;
    if (tag === 1) return read(this);
    throw malformed(`bad option tag ${tag} in ${what}`);
  }

  get rest() {
    return this.bytes.length - this.at;
  }
}
