// Secrets that live in this tab's memory only: never sent to the server, never written
// to any storage, gone on reload or logout.
//
// - the root encryption key of each project, derived in the browser from the
//   passphrase (the passphrase itself is not kept at all);
// - API keys created in this tab, which the server shows only once, so the access
//   grant page can use one without asking to paste it.

const rootKeys = new Map(); // project id -> Uint8Array
const freshApiKeys = new Map(); // project id -> Map(key id -> {name, serialized})

export function rootKey(projectId) {
  return rootKeys.get(projectId) || null;
}

export function setRootKey(projectId, key) {
  rootKeys.set(projectId, key);
}

export function forgetRootKey(projectId) {
  const k = rootKeys.get(projectId);
  if (k && k.fill) k.fill(0);
  rootKeys.delete(projectId);
}

export function rememberApiKey(projectId, id, name, serialized) {
  if (!freshApiKeys.has(projectId)) freshApiKeys.set(projectId, new Map());
  freshApiKeys.get(projectId).set(id, { id, name, serialized });
}

export function forgetApiKey(projectId, id) {
  freshApiKeys.get(projectId)?.delete(id);
}

export function freshKeys(projectId) {
  return Array.from(freshApiKeys.get(projectId)?.values() || []);
}

export function freshKey(projectId, id) {
  return freshApiKeys.get(projectId)?.get(id) || null;
}

export function forgetAll() {
  for (const k of rootKeys.values()) if (k && k.fill) k.fill(0);
  rootKeys.clear();
  freshApiKeys.clear();
}
