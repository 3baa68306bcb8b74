// The objects of one bucket, one folder level at a time.
//
// Names are encrypted per path component, so the listing arrives encrypted. With the
// project's root key in memory (derived from the passphrase in this tab) names are
// decrypted here; without it the page still shows how many objects there are and
// their sizes. The location in the URL is the *encrypted* prefix, so no plaintext
// name ends up in the browser's history.

import { api } from '../api.js';
import { link, navigate } from '../app.js';
import {
  h, icon, mount, clear, formatBytes, formatNumber, timeEl, formatRelative, emptyState, loadingBlock,
  alertBox, busy,
} from '../ui.js';
import { rootKey, forgetRootKey } from '../secrets.js';
import { grantLib, unlockDialog } from '../unlock.js';
import { lockControl } from './buckets.js';

const LIMIT = 50;

function stripSlash(s) {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

function lastComponent(path) {
  const p = stripSlash(path);
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

function objectsHref(project, bucket, encPrefix) {
  const base = `/projects/${encodeURIComponent(project.id)}/buckets/${encodeURIComponent(bucket)}`;
  return link(encPrefix ? `${base}?prefix=${encodeURIComponent(encPrefix)}` : base);
}

/** Decrypts every item's name; items that fail keep `name: null`. */
async function decryptNames(lib, key, bucket, items) {
  return Promise.all(items.map(async (it) => {
    try {
      const plain = await lib.decryptPath(key, bucket, it.encrypted_key);
      return { ...it, name: lastComponent(plain), plainPath: plain };
    } catch {
      return { ...it, name: null };
    }
  }));
}

export async function render(ctx) {
  const { content, project, query, params, alive } = ctx;
  const bucket = params[0];
  let encPrefix = query.get('prefix') || '';
  if (encPrefix && !encPrefix.endsWith('/')) encPrefix += '/';
  const pid = encodeURIComponent(project.id);
  const key = rootKey(project.id);
  ctx.setCrumb(project.name, 'Buckets', bucket);

  const stats = h('span', { id: 'bucket-stats' });
  const pathEl = h('nav', { class: 'path', id: 'object-path', 'data-testid': 'object-path', 'aria-label': 'Folder' });
  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('a', { href: link(`/projects/${pid}/buckets`), class: 'small', id: 'back-to-buckets' }, '← All buckets'),
      h('h1', { id: 'page-title', style: 'margin-top:6px;display:flex;align-items:center;gap:10px' }, icon('bucket'), bucket),
      h('p', null, stats)),
    h('div', { class: 'actions' }, lockControl(project, () => ctx.rerender())));
  const notice = h('div', { id: 'names-notice' });
  const toolbar = h('div', { class: 'card-head' }, pathEl, h('div', { id: 'goto-slot' }));
  const tableSlot = h('div', null, loadingBlock('Loading objects…'));
  const card = h('section', { class: 'card' }, toolbar, tableSlot);
  mount(content, head, notice, card);

  // Bucket totals, when the bucket is on the first page of the bucket list.
  api.buckets(project.id, 1, 100).then((res) => {
    const b = (res.buckets || []).find((x) => x.name === bucket);
    if (b && alive()) stats.textContent = `${formatNumber(b.objects)} objects · ${formatBytes(b.bytes)} stored`;
  }).catch(() => {});

  let lib = null;
  if (key) {
    try {
      lib = await grantLib();
    } catch (e) {
      if (!alive()) return;
      mount(notice, alertBox('error', e.message));
    }
  }
  if (!alive()) return;

  // Breadcrumb: every ancestor's encrypted prefix is a prefix of the encrypted path.
  const encParts = stripSlash(encPrefix) ? stripSlash(encPrefix).split('/') : [];
  let plainParts = null;
  if (lib && encParts.length) {
    try {
      const plain = await lib.decryptPath(key, bucket, encPrefix);
      plainParts = stripSlash(plain).split('/');
      if (plainParts.length !== encParts.length) plainParts = null;
    } catch {
      plainParts = null;
    }
  }
  if (!alive()) return;
  function showCrumbs(labels) {
    const crumbs = [h('a', { href: objectsHref(project, bucket, ''), 'data-testid': 'path-root' }, bucket)];
    encParts.forEach((part, i) => {
      const label = labels ? labels[i] : `${part.slice(0, 10)}…`;
      const title = labels ? undefined : 'Encrypted folder name';
      crumbs.push(h('span', { class: 'sep', 'aria-hidden': 'true' }, '/'));
      if (i === encParts.length - 1) crumbs.push(h('span', { class: 'current', title, 'aria-current': 'page' }, label));
      else crumbs.push(h('a', { href: objectsHref(project, bucket, encParts.slice(0, i + 1).join('/') + '/'), title }, label));
    });
    mount(pathEl, ...crumbs);
  }
  showCrumbs(plainParts);

  const currentPlain = plainParts ? plainParts.join('/') + '/' : (encParts.length ? null : '');
  if (lib && currentPlain !== null) {
    mount(toolbar.querySelector('#goto-slot'), gotoForm(project, bucket, currentPlain, lib, key));
  }

  if (!key) {
    mount(notice, alertBox('info', [
      h('strong', null, 'Object names are encrypted. '),
      'You can see how many objects there are and their sizes. Enter the project\'s encryption passphrase to see their names; it stays in this tab and is never sent to the satellite.',
    ], { id: 'names-locked-notice', 'data-testid': 'names-locked-notice' }));
  }

  // Cursor paging: the server hands out an opaque cursor for the next page.
  const cursors = [null];
  let pageIndex = 0;

  async function loadPage() {
    mount(tableSlot, loadingBlock('Loading objects…'));
    let res;
    try {
      res = await api.objects(project.id, bucket, encPrefix, cursors[pageIndex], LIMIT);
    } catch (e) {
      if (!alive()) return;
      mount(tableSlot, h('div', { class: 'card-body' }, alertBox('error', e.message, { id: 'objects-error' })));
      return;
    }
    if (!alive()) return;
    let items = res.items || [];
    // A bucket that keeps its names in clear needs no passphrase to show them.
    const inClear = !!res.plain_names;
    if (inClear) {
      items = items.map((it) => ({ ...it, name: lastComponent(it.encrypted_key), plainPath: it.encrypted_key }));
      showCrumbs(encParts);
      mount(notice, alertBox('info', 'This bucket keeps its object names in clear; their content is encrypted.',
        { id: 'names-clear-notice', 'data-testid': 'names-clear-notice' }));
    } else if (lib) {
      items = await decryptNames(lib, key, bucket, items);
    }
    if (!alive()) return;
    if (res.next_cursor) cursors[pageIndex + 1] = res.next_cursor;
    else cursors.length = pageIndex + 1;

    const failed = lib && !inClear ? items.filter((it) => it.name === null).length : 0;
    if (inClear) {
      // The notice above says why no passphrase is needed.
    } else if (lib && items.length && failed === items.length) {
      mount(notice, alertBox('error', h('div', { style: 'display:flex;gap:12px;align-items:center;justify-content:space-between;flex-wrap:wrap' },
        h('span', null, 'None of these names could be decrypted with the passphrase you entered. It is probably not the one they were uploaded with.'),
        h('button', {
          type: 'button', class: 'btn btn-sm', id: 'retry-passphrase',
          onclick: async () => { forgetRootKey(project.id); await unlockDialog(project); ctx.rerender(); },
        }, 'Try another passphrase')), { id: 'decrypt-failed', 'data-testid': 'decrypt-failed' }));
    } else if (lib) {
      clear(notice);
    }

    if (lib || inClear) {
      // Encrypted order is meaningless once decrypted: folders first, then by name.
      items.sort((a, b) => (b.is_prefix - a.is_prefix)
        || (a.name === null) - (b.name === null)
        || String(a.name ?? a.encrypted_key).localeCompare(String(b.name ?? b.encrypted_key)));
    } else {
      items.sort((a, b) => b.is_prefix - a.is_prefix);
    }

    if (!items.length && pageIndex === 0) {
      mount(tableSlot, emptyState({
        iconName: 'folder', title: encPrefix ? 'This folder is empty' : 'This bucket is empty', testid: 'objects-empty',
        text: 'Upload with the uplink CLI: uplink cp ./file sj://' + bucket + '/',
      }));
      return;
    }
    const rows = items.map((it) => objectRow(project, bucket, it, !!lib || inClear));
    const folders = items.filter((i) => i.is_prefix).length;
    const files = items.length - folders;
    const bytes = items.reduce((n, i) => n + (i.is_prefix ? 0 : Number(i.size) || 0), 0);
    mount(tableSlot,
      h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'objects-table', 'data-testid': 'objects-table' },
        h('caption', { class: 'sr-only' }, 'Objects'),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Name'),
          h('th', { scope: 'col', class: 'num' }, 'Size'),
          h('th', { scope: 'col' }, 'Uploaded'),
          h('th', { scope: 'col' }, 'Expires'))),
        h('tbody', null, rows))),
      h('div', { class: 'pager', 'data-testid': 'objects-pager' },
        h('span', { id: 'objects-summary' },
          [folders ? `${formatNumber(folders)} folder${folders === 1 ? '' : 's'}` : null,
            `${formatNumber(files)} object${files === 1 ? '' : 's'}`,
            formatBytes(bytes)].filter(Boolean).join(' · ') + (cursors.length > 1 || pageIndex ? ` on page ${pageIndex + 1}` : '')),
        h('div', { class: 'btns' },
          h('button', { type: 'button', class: 'btn btn-sm', disabled: pageIndex === 0, 'data-testid': 'objects-prev', onclick: () => { pageIndex--; loadPage(); } }, 'Previous'),
          h('button', { type: 'button', class: 'btn btn-sm', disabled: !res.next_cursor, 'data-testid': 'objects-next', onclick: () => { pageIndex++; loadPage(); } }, 'Next'))));
  }
  await loadPage();
}

