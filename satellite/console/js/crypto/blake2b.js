/**
 * BLAKE2b (RFC 7693), unkeyed, any output length from 1 to 64 bytes.
 *
 * Argon2 needs it and WebCrypto does not offer it. It only hashes a few kilobytes per
 * key derivation (the memory-hard part is Argon2's own compression function), so this
 * is written for clarity: 64-bit words are pairs of 32-bit halves in a Uint32Array
 * (low half at the even index), because BigInt would be far slower and plain numbers
 * cannot hold 64 bits.
 *
 * @module
 */

// Initialisation vector (the SHA-512 IV), as [low, high] 32-bit halves.
const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85,
  0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c,
  0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

// Message word schedule for the 12 rounds (rounds 10 and 11 repeat 0 and 1).
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

const BLOCK_BYTES = 128;

/** v[a] += v[b] + (m[x], as a 64-bit pair at index x of m). */
function add3(v, a, b, m, x) {
  const lo = v[a] + v[b] + m[x];
  v[a + 1] = v[a + 1] + v[b + 1] + m[x + 1] + Math.floor(lo / 0x100000000);
  v[a] = lo;
}

/** v[a] += v[b] (64-bit). */
function add2(v, a, b) {
  const lo = v[a] + v[b];
  v[a + 1] = v[a + 1] + v[b + 1] + Math.floor(lo / 0x100000000);
  v[a] = lo;
}

/** v[d] = rotr64(v[d] ^ v[a], n) for n in {16, 24, 32, 63}. */
function xorRotr(v, d, a, n) {
  const xl = v[d] ^ v[a];
  const xh = v[d + 1] ^ v[a + 1];
  if (n === 32) {
    v[d] = xh;
    v[d + 1] = xl;
  } else if (n === 63) {
    v[d] = (xl << 1) | (xh >>> 31);
    v[d + 1] = (xh << 1) | (xl >>> 31);
  } else {
    v[d] = (xl >>> n) | (xh << (32 - n));
    v[d + 1] = (xh >>> n) | (xl << (32 - n));
  }
}

/** The mixing function G on working words a, b, c, d with message words x, y. */
function mix(v, m, a, b, c, d, x, y) {
  add3(v, a, b, m, x);
  xorRotr(v, d, a, 32);
  add2(v, c, d);
  xorRotr(v, b, c, 24);
  add3(v, a, b, m, y);
  xorRotr(v, d, a, 16);
  add2(v, c, d);
  xorRotr(v, b, c, 63);
}

/** Compresses one 128-byte block into the state h. */
function compress(h, block, byteCount, last) {
  const m = new Uint32Array(32);
  for (let i = 0; i < 32; i++) {
    const o = 4 * i;
    m[i] = block[o] | (block[o + 1] << 8) | (block[o + 2] << 16) | (block[o + 3] << 24);
  }
  const v = new Uint32Array(32);
  v.set(h, 0);
  v.set(IV, 16);
  v[24] ^= byteCount >>> 0; // counter, low 64 bits (inputs here are far below 2^53)
  v[25] ^= Math.floor(byteCount / 0x100000000);
  if (last) {
    v[28] = ~v[28];
    v[29] = ~v[29];
  }
  for (const s of SIGMA) {
    mix(v, m, 0, 8, 16, 24, 2 * s[0], 2 * s[1]);
    mix(v, m, 2, 10, 18, 26, 2 * s[2], 2 * s[3]);
    mix(v, m, 4, 12, 20, 28, 2 * s[4], 2 * s[5]);
    mix(v, m, 6, 14, 22, 30, 2 * s[6], 2 * s[7]);
    mix(v, m, 0, 10, 20, 30, 2 * s[8], 2 * s[9]);
    mix(v, m, 2, 12, 22, 24, 2 * s[10], 2 * s[11]);
    mix(v, m, 4, 14, 16, 26, 2 * s[12], 2 * s[13]);
    mix(v, m, 6, 8, 18, 28, 2 * s[14], 2 * s[15]);
  }
  for (let i = 0; i < 16; i++) h[i] ^= v[i] ^ v[i + 16];
}

/**
 * BLAKE2b of `input` with an output of `outLen` bytes (1..64).
 * @param {Uint8Array} input
 * @param {number} outLen
 * @returns {Uint8Array}
 */
export function blake2b(input, outLen) {
  if (!Number.isInteger(outLen) || outLen < 1 || outLen > 64) {
    throw new RangeError(`BLAKE2b output length must be 1..64, got ${outLen}`);
  }
  const h = IV.slice();
  h[0] ^= 0x01010000 ^ outLen; // parameter block: depth 1, fanout 1, no key
  const block = new Uint8Array(BLOCK_BYTES);
  let offset = 0;
  // Every full block except the last one is compressed as "not last".
  while (input.length - offset > BLOCK_BYTES) {
    offset += BLOCK_BYTES;
    compress(h, input.subarray(offset - BLOCK_BYTES, offset), offset, false);
  }
  block.set(input.subarray(offset));
  compress(h, block, input.length, true);
  const out = new Uint8Array(outLen);
  for (let i = 0; i < outLen; i++) out[i] = h[i >> 2] >>> (8 * (i & 3));
  return out;
}
