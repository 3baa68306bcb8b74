/**
 * The WebCrypto primitives the access-grant code needs, behind small functions that
 * take and return Uint8Arrays.
 *
 * Everything here exists in browsers (secure contexts) and in Node 20+ as
 * `globalThis.crypto`, so the same modules run in the console and in its tests.
 *
 * @module
 */

const subtle = () => {
  if (!globalThis.crypto?.subtle) {
    throw new Error('WebCrypto is not available (the console must be served over HTTPS or from localhost)');
  }
  return globalThis.crypto.subtle;
};

async function hmac(hash, key, message) {
  const k = await subtle().importKey('raw', key, { name: 'HMAC', hash }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, message));
}

/** HMAC-SHA-256 (the macaroon signature chain). */
export function hmacSha256(key, message) {
  return hmac('SHA-256', key, message);
}

/** HMAC-SHA-512 (key derivation and name nonces). */
export function hmacSha512(key, message) {
  return hmac('SHA-512', key, message);
}

function aesKey(key, usage) {
  return subtle().importKey('raw', key, { name: 'AES-GCM' }, false, [usage]);
}

/** AES-256-GCM without associated data: ciphertext followed by the 16-byte tag. */
export async function aesGcmSeal(key, nonce, plaintext) {
  const k = await aesKey(key, 'encrypt');
  return new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce }, k, plaintext));
}

/** Reverses {@link aesGcmSeal}; returns `null` if the tag does not verify. */
export async function aesGcmOpen(key, nonce, sealed) {
  const k = await aesKey(key, 'decrypt');
  try {
    return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: nonce }, k, sealed));
  } catch {
    return null;
  }
}

/** `n` bytes from the platform's CSPRNG. */
export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