function objectRow(project, bucket, it, unlocked) {
  const encName = lastComponent(it.encrypted_key);
  let nameNode;
  if (it.name !== null && it.name !== undefined) {
    nameNode = h('span', { 'data-testid': 'object-name', class: 'object-name' }, it.name + (it.is_prefix ? '/' : ''));
  } else {
    nameNode = h('span', { class: 'enc', title: 'Encrypted name: ' + encName, 'data-testid': 'object-encrypted-name' }, encName);
  }
  const badge = unlocked && it.name === null ? h('span', { class: 'badge lock', title: 'This name could not be decrypted with your passphrase' }, 'cannot decrypt') : null;
  const href = it.is_prefix ? objectsHref(project, bucket, it.encrypted_key.endsWith('/') ? it.encrypted_key : it.encrypted_key + '/') : null;
  const expires = it.expires_at
    ? h('span', { title: new Date(it.expires_at * 1000).toLocaleString() }, formatRelative(it.expires_at))
    : h('span', { class: 'muted' }, 'Never');
  return h('tr', {
    class: it.is_prefix ? 'clickable' : '', 'data-testid': 'object-row',
    'data-name': it.name ?? '', 'data-prefix': it.is_prefix ? 'true' : 'false', 'data-encrypted-key': it.encrypted_key,
    onclick: href ? (e) => { if (!e.target.closest('a, button')) location.hash = href; } : undefined,
  },
  h('td', null, h('div', { class: 'name-cell' },
    it.is_prefix ? icon('folder', 'folder') : icon('file'),
    href ? h('a', { href, 'data-testid': 'folder-link' }, nameNode) : nameNode,
    badge)),
  h('td', { class: 'num', 'data-bytes': it.is_prefix ? '' : String(it.size) }, it.is_prefix ? h('span', { class: 'muted' }, '—') : formatBytes(it.size)),
  h('td', { class: 'nowrap' }, it.is_prefix ? h('span', { class: 'muted' }, '—') : timeEl(it.created_at, true)),
  h('td', { class: 'nowrap' }, it.is_prefix ? h('span', { class: 'muted' }, '—') : expires));
}

