#!/usr/bin/env node
/**
 * Checks the console's access-grant JavaScript against vectors made by the Rust uplink.
 *
 *   node crypto_check.mjs <vectors.json> [<outputs.json>]
 *
 * Every section of the vectors file is recomputed here and compared with what Rust
 * produced (Rust -> JS). What this script computed, including grants and API keys
 * restricted with random nonces and grants it damaged on purpose, is written to the
 * outputs file for `satellite/tests/console_crypto.rs` to parse and check (JS -> Rust).
 * Any mismatch is reported and the exit status is 1.
 */

import { readFileSync, writeFileSync } from 'node:fs';

import { argon2id } from '../js/crypto/argon2.js';
import { blake2b } from '../js/crypto/blake2b.js';
import {
  PostcardReader, PostcardWriter, base58CheckDecode, base58CheckEncode, base64Decode, base64Encode, toHex,
} from '../js/crypto/encoding.js';
import * as grantApi from '../js/crypto/grant.js';
import { derive, encryptPath, decryptPath as decryptPathFrom } from '../js/crypto/path.js';
import { sha256 } from '../js/crypto/sha256.js';

const {
  createGrant, decryptPath, encryptPrefix, parseGrant, restrictApiKey, restrictGrant, rootKeyFromPassphrase,
} = grantApi;

const failures = [];
let checks = 0;

function fail(where, message) {
  failures.push(`${where}: ${message}`);
}

/** JSON with object keys sorted, so that key order (which Rust may not keep) does not matter. */
function canonical(value) {
  return JSON.stringify(value, (_, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : v));
}

/** Both values when short, else where they start to differ. */
function difference(actual, expected) {
  if (actual.length + expected.length < 240) return `got ${actual}, expected ${expected}`;
  let i = 0;
  while (actual[i] === expected[i]) i++;
  const around = (s) => JSON.stringify(s.slice(Math.max(0, i - 20), i + 40));
  return `differs at character ${i} of ${actual.length} (expected ${expected.length}): got ...${around(actual)}..., expected ...${around(expected)}...`;
}

function expectEqual(where, actual, expected) {
  checks++;
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) fail(where, difference(a, e));
}

/** Awaits `fn()` and checks it throws an AccessError with `code` (and `text` in its message). */
async function expectRefusal(where, fn, { code, text } = {}) {
  checks++;
  try {
    const value = await fn();
    fail(where, `expected a refusal (${code ?? text}), got ${JSON.stringify(value)}`);
  } catch (e) {
    if (e?.name !== 'AccessError') fail(where, `expected an AccessError, got ${e?.stack ?? e}`);
    else if (code && e.code !== code) fail(where, `expected code ${code}, got ${e.code}: ${e.message}`);
    else if (text && !e.message.includes(text)) fail(where, `expected a message containing ${JSON.stringify(text)}, got ${JSON.stringify(e.message)}`);
  }
}

const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

/** Restriction options as JSON -> as restrictGrant takes them (nonce bytes, big TTLs as BigInt). */
function options(json) {
  const out = { ...json };
  if (typeof out.nonce === 'string') out.nonce = base64Decode(out.nonce);
  for (const name of ['notBefore', 'notAfter', 'maxObjectTtl']) {
    if (typeof out[name] === 'string') out[name] = BigInt(out[name]);
  }
  return out;
}

/** A parsed grant as plain JSON, in the shape the Rust test compares. */
function parsedJson(p) {
  return {
    satellite: p.satelliteAddress,
    api_key: p.apiKey,
    api_key_head_hex: toHex(p.apiKeyHead),
    caveats: p.caveats,
    default_key_hex: p.encryption.defaultKey && toHex(p.encryption.defaultKey),
    entries: p.encryption.entries.map((e) => ({
      bucket: e.bucket, prefix: e.prefix, encrypted_prefix: e.encryptedPrefix, key_hex: toHex(e.key),
    })),
  };
}

// ---------------------------------------------------------------- sections

/**
 * Runs `fn(item, i)` for each vector and stores its result at `out[name][i]`; a vector
 * that throws is a failure of that vector only.
 */
async function each(out, name, items, fn) {
  out[name] = [];
  for (const [i, item] of items.entries()) {
    try {
      out[name][i] = await fn(item, i);
    } catch (e) {
      fail(`${name}[${i}]`, `threw ${e?.stack ?? e}`);
      out[name][i] = null;
    }
  }
}

