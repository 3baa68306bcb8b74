// The network's repair state, for administrators: what `satellite admin repair` prints,
// kept fresh while the page is open, so that an operator can watch redundancy come back
// after nodes leave.

import { api } from '../api.js';
import {
  h, icon, mount, formatBytes, formatNumber, formatRelative, formatDateTime, loadingBlock, alertBox,
  emptyState,
} from '../ui.js';
import { REFRESH_MS } from './nodes.js';

function stat(id, label, iconName, value, note, cls = '') {
  return h('div', { class: `card stat ${cls}`, id, 'data-testid': id, 'data-value': String(value ?? '') },
    h('div', { class: 'label' }, icon(iconName, 'icon-sm'), label),
    h('div', { class: 'value' }, typeof value === 'number' ? formatNumber(value) : value),
    h('div', { class: 'of' }, note || ''));
}

/** Rows of label, count and a bar scaled to the largest count. */
function bars(id, rows, { labelHead, countHead, cls = () => '' }) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return h('table', { class: 'table bars', id },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, labelHead),
      h('th', { scope: 'col', class: 'num' }, countHead),
      h('th', { scope: 'col', class: 'bar-cell' }, h('span', { class: 'sr-only' }, 'Share')))),
    h('tbody', null, rows.map((r) => h('tr', { 'data-testid': `${id}-row`, 'data-key': String(r.key), 'data-count': String(r.count) },
      h('td', { class: 'nowrap' }, r.label),
      h('td', { class: 'num' }, formatNumber(r.count), r.note ? h('small', { class: 'muted' }, ` ${r.note}`) : null),
      h('td', { class: 'bar-cell' }, h('div', { class: `bar ${cls(r)}`, 'aria-hidden': 'true' },
        h('span', { style: `width:${r.count > 0 ? Math.max(1.5, (r.count / max) * 100) : 0}%` })))))));
}

function health(r) {
  const entries = Object.entries(r.segments_by_healthy || {})
    .map(([k, v]) => ({ key: Number(k), count: v }))
    .sort((a, b) => a.key - b.key);
  if (!entries.length) {
    return emptyState({ iconName: 'info', title: 'No checker pass yet', text: 'The segment loop has not finished a pass over the segments, or there are no remote segments.', testid: 'health-empty' });
  }
  // Everything at or below the fewest-healthy queued segment is urgent; with no queue,
  // the counts are just the distribution.
  const queued = new Set((r.queue_head || []).map((j) => j.healthy));
  return bars('health', entries.map((e) => ({
    ...e, label: `${e.key} healthy pieces`, note: queued.has(e.key) ? '(queued)' : '',
  })), { labelHead: 'Healthy pieces', countHead: 'Segments', cls: (row) => (queued.has(row.key) ? 'warn' : '') });
}

function perHour(r) {
  const hours = r.repaired_per_hour || [];
  if (!hours.length) {
    return emptyState({ iconName: 'repair', title: 'No repairs in the last 24 hours', testid: 'per-hour-empty' });
  }
  const fmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  return bars('per-hour', hours.map((x) => ({
    key: x.hour_start, count: x.segments, label: fmt.format(new Date(x.hour_start * 1000)),
    note: `· ${formatNumber(x.pieces)} pieces · ${formatBytes(x.bytes)}`,
  })), { labelHead: 'Hour', countHead: 'Segments repaired' });
}

function queue(r) {
  const jobs = r.queue_head || [];
  if (!jobs.length) {
    return emptyState({ iconName: 'check', title: 'The repair queue is empty', text: 'Every segment had more healthy pieces than the repair threshold at the last checker pass.', testid: 'queue-empty' });
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'queue-table' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Segment'),
      h('th', { scope: 'col', class: 'num' }, 'Healthy'),
      h('th', { scope: 'col' }, 'Queued'),
      h('th', { scope: 'col', class: 'num' }, 'Attempts'),
      h('th', { scope: 'col' }, 'State'))),
    h('tbody', null, jobs.map((j) => h('tr', { 'data-testid': 'queue-row' },
      h('td', null, h('code', { class: 'enc', title: `${j.object_id}/${j.position.part}:${j.position.index}` }, `${j.object_id}/${j.position.part}:${j.position.index}`)),
      h('td', { class: 'num' }, String(j.healthy)),
      h('td', { class: 'nowrap', title: formatDateTime(j.queued_at) }, formatRelative(j.queued_at)),
      h('td', { class: 'num' }, String(j.attempts)),
      h('td', null, j.in_progress ? h('span', { class: 'badge owner' }, 'repairing')
        : j.last_error ? h('span', { class: 'badge lock', title: j.last_error }, 'retrying') : h('span', { class: 'badge' }, 'waiting')))))));
}

