// Project dashboard: this month's usage against the project's limits.

import { api } from '../api.js';
import { link, state } from '../app.js';
import {
  h, icon, mount, formatBytes, formatNumber, usageBar, monthLabel, timeEl, alertBox, copyButton,
} from '../ui.js';

function statCard({ id, label, iconName, used, limit, bytes, note }) {
  const fmt = bytes ? formatBytes : formatNumber;
  const hasLimit = limit !== null && limit !== undefined && limit > 0;
  let valueNode;
  if (bytes) {
    const [num, unit] = formatBytes(used).split(' ');
    valueNode = h('div', { class: 'value' }, num, h('small', null, unit));
  } else {
    valueNode = h('div', { class: 'value' }, formatNumber(used));
  }
  return h('div', {
    class: 'card stat', id, 'data-testid': id, 'data-value': String(used ?? 0),
    'data-limit': hasLimit ? String(limit) : '',
  },
  h('div', { class: 'label' }, icon(iconName, 'icon-sm'), label),
  valueNode,
  h('div', { class: 'of' }, hasLimit
    ? `of ${fmt(limit)} (${Math.min(100, Math.round((used / limit) * 100))}% used)`
    : note || 'No limit'),
  hasLimit ? usageBar(used, limit) : h('div', { class: 'bar', 'aria-hidden': 'true' }, h('span', { style: 'width:0' })));
}

export async function render({ content, project, alive }) {
  const pid = encodeURIComponent(project.id);
  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('h1', { id: 'page-title' }, project.name),
      h('p', null, project.description || 'Usage of this project this month, against its limits.')),
    h('div', { class: 'actions' },
      h('a', { class: 'btn', href: link(`/projects/${pid}/buckets`) }, icon('bucket', 'icon-sm'), 'Browse buckets'),
      h('a', { class: 'btn btn-primary', href: link(`/projects/${pid}/access/new`), id: 'dashboard-new-grant' }, icon('key', 'icon-sm'), 'Create access grant')));

  let usage;
  try {
    usage = await api.usage(project.id);
  } catch (e) {
    if (!alive()) return;
    mount(content, head, alertBox('error', e.message, { id: 'usage-error' }));
    return;
  }
  if (!alive()) return;
  const { limits = {}, usage: u = {} } = usage;

  const stats = h('div', { class: 'stats', id: 'usage', 'data-testid': 'usage', 'data-month': usage.month },
    statCard({ id: 'usage-storage', label: 'Storage', iconName: 'bucket', used: u.storage_bytes, limit: limits.storage_bytes, bytes: true }),
    statCard({ id: 'usage-egress', label: `Download this month`, iconName: 'dashboard', used: u.egress_bytes, limit: limits.egress_bytes, bytes: true }),
    statCard({ id: 'usage-buckets', label: 'Buckets', iconName: 'bucket', used: u.buckets, limit: limits.buckets }),
    statCard({ id: 'usage-segments', label: 'Segments', iconName: 'file', used: u.segments, limit: limits.segments }),
    statCard({ id: 'usage-objects', label: 'Objects', iconName: 'file', used: u.objects, limit: null, note: 'Objects have no separate limit' }));

  const nearLimit = [
    ['storage', u.storage_bytes, limits.storage_bytes],
    ['download', u.egress_bytes, limits.egress_bytes],
    ['bucket', u.buckets, limits.buckets],
    ['segment', u.segments, limits.segments],
  ].filter(([, used, lim]) => lim > 0 && used / lim >= 0.8);

  const started = (u.buckets || 0) > 0;
  const steps = h('ol', { class: 'steps' },
    h('li', null, h('span', { class: 'num' }, '1'), h('div', null,
      h('strong', null, h('a', { href: link(`/projects/${pid}/access`) }, 'Create an API key')),
      h('p', null, 'API keys say what this project allows. The secret is shown once.'))),
    h('li', null, h('span', { class: 'num' }, '2'), h('div', null,
      h('strong', null, h('a', { href: link(`/projects/${pid}/access/new`) }, 'Make an access grant')),
      h('p', null, 'An access grant combines the key with your encryption passphrase, in your browser.'))),
    h('li', null, h('span', { class: `num ${started ? 'done' : ''}` }, started ? icon('check', 'icon-sm') : '3'), h('div', null,
      h('strong', null, 'Upload with the uplink CLI'),
      h('p', null, h('code', null, 'uplink --access <grant> mb sj://my-bucket'), h('br'),
        h('code', null, 'uplink --access <grant> cp ./file sj://my-bucket/')))));

  const satellite = h('code', { id: 'satellite-address' }, state.config?.satellite_address || '');
  const info = h('dl', { class: 'kv' },
    h('dt', null, 'Project ID'), h('dd', null, h('code', { id: 'project-id' }, project.id), ' ',
      copyButton(() => project.id, { label: 'Copy project ID', iconOnly: true, cls: 'btn btn-ghost btn-icon btn-sm' })),
    h('dt', null, 'Satellite'), h('dd', null, satellite),
    h('dt', null, 'Your role'), h('dd', null, h('span', { class: `badge ${project.role === 'owner' ? 'owner' : ''}` }, project.role)),
    h('dt', null, 'Created'), h('dd', null, timeEl(project.created_at)),
    h('dt', null, 'Rate limit'), h('dd', null, limits.requests_per_second > 0 ? `${formatNumber(limits.requests_per_second)} requests per second` : 'None'));

  mount(content,
    head,
    h('div', { class: 'page-head', style: 'margin-bottom:12px' },
      h('h2', null, 'Usage · ', h('span', { id: 'usage-month' }, monthLabel(usage.month)))),
    nearLimit.length ? alertBox('warning', `This project is close to its ${nearLimit.map((x) => x[0]).join(', ')} limit. Uploads or downloads may be refused when a limit is reached.`, { id: 'limit-warning' }) : null,
    stats,
    h('div', { class: 'grid-2' },
      h('section', { class: 'card' },
        h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'Get started'), h('p', null, 'From an empty project to your first upload.'))),
        h('div', { class: 'card-body', style: 'padding-top:6px;padding-bottom:6px' }, steps)),
      h('section', { class: 'card' },
        h('div', { class: 'card-head' }, h('h2', null, 'Project details')),
        h('div', { class: 'card-body' }, info))));
}