async function primitives(v, out) {
  // Self-checks against other implementations and published vectors.
  const { createHash } = await import('node:crypto');
  for (const n of [0, 1, 55, 64, 127, 128, 129, 1000]) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
    expectEqual(`sha256(${n} bytes)`, toHex(sha256(data)), createHash('sha256').update(data).digest('hex'));
    expectEqual(`blake2b(${n} bytes)`, toHex(blake2b(data, 64)), createHash('blake2b512').update(data).digest('hex'));
  }
  const rfc9106 = argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), {
    memoryKiB: 32, passes: 3, lanes: 4, tagLength: 32,
    secret: new Uint8Array(8).fill(3), associatedData: new Uint8Array(12).fill(4),
  });
  expectEqual('argon2id RFC 9106 vector', toHex(rfc9106),
    '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');

  await each(out, 'argon2id', v.argon2id, (a, i) => {
    const tag = toHex(argon2id(hex(a.password_hex), hex(a.salt_hex), {
      memoryKiB: a.m, passes: a.t, lanes: a.p, tagLength: a.len,
      secret: hex(a.secret_hex), associatedData: hex(a.ad_hex),
    }));
    expectEqual(`argon2id[${i}] m=${a.m} t=${a.t} p=${a.p}`, tag, a.tag_hex);
    return tag;
  });
  await each(out, 'derive', v.derive, async (d, i) => {
    const key = toHex(await derive(hex(d.key_hex), hex(d.label_hex)));
    expectEqual(`derive[${i}]`, key, d.out_hex);
    return key;
  });
  await each(out, 'paths', v.paths, async (p, i) => {
    const key = hex(p.key_hex);
    const enc = await encryptPath(key, p.path);
    expectEqual(`encryptPath[${i}] ${JSON.stringify(p.path)}`, enc, p.encrypted);
    expectEqual(`decryptPath[${i}] ${JSON.stringify(p.path)}`, await decryptPathFrom(key, p.encrypted), p.path);
    return enc;
  });
}

async function rootKeys(v, out) {
  await each(out, 'root_keys', v.root_keys, async (r, i) => {
    const started = performance.now();
    const key = toHex(await rootKeyFromPassphrase(r.passphrase, hex(r.salt_hex)));
    out.argon2_ms = Math.round(performance.now() - started);
    expectEqual(`rootKeyFromPassphrase[${i}]`, key, r.key_hex);
    return key;
  });
  for (const [i, r] of v.root_key_refusals.entries()) {
    await expectRefusal(`rootKeyFromPassphrase refusal[${i}]`,
      () => rootKeyFromPassphrase(r.passphrase, hex(r.salt_hex)), { code: r.code });
  }
}

async function names(v, out) {
  await each(out, 'prefixes', v.prefixes, async (p, i) => {
    const root = hex(p.root_hex);
    const enc = await encryptPrefix(root, p.bucket, p.prefix);
    expectEqual(`encryptPrefix[${i}] ${JSON.stringify(p.prefix)}`, enc, p.encrypted);
    expectEqual(`decryptPath(prefix)[${i}]`, await decryptPath(root, p.bucket, p.encrypted), p.prefix);
    return enc;
  });
  for (const [i, p] of v.prefix_refusals.entries()) {
    await expectRefusal(`encryptPrefix refusal[${i}]`, () => encryptPrefix(hex(p.root_hex), p.bucket, p.prefix), p);
  }
  await each(out, 'decrypt', v.decrypt, async (d, i) => {
    const plain = await decryptPath(hex(d.root_hex), d.bucket, d.encrypted);
    expectEqual(`decryptPath[${i}]`, plain, d.plain);
    return plain;
  });
  for (const [i, d] of v.decrypt_refusals.entries()) {
    await expectRefusal(`decryptPath refusal[${i}] ${JSON.stringify(d.encrypted)}`,
      () => decryptPath(hex(d.root_hex), d.bucket, d.encrypted), d);
  }
}

async function grants(v, out) {
  await each(out, 'create', v.create, async (c, i) => {
    const grant = await createGrant({
      satelliteAddress: c.satellite, apiKey: c.api_key, passphrase: c.passphrase, salt: hex(c.salt_hex),
    });
    expectEqual(`createGrant[${i}]`, grant, c.grant);
    return grant;
  });
  await each(out, 'parse', v.parse, (p, i) => {
    const parsed = parsedJson(parseGrant(p.grant));
    expectEqual(`parseGrant[${i}]`, parsed, p.expected);
    return parsed;
  });
  for (const [i, p] of v.parse_refusals.entries()) {
    await expectRefusal(`parseGrant refusal[${i}] ${JSON.stringify(p.grant)}`, () => parseGrant(p.grant), p);
  }
}

