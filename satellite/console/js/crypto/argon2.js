/**
 * Argon2id (RFC 9106, version 0x13) in plain JavaScript.
 *
 * The console derives root keys from passphrases in the browser so that a passphrase
 * never leaves it, and browsers offer no Argon2. The uplink uses 64 MiB of memory, so
 * the memory-filling loop is what matters: blocks live in one Uint32Array, 64-bit
 * words are (low, high) pairs of 32-bit halves, and the 32x32->64-bit multiplication
 * of BlaMka is done on 16-bit limbs so that every intermediate is an exact double.
 * BigInt is never used (it allocates on every operation).
 *
 * The computation is synchronous and takes a second or two for 64 MiB; a page that must
 * stay responsive meanwhile can import this module in a module Worker.
 *
 * @module
 */

import { blake2b } from './blake2b.js';

const VERSION = 0x13;
const TYPE_ARGON2ID = 2;
const SYNC_POINTS = 4;
const BLOCK_WORDS = 256; // 1024-byte block as 32-bit words
const ADDRESSES_PER_BLOCK = 128;
const TWO_32 = 0x100000000;

/** High 32 bits of the 64-bit product of two 32-bit unsigned integers. */
function mulHi(a, b) {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const lo = a0 * b0;
  const cross1 = a0 * b1;
  const cross2 = a1 * b0;
  const mid = (lo >>> 16) + (cross1 & 0xffff) + (cross2 & 0xffff);
  return (a1 * b1 + (cross1 >>> 16) + (cross2 >>> 16) + (mid >>> 16)) >>> 0;
}

// Argon2's fBlaMka returns the high half here (and the low half as its result), which
// avoids allocating a pair on the hot path.
let blamkaHi = 0;

/**
 * x + y + 2 * lo32(x) * lo32(y) mod 2^64; returns the low half, sets `blamkaHi`.
 * Halves may arrive as signed int32 (results of bit operations): the low halves are
 * made unsigned before adding so that the carry is right.
 */
function blamka(xl, xh, yl, yh) {
  const productLo = Math.imul(xl, yl) >>> 0;
  const productHi = mulHi(xl, yl);
  const doubledLo = (productLo << 1) >>> 0;
  const doubledHi = productHi * 2 + (productLo >>> 31);
  const lo = (xl >>> 0) + (yl >>> 0) + doubledLo;
  const carry = Math.floor(lo / TWO_32);
  blamkaHi = (xh + yh + doubledHi + carry) >>> 0;
  return lo >>> 0;
}

/** Argon2's GB on the 64-bit words at 32-bit offsets a, b, c, d of v. */
function gb(v, a, b, c, d) {
  let al = v[a], ah = v[a + 1];
  let bl = v[b], bh = v[b + 1];
  let cl = v[c], ch = v[c + 1];
  let dl = v[d], dh = v[d + 1];
  let xl, xh;

  al = blamka(al, ah, bl, bh); ah = blamkaHi;
  xl = dl ^ al; xh = dh ^ ah; dl = xh; dh = xl; // rotr 32
  cl = blamka(cl, ch, dl, dh); ch = blamkaHi;
  xl = bl ^ cl; xh = bh ^ ch; // rotr 24
  bl = (xl >>> 24) | (xh << 8); bh = (xh >>> 24) | (xl << 8);
  al = blamka(al, ah, bl, bh); ah = blamkaHi;
  xl = dl ^ al; xh = dh ^ ah; // rotr 16
  dl = (xl >>> 16) | (xh << 16); dh = (xh >>> 16) | (xl << 16);
  cl = blamka(cl, ch, dl, dh); ch = blamkaHi;
  xl = bl ^ cl; xh = bh ^ ch; // rotr 63
  bl = (xl << 1) | (xh >>> 31); bh = (xh << 1) | (xl >>> 31);

  v[a] = al; v[a + 1] = ah;
  v[b] = bl; v[b + 1] = bh;
  v[c] = cl; v[c + 1] = ch;
  v[d] = dl; v[d + 1] = dh;
}

/** The BLAKE2b-like permutation P on sixteen 64-bit words at the given offsets. */
function permute(v, o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15) {
  gb(v, o0, o4, o8, o12);
  gb(v, o1, o5, o9, o13);
  gb(v, o2, o6, o10, o14);
  gb(v, o3, o7, o11, o15);
  gb(v, o0, o5, o10, o15);
  gb(v, o1, o6, o11, o12);
  gb(v, o2, o7, o8, o13);
  gb(v, o3, o4, o9, o14);
}

