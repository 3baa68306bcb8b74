// The network's nodes, for administrators: what `satellite admin nodes` prints, kept
// fresh while the page is open so that an operator can watch nodes leave and come back.

import { api } from '../api.js';
import {
  h, icon, mount, formatBytes, formatNumber, formatRelative, formatDateTime, loadingBlock, alertBox,
  emptyState,
} from '../ui.js';

/** How often the page asks again, in milliseconds. */
export const REFRESH_MS = 5000;

const STATUS_ORDER = ['disqualified', 'suspended', 'offline', 'exiting', 'exited', 'unvetted', 'ok'];
const STATUS_CLASS = {
  ok: 'ok', unvetted: '', exited: '', exiting: 'lock', offline: 'lock', suspended: 'lock', disqualified: 'bad',
};
const STATUS_HINT = {
  ok: 'Online, vetted, in good standing.',
  unvetted: 'New: gets a small share of uploads until it passes enough audits.',
  offline: 'Has not checked in recently. Not penalised; its pieces count as unhealthy.',
  suspended: 'Too many unknown audit errors: gets no new pieces.',
  exiting: 'Leaving gracefully: its pieces are being moved to other nodes.',
  exited: 'Graceful exit complete: the node may shut down.',
  disqualified: 'Failed audits: out for good, its pieces count as lost and are repaired elsewhere.',
};

export function statusBadge(status) {
  return h('span', {
    class: `badge ${STATUS_CLASS[status] ?? ''}`, title: STATUS_HINT[status] || '', 'data-testid': 'node-status',
  }, status);
}

function stat(id, label, iconName, value, note) {
  return h('div', { class: 'card stat', id, 'data-testid': id, 'data-value': String(value) },
    h('div', { class: 'label' }, icon(iconName, 'icon-sm'), label),
    h('div', { class: 'value' }, typeof value === 'number' ? formatNumber(value) : value),
    h('div', { class: 'of' }, note || ''));
}

const score = (x) => h('span', { class: x < 0.96 ? 'text-bad' : '' }, Number(x).toFixed(3));

function nodeRow(n) {
  return h('tr', { 'data-testid': 'node-row', 'data-status': n.status, 'data-id': n.id },
    h('td', null, statusBadge(n.status)),
    h('td', null, h('code', null, n.address)),
    h('td', null, h('code', { class: 'enc', title: n.id }, n.id)),
    h('td', { class: 'num', 'data-testid': 'node-free', 'data-bytes': String(n.free_bytes) }, formatBytes(n.free_bytes)),
    h('td', { class: 'num' }, formatBytes(n.used_bytes)),
    h('td', { class: 'num', 'data-testid': 'node-audit-score' }, score(n.audit_score)),
    h('td', { class: 'num' }, score(n.unknown_score)),
    h('td', { class: 'num', 'data-testid': 'node-audits', title: `${n.audits_failed} failed, ${n.audits_offline} offline, ${n.audits_unknown} unknown` },
      `${formatNumber(n.audits_total)} / ${formatNumber(n.audits_failed)} / ${formatNumber(n.audits_offline)} / ${formatNumber(n.audits_unknown)}`),
    h('td', { class: 'nowrap', title: formatDateTime(n.last_check_in) },
      n.last_check_in > 0 ? formatRelative(n.last_check_in) : 'never'));
}

function view(data, filter, setFilter) {
  const s = data.summary;
  const count = (status) => s.by_status[status] || 0;
  const stats = h('div', { class: 'stats', id: 'nodes-summary' },
    stat('nodes-total', 'Nodes', 'server', s.total, `${formatNumber(s.online)} online`),
    stat('nodes-online', 'Online', 'check', s.online, `checked in within ${data.online_window_seconds} s`),
    stat('nodes-free', 'Free space', 'bucket', formatBytes(s.free_bytes), `${formatBytes(s.used_bytes)} used`),
    stat('nodes-disqualified', 'Disqualified', 'warn', count('disqualified'), `${count('suspended')} suspended`),
    stat('nodes-exiting', 'Exiting', 'logout', count('exiting'), `${count('exited')} exited`));

  const options = ['all', ...STATUS_ORDER.filter((st) => count(st) > 0)];
  const select = h('select', {
    id: 'nodes-filter', 'data-testid': 'nodes-filter', 'aria-label': 'Show nodes with status',
    onchange: (e) => setFilter(e.target.value),
  }, options.map((o) => h('option', { value: o, selected: o === filter },
    o === 'all' ? `All (${s.total})` : `${o} (${count(o)})`)));

  const list = data.nodes
    .filter((n) => filter === 'all' || n.status === filter)
    .sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || a.address.localeCompare(b.address));
  const table = list.length
    ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'nodes-table' },
      h('caption', { class: 'sr-only' }, 'Nodes'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Address'),
        h('th', { scope: 'col' }, 'Node ID'),
        h('th', { scope: 'col', class: 'num' }, 'Free'),
        h('th', { scope: 'col', class: 'num' }, 'Used'),
        h('th', { scope: 'col', class: 'num', title: 'Disqualified below 0.96' }, 'Audit score'),
        h('th', { scope: 'col', class: 'num', title: 'Suspended below 0.6' }, 'Unknown score'),
        h('th', { scope: 'col', class: 'num', title: 'Total / failed / offline / unknown' }, 'Audits'),
        h('th', { scope: 'col' }, 'Last check-in'))),
      h('tbody', null, list.map(nodeRow))))
    : emptyState({ iconName: 'server', title: 'No nodes', text: 'No storage node has checked in with this satellite yet.', testid: 'nodes-empty' });

  return [stats, h('section', { class: 'card' },
    h('div', { class: 'card-head' },
      h('div', null, h('h2', null, 'Storage nodes'),
        h('p', null, 'Audits: total / failed / offline / unknown. Updated every few seconds.')),
      select),
    table)];
}

export async function render({ content, alive }) {
  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('h1', { id: 'page-title' }, 'Nodes'),
      h('p', null, 'Every storage node of this network: status, space, reputation and audits. The same figures as ',
        h('code', null, 'satellite admin nodes'), ' and /metrics.')),
    h('div', { class: 'actions' }, h('span', { class: 'muted small', id: 'nodes-updated' })));
  const body = h('div', { id: 'nodes-body' }, loadingBlock('Loading nodes…'));
  mount(content, head, body);

  let filter = 'all';
  let data = null;
  let timer = null;
  const draw = () => mount(body, ...view(data, filter, (f) => { filter = f; draw(); }));
  const load = async () => {
    try {
      data = await api.adminNodes();
    } catch (e) {
      if (!alive()) return;
      data = null;
      mount(body, alertBox('error', e.message, { id: 'nodes-error' }));
      if (e.status === 403) return; // not an administrator: asking again will not help
    }
    if (!alive()) return;
    if (data) {
      draw();
      head.querySelector('#nodes-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    }
    timer = setTimeout(load, REFRESH_MS);
  };
  await load();
  return () => clearTimeout(timer);
}
