// New access grant, made entirely in the browser: API key + passphrase (derived into
// the root key here, never sent anywhere) -> grant -> restricted grant.

import { api } from '../api.js';
import { link, navigate, state } from '../app.js';
import {
  h, icon, mount, clear, field, validate, busy, errorRegion, setError, copyButton, alertBox, toast, base64ToBytes,
} from '../ui.js';
import { freshKeys, freshKey } from '../secrets.js';
import { grantLib, passphraseWarning } from '../unlock.js';
import { createKeyDialog } from './access.js';

const PERMISSIONS = [
  { key: 'read', label: 'Read', text: 'Download objects' },
  { key: 'write', label: 'Write', text: 'Upload objects and create buckets' },
  { key: 'list', label: 'List', text: 'List buckets and objects' },
  { key: 'delete', label: 'Delete', text: 'Delete objects and buckets' },
];

function rfc3339(unix) {
  return new Date(unix * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Quotes a shell word when it needs it. */
function sh(word) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) || /^<[a-z ]+>$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function ttlFlag(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The uplink commands that make the same grant, for people who prefer the CLI. */
export function cliCommands({ satelliteAddress, apiKey, perms, paths, notBefore, notAfter, maxObjectTtl }) {
  const create = ['uplink', 'access', 'create', '--satellite', sh(satelliteAddress), '--api-key', sh(apiKey)].join(' ');
  const flags = [];
  if (!perms.write && !perms.delete) {
    flags.push('--readonly');
    if (!perms.read) flags.push('--disallow-reads');
    if (!perms.list) flags.push('--disallow-lists');
  } else if (!perms.read && !perms.list) {
    flags.push('--writeonly');
    if (!perms.write) flags.push('--disallow-writes');
    if (!perms.delete) flags.push('--disallow-deletes');
  } else {
    if (!perms.read) flags.push('--disallow-reads');
    if (!perms.write) flags.push('--disallow-writes');
    if (!perms.list) flags.push('--disallow-lists');
    if (!perms.delete) flags.push('--disallow-deletes');
  }
  if (notBefore) flags.push('--not-before', rfc3339(notBefore));
  if (notAfter) flags.push('--not-after', rfc3339(notAfter));
  if (maxObjectTtl) flags.push('--max-object-ttl', ttlFlag(maxObjectTtl));
  const targets = paths.map((p) => sh(p.prefix ? `sj://${p.bucket}/${p.prefix}` : `sj://${p.bucket}`));
  // Always shared, even with no flags: `uplink share` then adds a caveat holding only
  // a random nonce, which gives the grant its own signature, so it can be revoked
  // without touching the other grants of the API key (the page's grant does the same).
  const share = ['uplink', 'share', ...flags, ...targets].join(' ');
  return { create, share, shareNote: flags.length || targets.length ? null : '# adds only a nonce: the grant gets its own signature, so it can be revoked alone\n' };
}

/** The `uplink share` command, with its note when it restricts nothing. */
function shareCode(cmds, ...extra) {
  return h('pre', { class: 'code', style: 'margin:0' },
    cmds.shareNote ? h('span', { class: 'comment' }, cmds.shareNote) : null, cmds.share, ...extra);
}

function localInputToUnix(value) {
  if (!value) return null;
  const t = new Date(value).getTime(); // datetime-local is local time
  return Number.isFinite(t) ? Math.floor(t / 1000) : NaN;
}

export async function render(ctx) {
  const { content, project, query, alive } = ctx;
  const pid = encodeURIComponent(project.id);
  const wanted = query.get('key');
  const satelliteAddress = state.config?.satellite_address || '';

  // ---- 1. API key ----
  const keySection = h('fieldset', { id: 'grant-key-section' });
  const paste = field({
    id: 'grant-api-key', label: 'Paste an API key', textarea: true, placeholder: 'Paste the API key shown when it was created',
    attrs: { rows: '3', spellcheck: 'false', autocomplete: 'off', class: 'textarea mono' },
  });
  let choice = null; // fresh key id, or 'paste'
  const renderKeys = () => {
    clear(keySection);
    const fresh = freshKeys(project.id);
    if (choice === null) choice = wanted && freshKey(project.id, wanted) ? wanted : (fresh.length && !wanted ? fresh[fresh.length - 1].id : 'paste');
    keySection.append(h('legend', null, h('span', { class: 'section-num' }, '1'), 'API key'));
    if (wanted && !freshKey(project.id, wanted)) {
      keySection.append(alertBox('info', 'The satellite shows an API key only once, when it is created. Paste the key you saved, or create a new one.'));
    }
    if (fresh.length) {
      const opts = h('div', { class: 'stack', style: 'gap:8px;margin-bottom:10px', role: 'radiogroup', 'aria-label': 'API key' });
      for (const k of fresh) {
        opts.append(h('label', { class: 'check' },
          h('input', {
            type: 'radio', name: 'grant-key', value: k.id, id: `grant-key-${k.id}`, checked: choice === k.id,
            onchange: () => { choice = k.id; renderKeys(); },
          }),
          h('div', null, h('strong', null, k.name), h('span', null, 'Created in this tab'))));
      }
      opts.append(h('label', { class: 'check' },
        h('input', { type: 'radio', name: 'grant-key', value: 'paste', id: 'grant-key-paste', checked: choice === 'paste', onchange: () => { choice = 'paste'; renderKeys(); } }),
        h('div', null, h('strong', null, 'Paste another key'), h('span', null, 'A key you saved earlier'))));
      keySection.append(opts);
    }
    if (choice === 'paste') keySection.append(paste.el);
    keySection.append(h('button', {
      type: 'button', class: 'btn btn-sm', id: 'grant-new-key',
      onclick: async () => {
        const created = await createKeyDialog(project);
        if (created) { choice = created.id; renderKeys(); }
      },
    }, icon('plus', 'icon-sm'), 'Create a new API key'));
  };
  renderKeys();

  // ---- 2. Passphrase ----
  const pass = field({ id: 'grant-passphrase', label: 'Encryption passphrase', type: 'password', autocomplete: 'new-password', hint: 'Use the same passphrase as for the data this grant should read. At least 8 characters for a new one; a long phrase of several words is best.', attrs: { spellcheck: 'false' } });
  const passConfirm = field({ id: 'grant-passphrase-confirm', label: 'Confirm passphrase', type: 'password', autocomplete: 'new-password', attrs: { spellcheck: 'false' } });
  const ack = h('input', { type: 'checkbox', id: 'grant-ack', 'data-testid': 'grant-ack' });
  const ackError = h('div', { class: 'field-error', id: 'grant-ack-error' });
  const passSection = h('fieldset', null,
    h('legend', null, h('span', { class: 'section-num' }, '2'), 'Encryption passphrase'),
    passphraseWarning(),
    pass.el, passConfirm.el,
    h('label', { class: 'check-inline', for: 'grant-ack' }, ack,
      h('span', null, 'I understand that the passphrase cannot be recovered, and that data encrypted with it cannot be read without it.')),
    ackError);
  ack.addEventListener('change', () => { ackError.textContent = ''; });

  // ---- 3. Permissions ----
  const permInputs = {};
  const permError = h('div', { class: 'field-error', id: 'grant-perm-error' });
  const permSection = h('fieldset', null,
    h('legend', null, h('span', { class: 'section-num' }, '3'), 'Permissions'),
    h('div', { class: 'check-grid' }, PERMISSIONS.map((p) => {
      const input = h('input', { type: 'checkbox', id: `perm-${p.key}`, 'data-testid': `perm-${p.key}`, checked: true, onchange: () => { permError.textContent = ''; updatePreview(); } });
      permInputs[p.key] = input;
      return h('label', { class: 'check', for: `perm-${p.key}` }, input, h('div', null, h('strong', null, p.label), h('span', null, p.text)));
    })),
    permError);

  // ---- 4. Buckets and prefixes ----
  const bucketList = h('datalist', { id: 'grant-bucket-names' });
  api.buckets(project.id, 1, 100).then((r) => {
    for (const b of r.buckets || []) bucketList.append(h('option', { value: b.name }));
  }).catch(() => {});
  const pathRows = h('div', { class: 'path-rows', id: 'grant-paths' });
  const pathError = h('div', { class: 'field-error', id: 'grant-paths-error' });
  let pathSeq = 0;
  const addPath = (bucket = '', prefix = '') => {
    const n = ++pathSeq;
    const b = h('input', { class: 'input', id: `grant-path-bucket-${n}`, placeholder: 'bucket', list: 'grant-bucket-names', 'aria-label': 'Bucket', autocomplete: 'off', spellcheck: 'false', value: bucket, oninput: updatePreview });
    const p = h('input', { class: 'input', id: `grant-path-prefix-${n}`, placeholder: 'prefix/ (optional, whole bucket if empty)', 'aria-label': 'Prefix', autocomplete: 'off', spellcheck: 'false', value: prefix, oninput: updatePreview });
    const row = h('div', { class: 'path-row', 'data-testid': 'grant-path-row' }, b, p,
      h('button', { type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Remove this path', onclick: () => { row.remove(); updatePreview(); } }, icon('trash', 'icon-sm')));
    pathRows.append(row);
    b.focus();
  };
  const pathSection = h('fieldset', null,
    h('legend', null, h('span', { class: 'section-num' }, '4'), 'Buckets and prefixes ', h('span', { class: 'optional' }, '(optional)')),
    h('p', { class: 'muted small' }, 'Leave empty to allow every bucket. Otherwise the grant can reach, and decrypt, only what is under these paths.'),
    bucketList, pathRows, pathError,
    h('button', { type: 'button', class: 'btn btn-sm', id: 'grant-add-path', onclick: () => { addPath(); updatePreview(); } }, icon('plus', 'icon-sm'), 'Add bucket or prefix'));

  // ---- 5. Time ----
  const notBefore = field({ id: 'grant-not-before', label: 'Valid from', type: 'datetime-local', optional: true, hint: 'Leave empty to start now.' });
  const notAfter = field({ id: 'grant-not-after', label: 'Expires', type: 'datetime-local', optional: true, hint: 'Leave empty for a grant that does not expire.' });
  const ttl = field({ id: 'grant-ttl', label: 'Maximum object lifetime', type: 'number', optional: true, hint: 'Objects uploaded with this grant must expire within this time.', attrs: { min: '1', step: '1', inputmode: 'numeric', placeholder: 'No limit' } });
  const ttlUnit = h('select', { class: 'select', id: 'grant-ttl-unit', 'aria-label': 'Lifetime unit' },
    h('option', { value: '3600' }, 'hours'), h('option', { value: '86400', selected: true }, 'days'));
  const ttlInput = ttl.input;
  const ttlGroup = h('div', { class: 'input-group' });
  ttlInput.replaceWith(ttlGroup);
  ttlGroup.append(ttlInput, ttlUnit);
  for (const x of [notBefore.input, notAfter.input, ttlInput, ttlUnit]) x.addEventListener('input', updatePreview);
  const timeSection = h('fieldset', null,
    h('legend', null, h('span', { class: 'section-num' }, '5'), 'Time limits ', h('span', { class: 'optional' }, '(optional)')),
    h('div', { class: 'row' }, notBefore.el, notAfter.el),
    ttl.el);

  const err = errorRegion('grant-error');
  const progress = h('div', { id: 'grant-progress', hidden: true, class: 'alert alert-info', role: 'status' },
    h('span', { class: 'spinner' }), h('div', { class: 'alert-body' }, 'Deriving the encryption key from your passphrase in this browser. This takes a few seconds…'));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'grant-create', 'data-testid': 'grant-create' }, icon('key', 'icon-sm'), 'Create access grant');

  // Reads the form; returns null (with messages shown) when something is wrong.
  function readOptions({ show }) {
    const perms = Object.fromEntries(PERMISSIONS.map((p) => [p.key, permInputs[p.key].checked]));
    const paths = [];
    let pathMsg = '';
    for (const row of pathRows.querySelectorAll('.path-row')) {
      const [b, p] = row.querySelectorAll('input');
      const bucket = b.value.trim();
      let prefix = p.value.trim().replace(/^\/+/, '');
      if (!bucket && !prefix) continue;
      if (!bucket) { pathMsg = 'Every prefix needs a bucket.'; continue; }
      if (bucket.includes('/')) { pathMsg = `“${bucket}” is not a bucket name: put folders in the prefix field.`; continue; }
      if (prefix && !prefix.endsWith('/')) prefix += '/';
      paths.push({ bucket, prefix });
    }
    const nb = localInputToUnix(notBefore.input.value);
    const na = localInputToUnix(notAfter.input.value);
    const ttlN = ttlInput.value.trim() ? Number(ttlInput.value) : null;
    if (show) {
      pathError.textContent = pathMsg;
      permError.textContent = Object.values(perms).some(Boolean) ? '' : 'Allow at least one operation.';
    }
    const timeOk = !show || validate([
      [notBefore, () => (Number.isNaN(nb) ? 'Enter a valid date and time.' : null)],
      [notAfter, () => {
        if (Number.isNaN(na)) return 'Enter a valid date and time.';
        if (na !== null && na <= Date.now() / 1000) return 'The expiry must be in the future.';
        if (na !== null && nb && na <= nb) return 'The expiry must be after the start.';
        return null;
      }],
      [ttl, () => (ttlN !== null && (!Number.isInteger(ttlN) || ttlN < 1) ? 'Enter a whole number of at least 1.' : null)],
    ]);
    if (show && (!timeOk || pathMsg || !Object.values(perms).some(Boolean))) return null;
    return {
      perms, paths,
      notBefore: Number.isNaN(nb) ? null : nb,
      notAfter: Number.isNaN(na) ? null : na,
      maxObjectTtl: ttlN && ttlN > 0 ? Math.round(ttlN * Number(ttlUnit.value)) : null,
    };
  }

  function currentApiKey() {
    if (choice && choice !== 'paste') return freshKey(project.id, choice)?.serialized || '';
    return paste.input.value.trim();
  }

  // ---- CLI preview (aside) ----
  const preview = h('div', { id: 'grant-cli-preview' });
  function updatePreview() {
    const o = readOptions({ show: false });
    const cmds = cliCommands({ satelliteAddress: satelliteAddress || '<satellite>', apiKey: '<api key>', ...o });
    mount(preview,
      h('pre', { class: 'code' }, h('span', { class: 'comment' }, '# asks for the passphrase\n'), cmds.create),
      shareCode(cmds));
  }

  const form = h('form', {
    id: 'grant-form', novalidate: true, class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      setError(err, '');
      const apiKey = currentApiKey();
      const checks = [
        [pass, (v) => {
          if (!v) return 'Enter a passphrase.';
          return v.length >= 8 ? null : 'Use at least 8 characters.';
        }],
        [passConfirm, (v) => {
          if (!v) return 'Type the passphrase again.';
          return v === pass.input.value ? null : 'The passphrases do not match.';
        }],
      ];
      if (choice === 'paste') checks.unshift([paste, (v) => (v.trim() ? null : 'Paste an API key, or create a new one.')]);
      let ok = validate(checks);
      if (!ack.checked) {
        ackError.textContent = 'Confirm that you understand the passphrase cannot be recovered.';
        if (ok) ack.focus();
        ok = false;
      }
      const opts = readOptions({ show: true });
      if (!ok || !opts) return;
      if (!apiKey) { setError(err, 'Choose an API key.'); return; }
      progress.hidden = false;
      let grant;
      try {
        grant = await busy(submit, async () => {
          const lib = await grantLib();
          const salt = base64ToBytes(project.salt);
          const full = await lib.createGrant({ satelliteAddress, apiKey, passphrase: pass.input.value, salt });
          // Always restricted, even when nothing is: the caveat then holds only a random
          // nonce, so this grant has a signature of its own and can be revoked alone. A
          // grant carrying the bare API key could only be stopped by deleting the key.
          return lib.restrictGrant(full, {
            disallowReads: !opts.perms.read,
            disallowWrites: !opts.perms.write,
            disallowLists: !opts.perms.list,
            disallowDeletes: !opts.perms.delete,
            paths: opts.paths,
            notBefore: opts.notBefore || undefined,
            notAfter: opts.notAfter || undefined,
            maxObjectTtl: opts.maxObjectTtl || undefined,
          });
        }, 'Creating grant…');
      } catch (e2) {
        progress.hidden = true;
        setError(err, e2.message || String(e2));
        return;
      }
      if (!alive()) return;
      pass.input.value = '';
      passConfirm.input.value = '';
      showResult(grant, cliCommands({ satelliteAddress, apiKey, ...opts }));
    },
  },
  h('div', { class: 'card-body' },
    err, keySection, passSection, permSection, pathSection, timeSection),
  h('div', { class: 'card-foot' },
    h('a', { class: 'btn', href: link(`/projects/${pid}/access`) }, 'Cancel'),
    h('div', { class: 'form-actions' }, submit)));

  const formArea = h('div', null, progress, form);
  const aside = h('aside', { class: 'wizard-aside stack' },
    h('section', { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', null, icon('terminal', 'icon-sm'), ' Same grant with the CLI')),
      h('div', { class: 'card-body' }, preview)),
    h('section', { class: 'card' },
      h('div', { class: 'card-body small muted' },
        h('p', null, h('strong', { style: 'color:var(--text)' }, 'What stays private. '),
          'The passphrase and the keys derived from it never leave this tab. The satellite receives nothing when you create a grant.'),
        h('p', { style: 'margin:0' }, 'Anyone holding the grant can do what it allows. Share it only over channels you trust.'))));

  function showResult(grant, cmds) {
    aside.querySelector('#grant-cli-preview')?.closest('.card')?.remove();
    const value = h('textarea', { class: 'textarea mono', id: 'grant-result', 'data-testid': 'grant-result', readonly: true, rows: '5', 'aria-label': 'Access grant', onfocus: (e) => e.target.select() });
    value.value = grant;
    const download = () => {
      const url = URL.createObjectURL(new Blob([grant + '\n'], { type: 'text/plain' }));
      const a = h('a', { href: url, download: `${project.name.replace(/[^\w.-]+/g, '_')}-access-grant.txt` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    };
    const cli = h('div', { id: 'grant-cli', 'data-testid': 'grant-cli' },
      h('pre', { class: 'code' }, h('span', { class: 'comment' }, '# prompts for the passphrase, on your machine only\n'), cmds.create,
        copyButton(() => cmds.create, { label: 'Copy command', iconOnly: true, cls: 'btn btn-ghost btn-icon btn-sm copy' })),
      shareCode(cmds,
        copyButton(() => cmds.share, { label: 'Copy command', iconOnly: true, cls: 'btn btn-ghost btn-icon btn-sm copy' })));
    mount(formArea, h('section', { class: 'card', id: 'grant-done', 'data-testid': 'grant-done' },
      h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'Access grant created'),
        h('p', null, 'Use it with the uplink CLI (--access) or any client library.'))),
      h('div', { class: 'card-body' },
        alertBox('warning', [h('strong', null, 'Save this grant now. '), 'It contains your encryption key for what it allows; the console does not keep it. Treat it like a password.']),
        h('div', { class: 'field' }, h('label', { for: 'grant-result' }, 'Access grant'), value),
        h('div', { class: 'form-actions', style: 'margin-bottom:22px' },
          copyButton(() => grant, { label: 'Copy grant', id: 'copy-grant', cls: 'btn btn-primary' }),
          h('button', { type: 'button', class: 'btn', onclick: download }, 'Download'),
          h('button', { type: 'button', class: 'btn', id: 'grant-another', onclick: () => navigate(`/projects/${pid}/access/new`, { replace: true }) }, 'Create another')),
        h('h3', { style: 'margin-bottom:8px' }, 'The same grant with the CLI'),
        h('p', { class: 'muted small' }, 'If you prefer not to type your passphrase into a browser, run these instead:'),
        cli),
      h('div', { class: 'card-foot' },
        h('a', { class: 'btn', href: link(`/projects/${pid}/buckets`) }, 'Go to buckets'),
        h('a', { class: 'btn', href: link(`/projects/${pid}/access`), id: 'grant-back' }, 'Back to access'))));
    toast('Access grant created');
    formArea.scrollIntoView({ block: 'start' });
  }

  mount(content,
    h('div', { class: 'page-head' },
      h('div', null,
        h('a', { href: link(`/projects/${pid}/access`), class: 'small' }, '← Access'),
        h('h1', { id: 'page-title', style: 'margin-top:6px' }, 'New access grant'),
        h('p', null, 'An access grant lets a client read and write this project\'s data with your passphrase, limited to what you allow here. It is made in this browser.'))),
    h('div', { class: 'wizard' }, formArea, aside));
  updatePreview();
}
