/**
 * Object key encryption, as `uplink-core/src/crypto/path.rs` and `key.rs` do it.
 *
 * Keys form a tree: `derive(key, label)` is HMAC-SHA-512 truncated to 32 bytes, a
 * bucket's key is `derive(root, "bucket:" + name)` and each path component's key is
 * `derive(parent, "path:" + component)`. A component is sealed with AES-256-GCM under
 * `derive(parent, "path-enc")` with a nonce that is a MAC of the plaintext (first 12
 * bytes of HMAC-SHA-512 under `derive(parent, "path-nonce")`), so encryption is
 * deterministic and the satellite can list by comparing ciphertext prefixes. An
 * encrypted component is nonce + ciphertext + tag in URL-safe base64 without padding.
 *
 * @module
 */

import { base64Decode, base64Encode, bytesEqual, concatBytes, fromUtf8, utf8 } from './encoding.js';
import { AccessError, malformed } from './errors.js';
import { aesGcmOpen, aesGcmSeal, hmacSha512 } from './primitives.js';

export const KEY_SIZE = 32;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;

/** HMAC-SHA-512(key, label) truncated to 32 bytes; `label` is bytes or a string. */
export async function derive(key, label) {
  const bytes = typeof label === 'string' ? utf8(label, 'label') : label;
  return (await hmacSha512(key, bytes)).slice(0, KEY_SIZE);
}

/** The key every object key in `bucket` chains from. */
export function bucketKey(root, bucket) {
  return derive(root, `bucket:${bucket}`);
}

/** The key that the components below `component` are encrypted with. */
export function childKey(parent, component) {
  return derive(parent, `path:${component}`);
}

async function componentNonce(parent, plain) {
  const nonceKey = await derive(parent, 'path-nonce');
  return (await hmacSha512(nonceKey, plain)).slice(0, NONCE_SIZE);
}

/** Encrypts one component (no `/`) under its parent's key. */
export async function encryptComponent(parent, component) {
  const plain = utf8(component, 'object key');
  const nonce = await componentNonce(parent, plain);
  const sealed = await aesGcmSeal(await derive(parent, 'path-enc'), nonce, plain);
  return base64Encode(concatBytes(nonce, sealed), { url: true, pad: false });
}

function wrongKey() {
  return new AccessError('WrongKeyOrCorrupted', 'wrong encryption key or corrupted data');
}

/** Reverses {@link encryptComponent}; a wrong key or an altered name is refused. */
export async function decryptComponent(parent, enc) {
  const raw = base64Decode(enc, { url: true, pad: false });
  if (raw === null) throw malformed(`malformed ciphertext: encrypted name ${JSON.stringify(enc)} is not base64url`);
  if (raw.length < NONCE_SIZE + TAG_SIZE) {
    throw malformed(`malformed ciphertext: encrypted name ${JSON.stringify(enc)} is too short`);
  }
  const nonce = raw.subarray(0, NONCE_SIZE);
  const plain = await aesGcmOpen(await derive(parent, 'path-enc'), nonce, raw.subarray(NONCE_SIZE));
  if (plain === null) throw wrongKey();
  const component = fromUtf8(plain, 'decrypted name');
  // The nonce is a MAC of the plaintext: anything else was not made by encryptComponent.
  if (!bytesEqual(await componentNonce(parent, plain), nonce)) throw wrongKey();
  if (component.includes('/')) throw malformed('malformed ciphertext: decrypted name component contains \'/\'');
  return component;
}

/** Encrypts every `/`-separated component of `path` along the key chain from `base`. */
export async function encryptPath(base, path) {
  let running = base;
  const out = [];
  for (const component of path.split('/')) {
    out.push(await encryptComponent(running, component));
    running = await childKey(running, component);
  }
  return out.join('/');
}

/** Reverses {@link encryptPath}. */
export async function decryptPath(base, encrypted) {
  let running = base;
  const out = [];
  for (const enc of encrypted.split('/')) {
    const component = await decryptComponent(running, enc);
    out.push(component);
    running = await childKey(running, component);
  }
  return out.join('/');
}

/** Refuses a prefix that is neither `""` nor ends in `/`. */
export function checkPrefix(prefix) {
  if (typeof prefix !== 'string') throw malformed('a prefix must be a string');
  if (prefix !== '' && !prefix.endsWith('/')) {
    throw new AccessError('InvalidPrefix', `prefix ${JSON.stringify(prefix)} must be empty or end with '/'`);
  }
}

/**
 * Encrypts a listing prefix (`""` or ending in `/`). Returns `{encrypted, key}`: the
 * encrypted prefix (`""` or ending in `/`) and the key after its last component.
 */
export async function encryptPrefix(base, prefix) {
  checkPrefix(prefix);
  if (prefix === '') return { encrypted: '', key: base };
  let running = base;
  let encrypted = '';
  for (const component of prefix.slice(0, -1).split('/')) {
    encrypted += `${await encryptComponent(running, component)}/`;
    running = await childKey(running, component);
  }
  return { encrypted, key: running };
}

/** Reverses {@link encryptPrefix} (without the key). */
export async function decryptPrefix(base, encrypted) {
  checkPrefix(encrypted);
  if (encrypted === '') return '';
  return `${await decryptPath(base, encrypted.slice(0, -1))}/`;
}