async function restrictions(v, out) {
  await each(out, 'restrict', v.restrict, async (r, i) => {
    const grant = await restrictGrant(r.grant, options(r.options));
    expectEqual(`restrictGrant[${i}]`, grant, r.expected);
    return grant;
  });
  for (const [i, r] of v.restrict_refusals.entries()) {
    await expectRefusal(`restrictGrant refusal[${i}] ${JSON.stringify(r.options)}`,
      () => restrictGrant(r.grant, options(r.options)), r);
  }
  await each(out, 'restrict_api_key', v.restrict_api_key, async (r, i) => {
    const key = await restrictApiKey(r.api_key, options(r.caveat));
    expectEqual(`restrictApiKey[${i}]`, key, r.expected);
    return key;
  });
  await each(out, 'random_restrict', v.random_restrict, (r) => restrictGrant(r.grant, options(r.options)));
  await each(out, 'random_restrict_api_key', v.random_restrict_api_key, async (r) => {
    const a = await restrictApiKey(r.api_key, options(r.caveat));
    const b = await restrictApiKey(r.api_key, options(r.caveat));
    checks++;
    if (a === b) fail('restrictApiKey', 'two restrictions with random nonces gave the same key');
    return a;
  });
}

/** Mistakes only JavaScript callers can make: each must be refused, never ignored. */
async function callerMistakes(v) {
  const grant = v.parse[0].grant;
  const bad = [
    [{ disallowWrite: true }, 'unknown restriction "disallowWrite"'],
    [{ disallowWrites: 'yes' }, 'disallowWrites must be true or false'],
    [{ paths: [{ bucket: 'b' }] }, 'needs a bucket and a prefix'],
    [{ paths: [{ bucket: 'b', prefix: '', extra: 1 }] }, 'unknown shared path field'],
    [{ notAfter: 1.5 }, 'notAfter must be a whole number'],
    [{ maxObjectTtl: -1 }, 'maxObjectTtl must be a whole number'],
    [{ nonce: 'abc' }, 'nonce must be a Uint8Array'],
    [{ paths: [{ bucket: 'b', prefix: '\ud800/' }] }, 'not valid Unicode'],
  ];
  for (const [opts, text] of bad) {
    await expectRefusal(`restrictGrant(${JSON.stringify(opts)})`, () => restrictGrant(grant, opts), { code: 'Malformed', text });
  }
  const apiKey = v.restrict_api_key[0].api_key;
  await expectRefusal('restrictApiKey unknown field', () => restrictApiKey(apiKey, { allowed_paths: [] }),
    { code: 'Malformed', text: 'unknown caveat field' });
  await expectRefusal('restrictApiKey bad path', () => restrictApiKey(apiKey, { allowedPaths: [{ bucket: 'b', encryptedPrefix: 'X' }] }),
    { code: 'Malformed', text: 'must be empty or end with' });
  await expectRefusal('encryptPrefix without bucket', () => encryptPrefix(new Uint8Array(32), undefined, ''),
    { code: 'Malformed', text: 'bucket name must be a string' });
  await expectRefusal('createGrant without node id', () => createGrant({
    satelliteAddress: 'satellite.example:7777', apiKey, passphrase: 'pw', salt: new Uint8Array(8),
  }), { code: 'Malformed', text: 'must look like <node id>@<host>:<port>' });
  await expectRefusal('createGrant with a bad API key', () => createGrant({
    satelliteAddress: v.parse[0].expected.satellite, apiKey: 'AgAAAA', passphrase: 'pw', salt: new Uint8Array(8),
  }), { code: 'Malformed', text: 'not a valid API key' });
}

/** A grant in the encoding `grant.js` writes, from explicit parts (which may be inconsistent). */
function encodeGrant({ satellite, apiKey, defaultKey = null, entries = [] }) {
  const w = new PostcardWriter().string(satellite).bytes(apiKey).option(defaultKey, (x, k) => x.bytes(k)).varint(entries.length);
  for (const e of entries) w.string(e.bucket).string(e.prefix).string(e.encryptedPrefix).bytes(e.key).bool(e.plainNames);
  return base58CheckEncode(1, w.finish());
}

/**
 * A tampered grant whose two entries cover the same prefix with different keys, and
 * its restriction: Rust must pick the same entry (the last one).
 */
async function tiedEntries(v, out) {
  const shared = parseGrant(v.parse[1].grant);
  const [first, second] = shared.encryption.entries;
  const grant = encodeGrant({
    satellite: shared.satelliteAddress,
    apiKey: base64Decode(shared.apiKey, { url: true, pad: false }),
    entries: [first, { ...first, key: second.key }],
  });
  const nonce = v.restrict[0].options.nonce;
  const restricted = await restrictGrant(grant, {
    paths: [{ bucket: first.bucket, prefix: `${first.prefix}a/` }], nonce: base64Decode(nonce),
  });
  out.tied = { grant, restricted, bucket: first.bucket, prefix: `${first.prefix}a/`, nonce };
}