function workers(list) {
  const names = Object.keys(list || {}).sort();
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'workers-table' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Worker'),
      h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col', class: 'num' }, 'Steps'),
      h('th', { scope: 'col', class: 'num' }, 'Failures'),
      h('th', { scope: 'col' }, 'Last step'),
      h('th', { scope: 'col' }, 'Result'))),
    h('tbody', null, names.map((name) => {
      const w = list[name];
      return h('tr', { 'data-testid': 'worker-row', 'data-worker': name },
        h('td', null, h('code', null, name)),
        h('td', null, h('span', { class: `badge ${w.state === 'backing_off' ? 'lock' : w.state === 'busy' ? 'owner' : ''}` }, w.state.replace('_', ' '))),
        h('td', { class: 'num' }, formatNumber(w.steps)),
        h('td', { class: 'num' }, formatNumber(w.failures)),
        h('td', { class: 'nowrap', title: formatDateTime(w.last_step_unix) },
          w.last_step_unix ? formatRelative(w.last_step_unix) : 'not yet'),
        h('td', { class: w.last_error ? 'text-bad' : 'muted' }, w.last_error || w.last_result || ''));
    }))));
}

function view(data) {
  const r = data.repair;
  const lost = r.lost_segments;
  const stats = h('div', { class: 'stats', id: 'repair-summary' },
    stat('repair-queue', 'Repair queue', 'repair', r.queue_length, 'segments waiting'),
    stat('repair-last-hour', 'Repaired last hour', 'check', r.repaired_last_hour, 'segments'),
    stat('repair-lost', 'Lost segments', 'warn', lost, lost ? 'fewer healthy pieces than needed to read' : 'none', lost ? 'stat-bad' : ''),
    stat('repair-pass', 'Last checker pass', 'dashboard',
      r.last_pass_at ? formatRelative(r.last_pass_at) : 'none yet',
      r.last_pass_segments_per_second ? `${formatNumber(Math.round(r.last_pass_segments_per_second))} segments/s` : ''));
  const card = (title, text, body) => h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('div', null, h('h2', null, title), text ? h('p', null, text) : null)), body);
  return [
    lost ? alertBox('error', [h('strong', null, `${formatNumber(lost)} segments are lost. `),
      'They have fewer healthy pieces than the erasure code needs. They stay queued: if their nodes come back online they become readable and are repaired. ',
      ...(r.lost_samples || []).slice(0, 5).map((x) => h('code', { class: 'enc' }, x))], { id: 'lost-alert' }) : null,
    stats,
    h('div', { class: 'grid-2' },
      card('Segments by health', 'Healthy pieces per segment at the last checker pass.', h('div', { class: 'table-wrap' }, health(r))),
      card('Repaired per hour', 'The last 24 hours.', h('div', { class: 'table-wrap' }, perHour(r)))),
    card('Repair queue', 'The most urgent segments, in the order repair workers take them.', queue(r)),
    card('Background workers', 'Of the satellite process that answered. With several processes on one database, the segment loop runs in one of them at a time.', workers(data.workers)),
  ];
}

export async function render({ content, alive }) {
  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('h1', { id: 'page-title' }, 'Repair'),
      h('p', null, 'Redundancy of the stored segments and the work to keep it. The same figures as ',
        h('code', null, 'satellite admin repair'), ' and /metrics.')),
    h('div', { class: 'actions' }, h('span', { class: 'muted small', id: 'repair-updated' })));
  const body = h('div', { id: 'repair-body' }, loadingBlock('Loading the repair state…'));
  mount(content, head, body);

  let timer = null;
  const load = async () => {
    let data;
    try {
      data = await api.adminRepair();
    } catch (e) {
      if (!alive()) return;
      mount(body, alertBox('error', e.message, { id: 'repair-error' }));
      if (e.status === 403) return; // not an administrator: asking again will not help
    }
    if (!alive()) return;
    if (data) {
      mount(body, ...view(data));
      head.querySelector('#repair-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    }
    timer = setTimeout(load, REFRESH_MS);
  };
  await load();
  return () => clearTimeout(timer);
}