const scratchR = new Uint32Array(BLOCK_WORDS);
const scratchT = new Uint32Array(BLOCK_WORDS);

/**
 * The compression function G: out = P(x ^ y) ^ (x ^ y), also XORed with the old `out`
 * when `xorOld` (passes after the first, version 0x13). Offsets are in 32-bit words.
 */
function compress(out, outOff, x, xOff, y, yOff, xorOld) {
  const r = scratchR;
  const t = scratchT;
  for (let k = 0; k < BLOCK_WORDS; k++) {
    const w = x[xOff + k] ^ y[yOff + k];
    r[k] = w;
    t[k] = xorOld ? w ^ out[outOff + k] : w;
  }
  for (let i = 0; i < 8; i++) {
    // Rows: 16 consecutive 64-bit words.
    const o = 32 * i;
    permute(r, o, o + 2, o + 4, o + 6, o + 8, o + 10, o + 12, o + 14,
      o + 16, o + 18, o + 20, o + 22, o + 24, o + 26, o + 28, o + 30);
  }
  for (let i = 0; i < 8; i++) {
    // Columns: pairs of 64-bit words, one pair from each row.
    const o = 4 * i;
    permute(r, o, o + 2, o + 32, o + 34, o + 64, o + 66, o + 96, o + 98,
      o + 128, o + 130, o + 160, o + 162, o + 192, o + 194, o + 224, o + 226);
  }
  for (let k = 0; k < BLOCK_WORDS; k++) out[outOff + k] = t[k] ^ r[k];
}

