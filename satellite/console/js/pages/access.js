// Access: the project's API keys, and the way to access grants.

import { api, revokeAccessGrant } from '../api.js';
import { link, navigate, state } from '../app.js';
import {
  h, icon, mount, timeEl, pager, emptyState, loadingBlock, alertBox, modal, field, validate, rules,
  busy, errorRegion, setError, confirmDialog, copyButton, toast, formatDateTime,
} from '../ui.js';
import { rememberApiKey, forgetApiKey, freshKey } from '../secrets.js';
import { grantLib } from '../unlock.js';

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

/** How long other satellite processes may keep answering from their cached list of
 * revoked grants (the satellite's revocation cache TTL, unless its operator changed it). */
const REVOCATION_CACHE_NOTE = 'Other processes of this satellite may take up to its revocation cache TTL (30 seconds by default) to notice.';

/** "1Ab3cD…x9YzQ7": enough of a grant to recognise it, none of what it holds. */
function shortGrant(text) {
  return text.length > 20 ? `${text.slice(0, 8)}…${text.slice(-8)}` : text;
}

/**
 * What a pasted grant is, for the confirmation: never the parsed grant itself, which
 * holds encryption keys. Only `apiKey` is secret, and it is kept only to be sent with
 * the revocation.
 */
function describeGrant(lib, text) {
  const g = lib.parseGrant(text);
  const caveats = g.caveats;
  const known = caveats.filter(Boolean);
  const ops = { read: true, write: true, list: true, delete: true };
  let notAfter = null;
  let pathsRestricted = false;
  for (const c of known) {
    if (c.disallow_reads) ops.read = false;
    if (c.disallow_writes) ops.write = false;
    if (c.disallow_lists) ops.list = false;
    if (c.disallow_deletes) ops.delete = false;
    if (typeof c.not_after === 'number') notAfter = notAfter === null ? c.not_after : Math.min(notAfter, c.not_after);
    if (Array.isArray(c.allowed_paths) && c.allowed_paths.length) pathsRestricted = true;
  }
  const allowed = Object.keys(ops).filter((k) => ops[k]);
  const paths = g.encryption.defaultKey && !pathsRestricted
    ? 'All buckets'
    : g.encryption.entries.map((e) => `sj://${e.bucket}/${e.prefix}`).join(', ') || 'None';
  return {
    satelliteAddress: g.satelliteAddress,
    apiKey: g.apiKey,
    bare: caveats.length === 0,
    unknownCaveats: caveats.length !== known.length,
    operations: allowed.length ? allowed.join(', ') : 'none',
    paths,
    notAfter,
    short: shortGrant(text.trim()),
  };
}

async function consoleSatellite() {
  if (state.config?.satellite_address) return state.config.satellite_address;
  const config = await api.config();
  return config?.satellite_address || '';
}

/**
 * The "revoke an access grant" dialog: paste a grant, check it belongs to this
 * satellite, confirm, then revoke it with its own API key. Resolves true if a grant
 * was revoked.
 */
