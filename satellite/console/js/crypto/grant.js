/**
 * Access grants in the browser: the public API the web console imports.
 *
 * The console lets people create and share access grants without their encryption
 * passphrase ever leaving the page, so everything the `uplink` tool does to make and
 * narrow a grant is reimplemented here, byte for byte (see
 * `uplink-core/src/access/grant.rs`): a grant is base58check (double SHA-256
 * checksum) of a version byte 1 and the postcard encoding of
 * `{satellite: "nodeid@host:port", api_key: macaroon bytes, encryption: {default_key:
 * Option<32 bytes>, entries: [{bucket, prefix, encrypted_prefix, key, plain_names}]}}`.
 * `satellite/tests/console_crypto.rs` checks this module against the Rust code in both
 * directions.
 *
 * Errors are {@link AccessError}s whose `code` names the Rust error they mirror.
 *
 * @module
 */

import { argon2id } from './argon2.js';
import { addFirstPartyCaveat, encodeMacaroon, parseApiKey, serializeApiKey } from './macaroon.js';
import { caveatPredicate, checkKnownFields, describePredicate, normalizeCaveat } from './caveat.js';
import {
  PostcardReader, PostcardWriter, base58CheckDecode, base58CheckEncode, base58Decode, utf8,
} from './encoding.js';
import { AccessError, malformed } from './errors.js';
import { KEY_SIZE, checkPrefix } from './path.js';
import * as store from './store.js';

export { AccessError } from './errors.js';

/** The version byte of grants this code reads and writes. */
export const GRANT_VERSION = 1;

/** Argon2id parameters of `uplink-core/src/crypto/passphrase.rs`; never to change. */
export const ARGON2_PARAMS = Object.freeze({ memoryKiB: 64 * 1024, passes: 1, lanes: 1, tagLength: 32 });

// ---------------------------------------------------------------- root keys

function checkKey(key, what = 'root key') {
  if (!(key instanceof Uint8Array) || key.length !== KEY_SIZE) {
    throw malformed(`the ${what} must be a Uint8Array of ${KEY_SIZE} bytes`);
  }
}

function checkString(value, what) {
  if (typeof value !== 'string') throw malformed(`the ${what} must be a string`);
}

/**
 * The project's root key from a passphrase and the project's salt (Argon2id, 64 MiB,
 * one pass, one lane). Takes a second or two and blocks the thread meanwhile.
 * @param {string} passphrase
 * @param {Uint8Array} salt at least 8 bytes
 * @returns {Promise<Uint8Array>} 32 bytes
 */
export async function rootKeyFromPassphrase(passphrase, salt) {
  if (typeof passphrase !== 'string') throw malformed('the passphrase must be a string');
  if (passphrase === '') throw new AccessError('EmptyPassphrase', 'the passphrase must not be empty');
  if (!(salt instanceof Uint8Array)) throw malformed('the salt must be a Uint8Array');
  if (salt.length < 8) {
    throw new AccessError('KeyDerivation', 'cannot derive a key from the passphrase: the salt is too short');
  }
  return argon2id(utf8(passphrase, 'the passphrase'), salt, ARGON2_PARAMS);
}

// ---------------------------------------------------------------- satellite address

/** Checks `nodeid@host:port` as Rust's `NodeUrl` parses it, and returns it unchanged. */
function checkSatelliteAddress(text) {
  if (typeof text !== 'string') throw malformed('the satellite address must be a string');
  const at = text.indexOf('@');
  if (at < 0) throw malformed(`${JSON.stringify(text)} must look like <node id>@<host>:<port>`);
  const id = text.slice(0, at);
  const address = text.slice(at + 1);
  if (address === '' || !address.includes(':')) {
    throw malformed(`address ${JSON.stringify(address)} in ${JSON.stringify(text)} must be host:port`);
  }
  let bytes;
  try {
    bytes = base58Decode(id);
  } catch (e) {
    throw malformed(`the satellite's node id is not base58: ${e.message}`);
  }
  if (bytes.length !== 32) throw malformed(`the satellite's node id must be 32 bytes, got ${bytes.length}`);
  return text;
}

// ---------------------------------------------------------------- encoding

function writeKey(w, key) {
  w.bytes(key);
}

