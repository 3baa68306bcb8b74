// Access: the project's API keys, and the way to access grants.

import { api } from '../api.js';
import { link, navigate, state } from '../app.js';
import {
  h, icon, mount, timeEl, pager, emptyState, loadingBlock, alertBox, modal, field, validate, rules,
  busy, errorRegion, setError, confirmDialog, copyButton, toast,
} from '../ui.js';
import { rememberApiKey, forgetApiKey, freshKey } from '../secrets.js';

const LIMIT = 20;

/**
 * The "create API key" dialog. Resolves with the created key ({id, name, api_key})
 * after the user has seen it, or undefined if cancelled. `then` is 'grant' when the
 * user chose to go on to make an access grant with it.
 */
export function createKeyDialog(project) {
  return modal((close) => {
    const name = field({ id: 'api-key-name', label: 'Name', placeholder: 'e.g. backup-server', hint: 'A name to recognise the key by; unique in the project.', attrs: { autofocus: true, maxlength: '100', autocomplete: 'off' } });
    const err = errorRegion('api-key-error');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'api-key-submit', 'data-testid': 'api-key-submit' }, 'Create key');
    const container = h('div');
    const form = h('form', {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        setError(err, '');
        if (!validate([[name, rules.required('Name')], [name, rules.maxLength(100, 'Name')]])) return;
        let created;
        try {
          created = await busy(submit, () => api.createApiKey(project.id, name.input.value.trim()), 'Creating…');
        } catch (e2) {
          if (e2.code === 'conflict') name.setError(e2.message);
          else setError(err, e2.message);
          return;
        }
        rememberApiKey(project.id, created.id, created.name, created.api_key);
        mount(container, shownOnce(created, close));
      },
    },
    h('div', { class: 'modal-head' },
      h('h2', { id: 'api-key-title' }, 'New API key'),
      h('p', null, 'An API key lets a client use this project. Combine it with a passphrase to make an access grant.')),
    h('div', { class: 'modal-body' }, err, name.el),
    h('div', { class: 'modal-foot' },
      h('button', { type: 'button', class: 'btn', onclick: () => close(undefined) }, 'Cancel'),
      submit));
    container.append(form);
    return container;
  }, { labelledBy: 'api-key-title', testid: 'api-key-dialog', wide: true });
}

function shownOnce(created, close) {
  const value = h('textarea', {
    class: 'textarea mono', id: 'new-api-key-value', 'data-testid': 'new-api-key-value', readonly: true,
    rows: '3', 'aria-label': 'API key', onfocus: (e) => e.target.select(),
  });
  value.value = created.api_key;
  return h('div', { 'data-testid': 'api-key-created' },
    h('div', { class: 'modal-head' },
      h('h2', { id: 'api-key-title' }, 'API key created'),
      h('p', null, 'Key ', h('strong', null, created.name), ' is ready.')),
    h('div', { class: 'modal-body' },
      alertBox('warning', [h('strong', null, 'Copy this key now. '), 'It is shown only once: the satellite keeps no copy it could show again.']),
      h('div', { class: 'field' },
        h('label', { for: 'new-api-key-value' }, 'API key'),
        h('div', { class: 'secret-box' }, value,
          copyButton(() => created.api_key, { id: 'copy-api-key', cls: 'btn' })))),
    h('div', { class: 'modal-foot' },
      h('button', { type: 'button', class: 'btn', id: 'api-key-done', 'data-testid': 'api-key-done', onclick: () => close({ ...created, then: 'done' }) }, 'Done'),
      h('button', { type: 'button', class: 'btn btn-primary', id: 'use-key-for-grant', 'data-testid': 'use-key-for-grant', onclick: () => close({ ...created, then: 'grant' }) },
        icon('key', 'icon-sm'), 'Create access grant with this key')));
}