/** Grants damaged on purpose: all must be refused here, and the Rust test checks it refuses them too. */
function malformedGrants(v, out) {
  const good = v.parse[0].grant;
  const { body } = base58CheckDecode(good);
  const r = new PostcardReader(body);
  const satellite = r.string('satellite');
  const apiKey = r.bytesField('api key');
  const afterKey = r.at;
  const made = [];
  const add = (why, bytes, version = 1) => made.push({ why, grant: base58CheckEncode(version, bytes) });
  const w = () => new PostcardWriter();
  const host = satellite.split('@')[1];
  add('version 2', body, 2);
  add('trailing byte', Uint8Array.from([...body, 0]));
  add('truncated body', body.subarray(0, body.length - 1));
  add('option tag 2', Uint8Array.from([...body.subarray(0, afterKey), 2, ...body.subarray(afterKey + 1)]));
  add('31-byte root key', w().string(satellite).bytes(apiKey).option(new Uint8Array(31), (x, k) => x.bytes(k)).varint(0).finish());
  add('satellite without @', w().string(host).bytes(apiKey).option(null).varint(0).finish());
  add('satellite without port', w().string(satellite.replace(/:\d+$/, '')).bytes(apiKey).option(null).varint(0).finish());
  add('short node id', w().string(`1111@${host}`).bytes(apiKey).option(null).varint(0).finish());
  add('API key with trailing byte', w().string(satellite).bytes(Uint8Array.from([...apiKey, 0])).option(null).varint(0).finish());
  add('API key version 1', w().string(satellite).bytes(Uint8Array.from([1, ...apiKey.subarray(1)])).option(null).varint(0).finish());
  add('API key without identifier', w().string(satellite).bytes(Uint8Array.of(2, 2, 0, 0, 0, 6, 32, ...new Uint8Array(32))).option(null).varint(0).finish());
  add('invalid UTF-8 bucket', Uint8Array.from([...w().string(satellite).bytes(apiKey).option(null).varint(1).finish(), 1, 0xff]));
  add('names-in-clear flag 2', Uint8Array.from([...w().string(satellite).bytes(apiKey).option(null).varint(1).string('b').string('').string('').bytes(new Uint8Array(32)).finish(), 2]));
  add('entry key missing', w().string(satellite).bytes(apiKey).option(null).varint(1).string('b').string('').string('').bytes(new Uint8Array(0)).finish());
  out.malformed_grants = made;
  for (const m of made) {
    checks++;
    try {
      parseGrant(m.grant);
      fail(`parseGrant(${m.why})`, 'was accepted');
    } catch (e) {
      if (!e.message.startsWith('not a valid access grant') && !e.message.startsWith('unsupported access grant version')) {
        fail(`parseGrant(${m.why})`, `unclear message: ${e.message}`);
      }
    }
  }
  // Accepted by both: surrounding whitespace, and the API key spelled in standard base64.
  out.padded_grant = `\n  ${good}  \n`;
  expectEqual('parseGrant(whitespace)', parsedJson(parseGrant(out.padded_grant)), v.parse[0].expected);
  out.api_key_standard_base64 = base64Encode(base64Decode(v.parse[0].expected.api_key, { url: true, pad: false }));
}

// ---------------------------------------------------------------- main

async function main() {
  const [vectorsPath, outputsPath] = process.argv.slice(2);
  if (!vectorsPath) {
    console.error('usage: node crypto_check.mjs <vectors.json> [<outputs.json>]');
    process.exit(2);
  }
  const v = JSON.parse(readFileSync(vectorsPath, 'utf8'));
  const out = {};
  const sections = [primitives, rootKeys, names, grants, restrictions, callerMistakes, tiedEntries, malformedGrants];
  for (const section of sections) {
    try {
      await section(v, out);
    } catch (e) {
      fail(section.name, `threw ${e?.stack ?? e}`);
    }
  }
  if (outputsPath) writeFileSync(outputsPath, JSON.stringify(out, null, 1));
  if (failures.length > 0) {
    console.error(`console crypto check: ${failures.length} of ${checks} checks FAILED`);
    for (const f of failures) console.error(`  - ${f}`);
    process.exit(1);
  }
  console.log(`console crypto check: all ${checks} checks passed (Argon2id 64 MiB: ${out.argon2_ms} ms)`);
}

await main();