/** The grant string of `{satelliteAddress, apiKeyBinary, encryption}`. */
function serializeGrant(g) {
  const w = new PostcardWriter()
    .string(g.satelliteAddress, 'satellite address')
    .bytes(g.apiKeyBinary)
    .option(g.encryption.defaultKey, writeKey)
    .varint(g.encryption.entries.length);
  for (const e of g.encryption.entries) {
    w.string(e.bucket, 'bucket').string(e.prefix, 'prefix').string(e.encryptedPrefix, 'encrypted prefix');
    writeKey(w, e.key);
    w.bool(e.plainNames);
  }
  return base58CheckEncode(GRANT_VERSION, w.finish());
}

function readKey(r, what) {
  const key = r.bytesField(what);
  if (key.length !== KEY_SIZE) throw malformed(`${what} must be ${KEY_SIZE} bytes, got ${key.length}`);
  return key;
}

function readEntry(r, i) {
  const what = `shared path ${i + 1}`;
  return {
    bucket: r.string(`${what}: bucket`),
    prefix: r.string(`${what}: prefix`),
    encryptedPrefix: r.string(`${what}: encrypted prefix`),
    key: readKey(r, `${what}: key`),
    plainNames: r.bool(`${what}: names in clear`),
  };
}

function readGrantBody(body) {
  const r = new PostcardReader(body);
  const satelliteAddress = checkSatelliteAddress(r.string('satellite address'));
  const { macaroon, binary } = parseApiKey(serializeApiKey(r.bytesField('API key')));
  const defaultKey = r.option('root key', () => readKey(r, 'root key'));
  const count = r.varint('shared paths');
  const entries = [];
  for (let i = 0; i < count; i++) entries.push(readEntry(r, i));
  if (r.rest !== 0) throw malformed('trailing data');
  return { satelliteAddress, macaroon, apiKeyBinary: binary, encryption: { defaultKey, entries } };
}

/** Parses a grant into its internal form; every refusal says "not a valid access grant". */
function decodeGrant(grant) {
  if (typeof grant !== 'string') throw malformed('not a valid access grant: it must be a string');
  const text = grant.trim();
  try {
    if (text === '') throw malformed('it is empty');
    const { version, body } = base58CheckDecode(text);
    if (version !== GRANT_VERSION) {
      throw malformed(`unsupported access grant version ${version} (this client reads version ${GRANT_VERSION})`);
    }
    return readGrantBody(body);
  } catch (e) {
    if (!(e instanceof AccessError) || e.message.startsWith('unsupported access grant version')) throw e;
    throw new AccessError(e.code, `not a valid access grant: ${e.message}`);
  }
}

// ---------------------------------------------------------------- public API

/**
 * A grant for the whole project, as `uplink access create` makes it: the satellite,
 * the API key and the root key derived from the passphrase and the project's salt.
 * @param {{satelliteAddress: string, apiKey: string, passphrase: string, salt: Uint8Array}} args
 * @returns {Promise<string>}
 */
export async function createGrant({ satelliteAddress, apiKey, passphrase, salt }) {
  checkSatelliteAddress(satelliteAddress);
  const { binary } = parseApiKey(apiKey);
  const rootKey = await rootKeyFromPassphrase(passphrase, salt);
  return serializeGrant({ satelliteAddress, apiKeyBinary: binary, encryption: store.rootStore(rootKey) });
}

/**
 * What a grant holds. Secrets are included (the root key and shared keys are in
 * `encryption`), so do not log the result.
 * @param {string} grant
 * @returns {{satelliteAddress: string, apiKey: string, apiKeyHead: Uint8Array,
 *   caveats: (object|null)[], encryption: {defaultKey: Uint8Array|null,
 *   entries: {bucket: string, prefix: string, encryptedPrefix: string, key: Uint8Array,
 *     plainNames: boolean}[]}}}
 *   `caveats` are the JSON objects of the API key's caveats (null for one this code
 *   does not understand), for display.
 */
export function parseGrant(grant) {
  const g = decodeGrant(grant);
  return {
    satelliteAddress: g.satelliteAddress,
    apiKey: serializeApiKey(g.apiKeyBinary),
    apiKeyHead: g.macaroon.identifier,
    caveats: g.macaroon.caveats.map((c) => (c.vid ? null : describePredicate(c.id))),
    encryption: g.encryption,
  };
}

/**
 * An API key narrowed by one more caveat (see `caveat.js` for its fields; the nonce
 * is random unless given). Needs no secret.
 * @param {string} apiKey
 * @param {object} caveat
 * @returns {Promise<string>}
 */