function le32(n) {
  return new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** H' (variable-length hash): BLAKE2b chained to produce `outLen` bytes. */
function hashLong(input, outLen) {
  const prefixed = concat([le32(outLen), input]);
  if (outLen <= 64) return blake2b(prefixed, outLen);
  const out = new Uint8Array(outLen);
  const r = Math.ceil(outLen / 32) - 2;
  let v = blake2b(prefixed, 64);
  out.set(v.subarray(0, 32), 0);
  for (let i = 1; i < r; i++) {
    v = blake2b(v, 64);
    out.set(v.subarray(0, 32), 32 * i);
  }
  out.set(blake2b(v, outLen - 32 * r), 32 * r);
  return out;
}

function bytesToWords(bytes, words, off) {
  for (let k = 0; k < BLOCK_WORDS; k++) {
    const b = 4 * k;
    words[off + k] = bytes[b] | (bytes[b + 1] << 8) | (bytes[b + 2] << 16) | (bytes[b + 3] << 24);
  }
}

function wordsToBytes(words, off) {
  const bytes = new Uint8Array(4 * BLOCK_WORDS);
  for (let k = 0; k < BLOCK_WORDS; k++) {
    const w = words[off + k];
    bytes.set([w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24], 4 * k);
  }
  return bytes;
}

/** H0: the hash of every parameter and input. */
function initialHash(p, password, salt, secret, ad) {
  return blake2b(concat([
    le32(p.lanes), le32(p.tagLength), le32(p.memoryKiB), le32(p.passes),
    le32(VERSION), le32(TYPE_ARGON2ID),
    le32(password.length), password, le32(salt.length), salt,
    le32(secret.length), secret, le32(ad.length), ad,
  ]), 64);
}

/** Where the block at `index` of a segment takes its reference from (RFC 9106 3.4.2). */
function referenceIndex(g, pass, slice, index, randLo, sameLane) {
  let area;
  if (pass === 0) {
    if (slice === 0) area = index - 1;
    else if (sameLane) area = slice * g.segmentLength + index - 1;
    else area = slice * g.segmentLength + (index === 0 ? -1 : 0);
  } else if (sameLane) {
    area = g.laneLength - g.segmentLength + index - 1;
  } else {
    area = g.laneLength - g.segmentLength + (index === 0 ? -1 : 0);
  }
  const x = mulHi(randLo, randLo);
  const relative = area - 1 - mulHi(area, x);
  const start = pass === 0 || slice === SYNC_POINTS - 1 ? 0 : (slice + 1) * g.segmentLength;
  return (start + relative) % g.laneLength;
}

/** Generator of the data-independent pseudo-random values of one segment. */
function addressGenerator(g, pass, lane, slice) {
  const zero = new Uint32Array(BLOCK_WORDS);
  const input = new Uint32Array(BLOCK_WORDS);
  const addresses = new Uint32Array(BLOCK_WORDS);
  input[0] = pass;
  input[2] = lane;
  input[4] = slice;
  input[6] = g.blockCount;
  input[8] = g.passes;
  input[10] = TYPE_ARGON2ID;
  return {
    addresses,
    next() {
      input[12] += 1; // the counter; a segment never needs 2^32 address blocks
      compress(addresses, 0, zero, 0, input, 0, false);
      compress(addresses, 0, zero, 0, addresses, 0, false);
    },
  };
}

function fillSegment(g, mem, pass, lane, slice) {
  const independent = pass === 0 && slice < SYNC_POINTS / 2;
  const first = pass === 0 && slice === 0 ? 2 : 0; // blocks 0 and 1 come from H0
  const gen = independent ? addressGenerator(g, pass, lane, slice) : null;
  if (gen && first === 2) gen.next();
  let cur = lane * g.laneLength + slice * g.segmentLength + first;
  let prev = cur % g.laneLength === 0 ? cur + g.laneLength - 1 : cur - 1;
  for (let i = first; i < g.segmentLength; i++, cur++, prev++) {
    if (cur % g.laneLength === 1) prev = cur - 1;
    let randLo, randHi;
    if (gen) {
      if (i % ADDRESSES_PER_BLOCK === 0) gen.next();
      randLo = gen.addresses[2 * (i % ADDRESSES_PER_BLOCK)];
      randHi = gen.addresses[2 * (i % ADDRESSES_PER_BLOCK) + 1];
    } else {
      randLo = mem[prev * BLOCK_WORDS];
      randHi = mem[prev * BLOCK_WORDS + 1];
    }
    const refLane = pass === 0 && slice === 0 ? lane : randHi % g.lanes;
    const refIndex = referenceIndex(g, pass, slice, i, randLo, refLane === lane);
    const ref = refLane * g.laneLength + refIndex;
    compress(mem, cur * BLOCK_WORDS, mem, prev * BLOCK_WORDS, mem, ref * BLOCK_WORDS, pass !== 0);
  }
}

function checkParams(p, salt) {
  const int = (n, min) => Number.isInteger(n) && n >= min && n < TWO_32;
  if (!int(p.lanes, 1) || p.lanes >= 1 << 24) throw new RangeError('Argon2: bad parallelism');
  if (!int(p.passes, 1)) throw new RangeError('Argon2: bad number of passes');
  if (!int(p.tagLength, 4)) throw new RangeError('Argon2: output must be at least 4 bytes');
  if (!int(p.memoryKiB, 8 * p.lanes)) throw new RangeError('Argon2: memory must be at least 8 KiB per lane');
  if (salt.length < 8) throw new RangeError('Argon2: salt is too short (at least 8 bytes)');
}

/**
 * Argon2id.
 * @param {Uint8Array} password
 * @param {Uint8Array} salt at least 8 bytes
 * @param {{memoryKiB: number, passes: number, lanes: number, tagLength: number,
 *          secret?: Uint8Array, associatedData?: Uint8Array}} params
 * @returns {Uint8Array} the tag, `tagLength` bytes
 */
export function argon2id(password, salt, params) {
  const p = params;
  checkParams(p, salt);
  const h0 = initialHash(p, password, salt, p.secret ?? new Uint8Array(0),
    p.associatedData ?? new Uint8Array(0));
  const blockCount = 4 * p.lanes * Math.floor(p.memoryKiB / (4 * p.lanes));
  const laneLength = blockCount / p.lanes;
  const g = {
    lanes: p.lanes, passes: p.passes, blockCount, laneLength,
    segmentLength: laneLength / SYNC_POINTS,
  };
  const mem = new Uint32Array(blockCount * BLOCK_WORDS);
  for (let lane = 0; lane < p.lanes; lane++) {
    for (const j of [0, 1]) {
      const block = hashLong(concat([h0, le32(j), le32(lane)]), 1024);
      bytesToWords(block, mem, (lane * laneLength + j) * BLOCK_WORDS);
    }
  }
  for (let pass = 0; pass < p.passes; pass++) {
    for (let slice = 0; slice < SYNC_POINTS; slice++) {
      for (let lane = 0; lane < p.lanes; lane++) fillSegment(g, mem, pass, lane, slice);
    }
  }
  const last = new Uint32Array(BLOCK_WORDS);
  for (let lane = 0; lane < p.lanes; lane++) {
    const off = (lane * laneLength + laneLength - 1) * BLOCK_WORDS;
    for (let k = 0; k < BLOCK_WORDS; k++) last[k] ^= mem[off + k];
  }
  mem.fill(0);
  return hashLong(wordsToBytes(last, 0), p.tagLength);
}