export async function render(ctx) {
  const { content, project, query, alive } = ctx;
  const pid = encodeURIComponent(project.id);
  const page = Math.max(1, parseInt(query.get('page') || '1', 10) || 1);

  const newKey = async () => {
    const created = await createKeyDialog(project);
    if (!created) return;
    if (created.then === 'grant') navigate(`/projects/${pid}/access/new?key=${encodeURIComponent(created.id)}`);
    else ctx.rerender();
  };

  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('h1', { id: 'page-title' }, 'Access'),
      h('p', null, 'API keys say what may be done in this project. An access grant adds your encryption passphrase to a key, so it can read and write your data; grants are made in your browser or with the CLI and never stored by the satellite.')),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn', id: 'create-api-key', 'data-testid': 'create-api-key', onclick: newKey }, icon('plus', 'icon-sm'), 'New API key'),
      h('a', { class: 'btn btn-primary', id: 'create-access-grant', 'data-testid': 'create-access-grant', href: link(`/projects/${pid}/access/new`) }, icon('key', 'icon-sm'), 'Create access grant')));

  const keysCard = h('section', { class: 'card', id: 'api-keys' },
    h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'API keys'),
      h('p', null, 'Deleting a key stops every access grant made from it.'))),
    loadingBlock('Loading API keys…'));
  const cliCard = h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'Prefer the command line?'),
      h('p', null, 'The uplink CLI makes the same grants, with the passphrase typed only on your machine.'))),
    h('div', { class: 'card-body' },
      h('pre', { class: 'code' }, h('span', { class: 'prompt' }, '$ '),
        `uplink access create --satellite ${state.config?.satellite_address || '<satellite>'} --api-key <api key>`),
      h('pre', { class: 'code', style: 'margin:0' }, h('span', { class: 'prompt' }, '$ '),
        'uplink share --readonly --not-after 2030-01-01T00:00:00Z sj://bucket/prefix/')));
  mount(content, head, keysCard, cliCard);

  let res;
  try {
    res = await api.apiKeys(project.id, page, LIMIT);
  } catch (e) {
    if (!alive()) return;
    keysCard.lastChild.replaceWith(h('div', { class: 'card-body' }, alertBox('error', e.message, { id: 'api-keys-error' })));
    return;
  }
  if (!alive()) return;
  const keys = res.api_keys || [];
  if (!keys.length && page === 1) {
    keysCard.lastChild.replaceWith(emptyState({
      iconName: 'key', title: 'No API keys yet', testid: 'api-keys-empty',
      text: 'Create an API key to let the uplink CLI or your applications use this project.',
      action: h('button', { type: 'button', class: 'btn btn-primary', onclick: newKey }, icon('plus', 'icon-sm'), 'New API key'),
    }));
    return;
  }
  const rows = keys.map((k) => {
    const fresh = freshKey(project.id, k.id);
    return h('tr', { 'data-testid': 'api-key-row', 'data-key-id': k.id, 'data-key-name': k.name },
      h('td', null, h('div', { class: 'name-cell' }, icon('key'), h('span', null, k.name),
        fresh ? h('span', { class: 'badge ok', title: 'Created in this tab: usable for a grant without pasting it' }, 'new') : null)),
      h('td', { class: 'nowrap' }, timeEl(k.created_at, true)),
      h('td', { class: 'actions' },
        h('a', { class: 'btn btn-ghost btn-sm', href: link(`/projects/${pid}/access/new?key=${encodeURIComponent(k.id)}`) }, 'Make grant'),
        h('button', {
          type: 'button', class: 'btn btn-ghost btn-sm danger', 'data-testid': 'delete-api-key', 'aria-label': `Delete API key ${k.name}`,
          onclick: async () => {
            const done = await confirmDialog({
              title: `Delete API key “${k.name}”?`,
              body: h('p', { class: 'muted' }, 'Every access grant made from this key stops working at once, wherever it is used. This cannot be undone.'),
              confirmLabel: 'Delete key',
              action: () => api.deleteApiKey(project.id, k.id),
            });
            if (done) {
              forgetApiKey(project.id, k.id);
              toast(`API key ${k.name} deleted`);
              const lastOnPage = keys.length === 1 && page > 1;
              if (lastOnPage) navigate(`/projects/${pid}/access?page=${page - 1}`);
              else ctx.rerender();
            }
          },
        }, icon('trash', 'icon-sm'), 'Delete')));
  });
  keysCard.lastChild.replaceWith(h('div', null,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'api-keys-table' },
      h('caption', { class: 'sr-only' }, 'API keys'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'Created'),
        h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', null, rows))),
    pager({
      page, limit: res.limit || LIMIT, total: res.total ?? keys.length, testid: 'api-keys-pager',
      onPage: (p) => navigate(`/projects/${pid}/access?page=${p}`),
    })));
}