export async function restrictApiKey(apiKey, caveat = {}) {
  const { macaroon } = parseApiKey(apiKey);
  const restricted = await addFirstPartyCaveat(macaroon, caveatPredicate(normalizeCaveat(caveat)));
  return serializeApiKey(encodeMacaroon(restricted));
}

const RESTRICT_OPTIONS = new Set([
  'disallowReads', 'disallowWrites', 'disallowLists', 'disallowDeletes',
  'paths', 'notBefore', 'notAfter', 'maxObjectTtl', 'nonce',
]);

function checkPaths(paths) {
  if (!Array.isArray(paths)) throw malformed('paths must be an array of {bucket, prefix}');
  return paths.map((p) => {
    if (p === null || typeof p !== 'object') throw malformed('a shared path must be {bucket, prefix}');
    checkKnownFields(p, new Set(['bucket', 'prefix']), 'shared path field');
    if (typeof p.bucket !== 'string' || typeof p.prefix !== 'string') {
      throw malformed('a shared path needs a bucket and a prefix ("" for the whole bucket)');
    }
    return { bucket: p.bucket, prefix: p.prefix };
  });
}

/** The caveat's allowed paths: each shared path with its prefix encrypted, without repeats. */
async function allowedPaths(encryption, paths) {
  const out = [];
  for (const { bucket, prefix } of paths) {
    if (bucket === '') throw malformed('a shared path needs a bucket name');
    const encryptedPrefix = await store.encryptPrefix(encryption, bucket, prefix);
    if (!out.some((p) => p.bucket === bucket && p.encryptedPrefix === encryptedPrefix)) {
      out.push({ bucket, encryptedPrefix });
    }
  }
  return out;
}

/**
 * A narrower grant, made offline, as `AccessGrant::restrict` makes it. The flags,
 * time window (unix seconds, inclusive) and upload TTL (seconds) restrict the API
 * key. With `paths` (`[{bucket, prefix}]`, plaintext prefixes `""` or ending in `/`)
 * the new grant may touch and decrypt only under them, and it is refused if this
 * grant cannot reach one of them itself. `nonce` (16 random bytes unless given) only
 * exists to reproduce a restriction exactly.
 * @returns {Promise<string>}
 */
export async function restrictGrant(grant, options = {}) {
  if (options === null || typeof options !== 'object') throw malformed('the restriction must be an object');
  checkKnownFields(options, RESTRICT_OPTIONS, 'restriction');
  const { paths = [], ...rest } = options;
  const g = decodeGrant(grant);
  const shared = checkPaths(paths);
  const caveat = normalizeCaveat({ ...rest, allowedPaths: await allowedPaths(g.encryption, shared) });
  const encryption = shared.length === 0 ? g.encryption : await store.restrictMany(g.encryption, shared);
  const macaroon = await addFirstPartyCaveat(g.macaroon, caveatPredicate(caveat));
  return serializeGrant({ satelliteAddress: g.satelliteAddress, apiKeyBinary: encodeMacaroon(macaroon), encryption });
}

/**
 * A listing prefix (`""` or ending in `/`) encrypted as the satellite's listing API
 * expects it, for a grant holding `rootKey`.
 * @returns {Promise<string>}
 */
export async function encryptPrefix(rootKey, bucket, plainPrefix) {
  checkKey(rootKey);
  checkString(bucket, 'bucket name');
  checkPrefix(plainPrefix);
  return store.encryptPrefix(store.rootStore(rootKey), bucket, plainPrefix);
}

/**
 * Decrypts an object key, or a listing prefix (`""` or ending in `/`; an encrypted
 * object key never ends in `/`), as the satellite returns it. Throws an AccessError
 * (`WrongKeyOrCorrupted` for a wrong key) if it does not decrypt.
 * @returns {Promise<string>}
 */
export async function decryptPath(rootKey, bucket, encryptedKey) {
  checkKey(rootKey);
  checkString(bucket, 'bucket name');
  checkString(encryptedKey, 'encrypted key');
  const s = store.rootStore(rootKey);
  if (encryptedKey === '' || encryptedKey.endsWith('/')) return store.decryptPrefix(s, bucket, encryptedKey);
  return store.decryptKey(s, bucket, encryptedKey);
}