export function revokeGrantDialog() {
  let revokedAny = false;
  return modal((close) => {
    const container = h('div');
    const grantField = field({
      id: 'revoke-grant-value', label: 'Access grant', textarea: true,
      placeholder: 'Paste the access grant to revoke',
      hint: 'It is read in this browser. Only its API key is sent to the satellite, to revoke it.',
      attrs: { rows: '4', spellcheck: 'false', autocomplete: 'off', autofocus: true, class: 'textarea mono' },
    });
    const grantInput = grantField.input;

    const pasteStep = () => {
      const err = errorRegion('revoke-grant-error');
      const next = h('button', { type: 'submit', class: 'btn btn-primary', id: 'revoke-grant-next', 'data-testid': 'revoke-grant-next' }, 'Continue');
      const form = h('form', {
        novalidate: true, id: 'revoke-grant-form',
        onsubmit: async (e) => {
          e.preventDefault();
          setError(err, '');
          if (!validate([[grantField, (v) => (v.trim() ? null : 'Paste the access grant to revoke.')]])) return;
          let info;
          let ours;
          try {
            [info, ours] = await busy(next, async () => {
              const lib = await grantLib();
              let described;
              try {
                described = describeGrant(lib, grantInput.value);
              } catch (e2) {
                const why = (e2.message || String(e2)).replace(/^not a valid access grant:?\s*/i, '');
                grantField.setError(`This is not a valid access grant${why ? `: ${why}` : ''}.`.replace(/\.\.$/, '.'));
                return [null, null];
              }
              return [described, await consoleSatellite()];
            }, 'Checking…');
          } catch (e2) {
            setError(err, e2.message || String(e2));
            return;
          }
          if (!info) { grantInput.focus(); return; }
          // The node id identifies a satellite; the same one may be reached by several
          // host names.
          const nodeId = (address) => String(address || '').split('@')[0];
          if (!ours || nodeId(info.satelliteAddress) !== nodeId(ours)) {
            setError(err, [
              h('strong', null, 'This grant belongs to another satellite. '),
              'It was made for ', h('code', null, info.satelliteAddress), ', but this console is ',
              h('code', null, ours || 'unknown'),
              '. Revoke it with the console of its own satellite, or with the uplink CLI.']);
            return;
          }
          if (info.bare) {
            setError(err, [
              h('strong', null, 'This grant holds a project\u2019s API key itself, which cannot be revoked. '),
              'Delete the API key on this page instead: that stops every grant made from it.']);
            return;
          }
          mount(container, confirmStep(info));
        },
      },
      h('div', { class: 'modal-head' },
        h('h2', { id: 'revoke-grant-title' }, 'Revoke an access grant'),
        h('p', null, 'Stop one grant, and every grant shared from it, on this satellite. Other grants made from the same API key keep working.')),
      h('div', { class: 'modal-body' },
        err, grantField.el,
        h('p', { class: 'muted small', style: 'margin:0' },
          'To cut off every grant made from an API key at once, delete the key instead.')),
      h('div', { class: 'modal-foot' },
        h('button', { type: 'button', class: 'btn', id: 'revoke-grant-cancel', onclick: () => close(revokedAny) }, 'Cancel'),
        next));
      setTimeout(() => grantInput.focus(), 0);
      return form;
    };

    const confirmStep = (info) => {
      const err = errorRegion('revoke-grant-error');
      const ok = h('button', { type: 'submit', class: 'btn btn-danger', id: 'revoke-grant-confirm', 'data-testid': 'revoke-grant-confirm' }, 'Revoke grant');
      const facts = [
        ['Grant', h('code', null, info.short)],
        ['Satellite', h('code', null, info.satelliteAddress)],
        ['Allows', info.operations + (info.unknownCaveats ? ' (and restrictions this console cannot show)' : '')],
        ['Paths', info.paths],
        ['Expires', info.notAfter === null ? 'Never' : formatDateTime(info.notAfter)],
      ];
      const form = h('form', {
        novalidate: true, id: 'revoke-grant-confirm-form',
        onsubmit: async (e) => {
          e.preventDefault();
          setError(err, '');
          try {
            await busy(ok, () => revokeAccessGrant(info.apiKey), 'Revoking…');
          } catch (e2) {
            const already = e2.status === 401 && /revoked/i.test(e2.message || '');
            setError(err, already
              ? [h('strong', null, 'This access grant is already revoked. '), 'It, and every grant shared from it, no longer works.']
              : (e2.message || String(e2)));
            return;
          }
          revokedAny = true;
          grantInput.value = '';
          toast('Access grant revoked');
          mount(container, doneStep(info));
        },
      },
      h('div', { class: 'modal-head' },
        h('div', { class: 'danger-icon' }, icon('warn')),
        h('h2', { id: 'revoke-grant-title' }, 'Revoke this access grant?')),
      h('div', { class: 'modal-body' },
        err,
        h('dl', { class: 'kv revoke-facts', 'data-testid': 'revoke-grant-summary' },
          facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
        h('p', null, h('strong', null, 'It and every grant shared from it stop working; this cannot be undone.')),
        h('p', { class: 'muted small', style: 'margin:0' }, `This satellite refuses it at once. ${REVOCATION_CACHE_NOTE}`)),
      h('div', { class: 'modal-foot' },
        h('button', { type: 'button', class: 'btn', id: 'revoke-grant-back', onclick: () => mount(container, pasteStep()) }, 'Back'),
        ok));
      setTimeout(() => ok.focus(), 0);
      return form;
    };

    const doneStep = (info) => {
      const done = h('button', { type: 'button', class: 'btn btn-primary', id: 'revoke-grant-close', onclick: () => close(true) }, 'Done');
      setTimeout(() => done.focus(), 0);
      return h('div', { 'data-testid': 'revoke-grant-done', id: 'revoke-grant-done' },
        h('div', { class: 'modal-head' },
          h('h2', { id: 'revoke-grant-title' }, 'Access grant revoked')),
        h('div', { class: 'modal-body' },
          alertBox('success', [h('strong', null, 'Grant ', h('code', null, info.short), ' is revoked. '),
            'It and every grant shared from it no longer work on this satellite.'], { id: 'revoke-grant-success' }),
          h('p', { class: 'muted small' }, REVOCATION_CACHE_NOTE),
          h('p', { class: 'muted small', style: 'margin:0' },
            'Other grants made from the same API key keep working. To cut them all off, delete the API key instead.')),
        h('div', { class: 'modal-foot' },
          h('button', { type: 'button', class: 'btn', id: 'revoke-grant-another', onclick: () => mount(container, pasteStep()) }, 'Revoke another'),
          done));
    };

    container.append(pasteStep());
    return container;
  }, { labelledBy: 'revoke-grant-title', testid: 'revoke-grant-dialog', wide: true }).then((v) => v === true || revokedAny);
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
      h('p', null, 'Deleting a key stops every access grant made from it. A member\u2019s keys are deleted when they leave the project, unless the owner keeps them.'))),
    loadingBlock('Loading API keys…'));
  const revokeCard = h('section', { class: 'card', id: 'revoke-grant' },
    h('div', { class: 'card-body card-row' },
      h('div', null,
        h('h2', null, 'Revoke an access grant'),
        h('p', { class: 'muted', style: 'margin:3px 0 0' },
          'Stop one grant, and every grant shared from it, without deleting its API key: other grants made from the key keep working.')),
      h('button', {
        type: 'button', class: 'btn', id: 'revoke-grant-open', 'data-testid': 'revoke-grant-open',
        onclick: () => revokeGrantDialog(),
      }, icon('lock', 'icon-sm'), 'Revoke a grant…')));
  const cliCard = h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'Prefer the command line?'),
      h('p', null, 'The uplink CLI makes the same grants, with the passphrase typed only on your machine.'))),
    h('div', { class: 'card-body' },
      h('pre', { class: 'code' }, h('span', { class: 'prompt' }, '$ '),
        `uplink access create --satellite ${state.config?.satellite_address || '<satellite>'} --api-key <api key>`),
      h('pre', { class: 'code', style: 'margin:0' }, h('span', { class: 'prompt' }, '$ '),
        'uplink share --readonly --not-after 2030-01-01T00:00:00Z sj://bucket/prefix/'),
      h('pre', { class: 'code', style: 'margin:12px 0 0' }, h('span', { class: 'prompt' }, '$ '),
        'uplink access revoke <access grant>')));
  mount(content, head, keysCard, revokeCard, cliCard);

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
      h('td', { 'data-testid': 'api-key-creator' }, k.created_by
        ? (k.created_by.email || 'a former account')
        : h('span', { class: 'muted', title: 'Made by the satellite\u2019s operator' }, 'operator')),
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
        h('th', { scope: 'col' }, 'Created by'),
        h('th', { scope: 'col' }, 'Created'),
        h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', null, rows))),
    pager({
      page, limit: res.limit || LIMIT, total: res.total ?? keys.length, testid: 'api-keys-pager',
      onPage: (p) => navigate(`/projects/${pid}/access?page=${p}`),
    })));
}