/** "Go to folder": a plaintext path, encrypted here before it is used in a listing. */
function gotoForm(project, bucket, currentPlain, lib, key) {
  const input = h('input', {
    class: 'input', id: 'goto-prefix', type: 'text', placeholder: currentPlain || 'folder/subfolder/',
    spellcheck: 'false', autocomplete: 'off', style: 'height:32px;width:240px',
    'aria-describedby': 'goto-error',
  });
  const error = h('div', { class: 'field-error', id: 'goto-error', role: 'alert', style: 'flex-basis:100%;text-align:right' });
  const btn = h('button', { type: 'submit', class: 'btn btn-sm', id: 'goto-submit' }, 'Go');
  input.addEventListener('input', () => { error.textContent = ''; });
  return h('form', {
    style: 'display:flex;gap:8px;align-items:center;flex-wrap:wrap;justify-content:flex-end', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      let typed = input.value.trim().replace(/^\/+/, '');
      if (!typed) { error.textContent = 'Enter a folder path from the bucket root.'; input.focus(); return; }
      if (!typed.endsWith('/')) typed += '/';
      try {
        const enc = await busy(btn, () => lib.encryptPrefix(key, bucket, typed));
        navigate(objectsHref(project, bucket, enc.endsWith('/') ? enc : enc + '/').slice(1));
      } catch (e2) {
        error.textContent = e2.message || String(e2);
      }
    },
  },
  h('label', { for: 'goto-prefix', class: 'muted small' }, 'Go to folder'),
  input, btn, error);
}
