/**
 * The encryption keys a grant carries, as `uplink-core/src/crypto/store.rs` does it.
 *
 * A store is `{defaultKey, entries}`: the root key (null in restricted grants) and,
 * for each shared bucket/prefix, `{bucket, prefix, encryptedPrefix, key}` where `key`
 * is the path key after the prefix. A name is handled by the entry with the longest
 * prefix that covers it on a component boundary (the last one on a tie, as Rust's
 * `max_by_key`), else by the root key. Restricting keeps only entries, so a restricted
 * grant can decrypt below its prefixes and nothing beside or above them.
 *
 * @module
 */

import { bytesEqual } from './encoding.js';
import { AccessError } from './errors.js';
import * as path from './path.js';

/** A store that can encrypt everything in the project. */
export function rootStore(rootKey) {
  return { defaultKey: rootKey, entries: [] };
}

/** Whether `prefix` covers `name` on component boundaries. */
function covers(prefix, name) {
  return prefix === '' || (prefix.endsWith('/') && name.startsWith(prefix));
}

/** Where `name`'s key chain starts: `{plain, encrypted, key}`, or throws NoKeyForPath. */
async function start(store, bucket, name, field) {
  let best = null;
  for (const e of store.entries) {
    if (e.bucket === bucket && covers(e[field], name) && (!best || e[field].length >= best[field].length)) {
      best = e;
    }
  }
  if (best) {
    return { plain: best.prefix, encrypted: best.encryptedPrefix, key: best.key, clear: best.plainNames };
  }
  if (store.defaultKey) {
    return { plain: '', encrypted: '', key: await path.bucketKey(store.defaultKey, bucket) };
  }
  throw new AccessError('NoKeyForPath',
    `no encryption key for ${JSON.stringify(name)} in bucket ${JSON.stringify(bucket)}: the access grant does not cover it`);
}

const startPlain = (store, bucket, name) => start(store, bucket, name, 'prefix');
const startEncrypted = (store, bucket, name) => start(store, bucket, name, 'encryptedPrefix');

/** Encrypts an object key with the most specific key that covers it. */
export async function encryptKey(store, bucket, key) {
  const s = await startPlain(store, bucket, key);
  if (s.clear) return key;
  return s.encrypted + await path.encryptPath(s.key, key.slice(s.plain.length));
}

/** Decrypts an object key as the satellite returns it. */
export async function decryptKey(store, bucket, encryptedKey) {
  const s = await startEncrypted(store, bucket, encryptedKey);
  if (s.clear) return encryptedKey;
  return s.plain + await path.decryptPath(s.key, encryptedKey.slice(s.encrypted.length));
}

/** Encrypts a listing prefix (`""` or ending in `/`; so is the result). */
export async function encryptPrefix(store, bucket, prefix) {
  path.checkPrefix(prefix);
  const s = await startPlain(store, bucket, prefix);
  if (s.clear) return prefix;
  const { encrypted } = await path.encryptPrefix(s.key, prefix.slice(s.plain.length));
  return s.encrypted + encrypted;
}

/** Reverses {@link encryptPrefix}. */
export async function decryptPrefix(store, bucket, encrypted) {
  path.checkPrefix(encrypted);
  const s = await startEncrypted(store, bucket, encrypted);
  if (s.clear) return encrypted;
  return s.plain + await path.decryptPrefix(s.key, encrypted.slice(s.encrypted.length));
}

/** The entry that gives exactly `bucket`/`prefix`. */
async function entryFor(store, bucket, prefix) {
  path.checkPrefix(prefix);
  const s = await startPlain(store, bucket, prefix);
  const { encrypted, key } = await path.encryptPrefix(s.key, prefix.slice(s.plain.length));
  // A share of a share of a bucket with names in clear keeps them in clear. (From the
  // root key, the console shares names encrypted: it does not check buckets' tags.)
  if (s.clear) return { bucket, prefix, encryptedPrefix: prefix, key, plainNames: true };
  return { bucket, prefix, encryptedPrefix: s.encrypted + encrypted, key, plainNames: false };
}

function sameEntry(a, b) {
  return a.bucket === b.bucket && a.prefix === b.prefix
    && a.encryptedPrefix === b.encryptedPrefix && bytesEqual(a.key, b.key)
    && a.plainNames === b.plainNames;
}

/**
 * A store that decrypts only under the given `[{bucket, prefix}]`. Refused if this
 * store cannot reach one of them itself, so restriction never widens.
 */
export async function restrictMany(store, paths) {
  const entries = [];
  for (const { bucket, prefix } of paths) {
    const entry = await entryFor(store, bucket, prefix);
    if (!entries.some((e) => sameEntry(e, entry))) entries.push(entry);
  }
  return { defaultKey: null, entries };
}
