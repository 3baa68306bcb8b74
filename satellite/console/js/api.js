// The console API client: JSON over same-origin fetch, errors as ApiError.
//
// The session lives in an HttpOnly cookie the server sets at login; the token the
// server also returns is kept in memory only (never in storage) and sent as a bearer
// token, so a browser that refuses the cookie still works until the page reloads.

const BASE = '/api/v0';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Server messages are lower-case fragments ("invalid email or password"); shown alone
 * they read better as sentences. */
function sentence(text) {
  if (!text || typeof text !== 'string') return '';
  const t = text.trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

let token = null;
let onSessionEnded = () => {};

export function setToken(t) {
  token = t || null;
}

/** Called with a message whenever a call answers 401 (the session is gone). */
export function onUnauthenticated(fn) {
  onSessionEnded = fn;
}

function friendlyStatus(status) {
  if (status === 502 || status === 503 || status === 504) {
    return 'The satellite is not reachable right now. Try again in a moment.';
  }
  if (status >= 500) return `The satellite failed to answer (HTTP ${status}). Try again.`;
  if (status === 404) return 'Not found.';
  return `The request failed (HTTP ${status}).`;
}

/**
 * One API call. `body` (if any) is sent as JSON. Resolves to the parsed answer
 * (null for 204); rejects with ApiError. `expectAuth: false` makes a 401 a plain
 * error instead of the end of the session (login, and the first "who am I").
 */
export async function request(method, path, body, { expectAuth = true } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the satellite. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const code = data?.error?.code || 'http_' + res.status;
    const message = sentence(data?.error?.message) || friendlyStatus(res.status);
    const err = new ApiError(res.status, code, message);
    if (res.status === 401 && expectAuth) {
      token = null;
      onSessionEnded('Your session has ended. Please log in again.');
    }
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const api = {
  config: () => request('GET', '/config', undefined, { expectAuth: false }),
  signup: (email, password, full_name) =>
    request('POST', '/auth/signup', { email, password, full_name }, { expectAuth: false }),
  login: (email, password) => request('POST', '/auth/login', { email, password }, { expectAuth: false }),
  logout: () => request('POST', '/auth/logout', undefined, { expectAuth: false }),
  me: () => request('GET', '/auth/me', undefined, { expectAuth: false }),
  changePassword: (current_password, new_password) =>
    request('POST', '/auth/password', { current_password, new_password }),

  projects: () => request('GET', '/projects'),
  project: (id) => request('GET', `/projects/${enc(id)}`),
  createProject: (name, description) => request('POST', '/projects', { name, description }),
  updateProject: (id, fields) => request('PATCH', `/projects/${enc(id)}`, fields),
  deleteProject: (id) => request('DELETE', `/projects/${enc(id)}`),

  members: (id) => request('GET', `/projects/${enc(id)}/members`),
  addMember: (id, email) => request('POST', `/projects/${enc(id)}/members`, { email }),
  removeMember: (id, userId) => request('DELETE', `/projects/${enc(id)}/members/${enc(userId)}`),

  usage: (id) => request('GET', `/projects/${enc(id)}/usage`),

  apiKeys: (id, page, limit) => request('GET', `/projects/${enc(id)}/api-keys${query({ page, limit })}`),
  createApiKey: (id, name) => request('POST', `/projects/${enc(id)}/api-keys`, { name }),
  deleteApiKey: (id, keyId) => request('DELETE', `/projects/${enc(id)}/api-keys/${enc(keyId)}`),

  buckets: (id, page, limit) => request('GET', `/projects/${enc(id)}/buckets${query({ page, limit })}`),
  objects: (id, bucket, prefix, cursor, limit) =>
    request('GET', `/projects/${enc(id)}/buckets/${enc(bucket)}/objects${query({ prefix: prefix || '', cursor, limit })}`),

  adminNodes: () => request('GET', '/admin/nodes'),
  adminRepair: () => request('GET', '/admin/repair'),
};

/**
 * Revokes an access grant on this satellite, by calling its metainfo API straight from
 * the browser (same origin as the console). `apiKey` is the grant's own serialized API
 * key: a grant may revoke itself, and with it every grant shared from it. It is the
 * bearer credential of this one request only; the console session is not involved, so
 * a 401 here (the grant already revoked, or its key deleted) does not end the session.
 * Resolves on success; rejects with an ApiError whose `status` and `code` are the
 * satellite's and whose message is its explanation.
 */
export async function revokeAccessGrant(apiKey) {
  let res;
  try {
    res = await fetch('/v1/access/revoke', {
      method: 'POST',
      headers: {
        Accept: 'application/json',
        'Content-Type': 'application/json',
        Authorization: `Bearer ${apiKey}`,
      },
      body: JSON.stringify({ api_key: apiKey }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the satellite. Check your connection and try again.');
  }
  if (res.ok) return;
  let data = null;
  try {
    data = JSON.parse(await res.text());
  } catch {
    data = null;
  }
  const code = data?.error?.code || 'http_' + res.status;
  const message = sentence(data?.error?.message) || friendlyStatus(res.status);
  throw new ApiError(res.status, code, message);
}
