// The encryption library (loaded on first use, so pages that never need it stay
// fast) and the dialog that turns a passphrase into a project's root key.

import { h, icon, modal, field, validate, busy, errorRegion, setError, base64ToBytes } from './ui.js';
import { setRootKey } from './secrets.js';

let lib = null;

/** The access grant and encryption library, crypto/grant.js. */
export async function grantLib() {
  if (lib) return lib;
  try {
    lib = await import('./crypto/grant.js');
  } catch (e) {
    throw new Error(`The in-browser encryption library could not be loaded (${e.message}). Use the uplink CLI instead.`);
  }
  return lib;
}

export function passphraseWarning() {
  return h('div', { class: 'alert alert-warning', role: 'note', 'data-testid': 'passphrase-warning' },
    icon('warn'),
    h('div', { class: 'alert-body' },
      h('strong', null, 'This is your encryption passphrase. '),
      'It encrypts your files and their names in your browser and is never sent to the satellite. ',
      'Nobody can recover it or your data if you lose it. Use the same passphrase everywhere you open this project.'));
}

/**
 * Asks for the project's passphrase and derives its root key in the browser. Resolves
 * true once the key is in memory, false if the user gave up.
 */
export function unlockDialog(project) {
  return modal((close) => {
    const pass = field({
      id: 'unlock-passphrase', label: 'Encryption passphrase', type: 'password', autocomplete: 'off',
      attrs: { autofocus: true, spellcheck: 'false' },
    });
    const err = errorRegion('unlock-error');
    const status = h('p', { class: 'muted small', id: 'unlock-status', hidden: true },
      'Deriving your encryption key. This takes a few seconds…');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'unlock-submit', 'data-testid': 'unlock-submit' }, icon('unlock', 'icon-sm'), 'Unlock');
    return h('form', {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        setError(err, '');
        if (!validate([[pass, (v) => (v ? null : 'Enter the passphrase.')]])) return;
        status.hidden = false;
        try {
          await busy(submit, async () => {
            const { rootKeyFromPassphrase } = await grantLib();
            const key = await rootKeyFromPassphrase(pass.input.value, base64ToBytes(project.salt));
            setRootKey(project.id, key);
          }, 'Deriving key…');
          pass.input.value = '';
          close(true);
        } catch (e2) {
          status.hidden = true;
          setError(err, e2.message || String(e2));
        }
      },
    },
    h('div', { class: 'modal-head' },
      h('h2', { id: 'unlock-title' }, 'Unlock object names'),
      h('p', null, 'Object names are encrypted. Enter the passphrase used to upload them to see them here.')),
    h('div', { class: 'modal-body' },
      err,
      passphraseWarning(),
      pass.el,
      status,
      h('p', { class: 'muted small', style: 'margin:0' }, 'The key stays in this tab\'s memory until you reload, lock or log out.')),
    h('div', { class: 'modal-foot' },
      h('button', { type: 'button', class: 'btn', onclick: () => close(false) }, 'Cancel'),
      submit));
  }, { labelledBy: 'unlock-title', testid: 'unlock-dialog' }).then((v) => v === true);
}
