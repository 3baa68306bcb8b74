/**
 * The one error type thrown by the console's access-grant code.
 *
 * `code` names the same failure as the Rust uplink's error variants (`Malformed`,
 * `WrongKeyOrCorrupted`, `NoKeyForPath`, `InvalidPrefix`, `EmptyPassphrase`,
 * `KeyDerivation`), so that the page can tell a wrong passphrase from a damaged grant
 * without parsing messages, and so that tests can check that both implementations
 * refuse the same inputs for the same reason.
 *
 * @module
 */

export class AccessError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'AccessError';
    this.code = code;
  }
}

/** A malformed input (a grant, key, name or option). */
export function malformed(message) {
  return new AccessError('Malformed', message);
}
