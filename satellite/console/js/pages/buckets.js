// Buckets of a project, paged by the server.

import { api } from '../api.js';
import { link, navigate } from '../app.js';
import {
  h, icon, mount, formatBytes, formatNumber, timeEl, pager, emptyState, loadingBlock, alertBox,
} from '../ui.js';
import { rootKey, forgetRootKey } from '../secrets.js';
import { unlockDialog } from '../unlock.js';

const LIMIT = 20;

export function lockControl(project, onChange) {
  const unlocked = !!rootKey(project.id);
  if (unlocked) {
    return h('button', {
      type: 'button', class: 'btn', id: 'lock-button', 'data-testid': 'lock-button',
      title: 'Forget the encryption key in this tab',
      onclick: () => { forgetRootKey(project.id); onChange(); },
    }, icon('lock', 'icon-sm'), 'Lock names');
  }
  return h('button', {
    type: 'button', class: 'btn btn-primary', id: 'unlock-button', 'data-testid': 'unlock-button',
    onclick: async () => { if (await unlockDialog(project)) onChange(); },
  }, icon('unlock', 'icon-sm'), 'Enter passphrase');
}

export async function render(ctx) {
  const { content, project, query, alive } = ctx;
  const pid = encodeURIComponent(project.id);
  const page = Math.max(1, parseInt(query.get('page') || '1', 10) || 1);

  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('h1', { id: 'page-title' }, 'Buckets'),
      h('p', null, 'Buckets hold your objects. Object names are encrypted, so the satellite can count and measure them but never read them.')),
    h('div', { class: 'actions' }, lockControl(project, () => ctx.rerender())));
  const body = h('section', { class: 'card' }, loadingBlock('Loading buckets…'));
  mount(content, head, body);

  let res;
  try {
    res = await api.buckets(project.id, page, LIMIT);
  } catch (e) {
    if (!alive()) return;
    mount(body, h('div', { class: 'card-body' }, alertBox('error', e.message, { id: 'buckets-error' })));
    return;
  }
  if (!alive()) return;

  const list = res.buckets || [];
  if (!list.length && page === 1) {
    mount(body, emptyState({
      iconName: 'bucket', title: 'No buckets yet', testid: 'buckets-empty',
      text: 'Buckets are created by the clients that upload, with your access grant and passphrase. For example:',
      action: h('div', null,
        h('pre', { class: 'code', style: 'text-align:left;max-width:520px;margin:0 auto 14px;white-space:pre;overflow-x:auto;padding-right:14px' },
          'uplink --access <grant> mb sj://my-bucket\nuplink --access <grant> cp ./photo.jpg sj://my-bucket/'),
        h('a', { class: 'btn btn-primary', href: link(`/projects/${pid}/access/new`) }, icon('key', 'icon-sm'), 'Create an access grant')),
    }));
    return;
  }

  const rows = list.map((b) => {
    const href = link(`/projects/${pid}/buckets/${encodeURIComponent(b.name)}`);
    return h('tr', {
      class: 'clickable', 'data-testid': 'bucket-row', 'data-bucket': b.name,
      onclick: (e) => { if (!e.target.closest('a, button')) location.hash = href; },
    },
    h('td', null, h('div', { class: 'name-cell' }, icon('bucket'),
      h('a', { href, class: 'bucket-link', 'data-testid': 'bucket-link' }, b.name))),
    h('td', { class: 'num', 'data-testid': 'bucket-objects' }, formatNumber(b.objects)),
    h('td', { class: 'num', 'data-testid': 'bucket-bytes', 'data-bytes': String(b.bytes) }, formatBytes(b.bytes)),
    h('td', { class: 'nowrap' }, timeEl(b.created_at)));
  });

  mount(body,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'buckets-table' },
      h('caption', { class: 'sr-only' }, 'Buckets'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col', class: 'num' }, 'Objects'),
        h('th', { scope: 'col', class: 'num' }, 'Size'),
        h('th', { scope: 'col' }, 'Created'))),
      h('tbody', null, rows))),
    pager({
      page, limit: res.limit || LIMIT, total: res.total ?? list.length, testid: 'buckets-pager',
      onPage: (p) => navigate(`/projects/${pid}/buckets?page=${p}`),
    }));
}
