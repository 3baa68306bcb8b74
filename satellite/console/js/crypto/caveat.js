/**
 * API key caveats, as `uplink-core/src/access/caveat.rs` writes them.
 *
 * A caveat is the macaroon predicate `sj-caveat-v1:` followed by the JSON that Rust's
 * `serde_json` produces for the `Caveat` struct: fields in declaration order, `false`,
 * empty and absent values left out, no whitespace, and a random 16-byte nonce in
 * standard padded base64 (so that two equal restrictions of one key are distinct keys
 * that can be revoked separately). The predicate bytes are signed, so this JSON must
 * be byte-identical to Rust's, not merely equivalent.
 *
 * Caveats given to this module use camelCase names (`disallowReads`, `allowedPaths:
 * [{bucket, encryptedPrefix}]`, `notBefore`, `notAfter`, `maxObjectTtl`, `nonce`).
 * Unknown names are refused: an ignored restriction would be a wider key.
 *
 * @module
 */

import { base64Encode, fromUtf8, utf8 } from './encoding.js';
import { malformed } from './errors.js';
import { randomBytes } from './primitives.js';

export const PREDICATE_PREFIX = 'sj-caveat-v1:';
export const NONCE_SIZE = 16;

const FLAGS = [
  ['disallowReads', 'disallow_reads'],
  ['disallowWrites', 'disallow_writes'],
  ['disallowLists', 'disallow_lists'],
  ['disallowDeletes', 'disallow_deletes'],
];
const TIMES = [
  ['notBefore', 'not_before', -(2n ** 63n), 2n ** 63n - 1n],
  ['notAfter', 'not_after', -(2n ** 63n), 2n ** 63n - 1n],
  ['maxObjectTtl', 'max_object_ttl', 0n, 2n ** 64n - 1n],
];
const KNOWN = new Set([...FLAGS.map((f) => f[0]), ...TIMES.map((t) => t[0]), 'allowedPaths', 'nonce']);

/** Refuses option names this version does not know. */
export function checkKnownFields(obj, known, what) {
  for (const name of Object.keys(obj)) {
    if (!known.has(name)) throw malformed(`unknown ${what} ${JSON.stringify(name)}`);
  }
}

/** An integer option as a decimal string (JSON number), or null when absent. */
function integer(value, name, min, max) {
  if (value == null) return null;
  const ok = typeof value === 'bigint' || Number.isSafeInteger(value);
  if (!ok || BigInt(value) < min || BigInt(value) > max) {
    throw malformed(`${name} must be a whole number between ${min} and ${max}, got ${String(value)}`);
  }
  return BigInt(value).toString();
}

function flag(value, name) {
  if (value == null) return false;
  if (typeof value !== 'boolean') throw malformed(`${name} must be true or false`);
  return value;
}

function checkPath(p) {
  if (p === null || typeof p !== 'object') throw malformed('an allowed path must be {bucket, encryptedPrefix}');
  checkKnownFields(p, new Set(['bucket', 'encryptedPrefix']), 'allowed path field');
  const { bucket, encryptedPrefix = '' } = p;
  if (typeof bucket !== 'string' || bucket === '') throw malformed('an allowed path needs a bucket name');
  if (typeof encryptedPrefix !== 'string' || (encryptedPrefix !== '' && !encryptedPrefix.endsWith('/'))) {
    throw malformed(`prefix ${JSON.stringify(encryptedPrefix)} must be empty or end with '/'`);
  }
  utf8(bucket, 'bucket name');
  utf8(encryptedPrefix, 'encrypted prefix');
  return { bucket, encryptedPrefix };
}

/**
 * Validates a caveat and fills in defaults; an empty or missing nonce becomes 16
 * random bytes, as Rust's `ApiKey::restrict` does.
 */
export function normalizeCaveat(caveat = {}) {
  if (caveat === null || typeof caveat !== 'object') throw malformed('a caveat must be an object');
  checkKnownFields(caveat, KNOWN, 'caveat field');
  const out = {};
  for (const [name] of FLAGS) out[name] = flag(caveat[name], name);
  const paths = caveat.allowedPaths ?? [];
  if (!Array.isArray(paths)) throw malformed('allowedPaths must be an array');
  out.allowedPaths = paths.map(checkPath);
  for (const [name, , min, max] of TIMES) out[name] = integer(caveat[name], name, min, max);
  const nonce = caveat.nonce ?? new Uint8Array(0);
  if (!(nonce instanceof Uint8Array)) throw malformed('nonce must be a Uint8Array');
  out.nonce = nonce.length > 0 ? nonce.slice() : randomBytes(NONCE_SIZE);
  return out;
}

/** The JSON of a normalized caveat, byte for byte as `serde_json::to_vec(&Caveat)`. */
export function caveatJson(c) {
  const fields = [];
  for (const [name, wire] of FLAGS) if (c[name]) fields.push(`"${wire}":true`);
  if (c.allowedPaths.length > 0) {
    const paths = c.allowedPaths.map((p) =>
      `{"bucket":${JSON.stringify(p.bucket)},"encrypted_prefix":${JSON.stringify(p.encryptedPrefix)}}`);
    fields.push(`"allowed_paths":[${paths.join(',')}]`);
  }
  for (const [name, wire] of TIMES) if (c[name] != null) fields.push(`"${wire}":${c[name]}`);
  if (c.nonce.length > 0) fields.push(`"nonce":${JSON.stringify(base64Encode(c.nonce))}`);
  return `{${fields.join(',')}}`;
}

/** The macaroon predicate of a normalized caveat. */
export function caveatPredicate(c) {
  return utf8(PREDICATE_PREFIX + caveatJson(c), 'caveat');
}

/**
 * The JSON object in a caveat predicate (snake_case, as on the wire), or null for a
 * predicate that is not an `sj-caveat-v1` caveat. For display only: the satellite
 * decides what a caveat means.
 */
export function describePredicate(predicate) {
  try {
    const text = fromUtf8(predicate, 'caveat');
    if (!text.startsWith(PREDICATE_PREFIX)) return null;
    const value = JSON.parse(text.slice(PREDICATE_PREFIX.length));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
