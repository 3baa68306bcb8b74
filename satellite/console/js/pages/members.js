// Project members: who can use this project from the console.

import { api, request } from '../api.js';
import { state, navigate, reloadProjects } from '../app.js';
import {
  h, icon, mount, avatar, timeEl, loadingBlock, alertBox, field, validate, rules, busy,
  errorRegion, setError, confirmDialog, toast, emptyState,
} from '../ui.js';

export async function render(ctx) {
  const { content, project, alive } = ctx;
  const isOwner = project.role === 'owner';

  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('h1', { id: 'page-title' }, 'Members'),
      h('p', null, 'Members can see this project\'s usage, buckets and API keys, and create API keys. Only the owner can add or remove members, rename or delete the project. A member\'s API keys leave with them.')));

  let addCard = null;
  if (isOwner) {
    const email = field({ id: 'member-email', label: 'Email address', type: 'email', placeholder: 'teammate@example.com', autocomplete: 'off', hint: 'They need an account on this satellite first.' });
    email.el.style.marginBottom = '0';
    email.el.style.flex = '1';
    const err = errorRegion('member-error');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'member-add', 'data-testid': 'member-add', style: 'margin-top:25px' }, icon('plus', 'icon-sm'), 'Add member');
    addCard = h('section', { class: 'card' },
      h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'Add a member'))),
      h('form', {
        class: 'card-body', id: 'member-form', novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          setError(err, '');
          if (!validate([[email, rules.email]])) return;
          try {
            const m = await busy(submit, () => api.addMember(project.id, email.input.value.trim()), 'Adding…');
            toast(`${m.full_name || m.email} is now a member`);
            ctx.rerender();
          } catch (e2) {
            if (e2.code === 'not_found' || e2.code === 'conflict' || e2.code === 'bad_request') email.setError(e2.message);
            else setError(err, e2.message);
          }
        },
      }, err, h('div', { style: 'display:flex;gap:10px;align-items:flex-start' }, email.el, submit)));
  }

  const listCard = h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', null, 'People in this project')),
    loadingBlock('Loading members…'));
  mount(content, head, addCard, listCard);

  let res;
  try {
    res = await api.members(project.id);
  } catch (e) {
    if (!alive()) return;
    listCard.lastChild.replaceWith(h('div', { class: 'card-body' }, alertBox('error', e.message, { id: 'members-error' })));
    return;
  }
  if (!alive()) return;
  const list = (res.members || []).slice().sort((a, b) => (a.role === 'owner' ? -1 : 0) - (b.role === 'owner' ? -1 : 0) || a.email.localeCompare(b.email));
  if (!list.length) {
    listCard.lastChild.replaceWith(emptyState({ iconName: 'users', title: 'No members', testid: 'members-empty' }));
    return;
  }
  const me = state.user;
  const rows = list.map((m) => {
    const self = m.user_id === me.id;
    let action = null;
    if (m.role !== 'owner' && (isOwner || self)) {
      action = h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm danger', 'data-testid': 'remove-member',
        'aria-label': self ? 'Leave this project' : `Remove ${m.email}`,
        onclick: async () => {
          // Keys a member made are deleted with them unless the owner keeps them.
          let keys = 'delete';
          const choice = (value, label, hint) => h('label', { class: 'check' },
            h('input', {
              type: 'radio', name: 'member-keys', value, id: `member-keys-${value}`, 'data-testid': `member-keys-${value}`,
              checked: value === keys, onchange: () => { keys = value; },
            }),
            h('div', null, h('strong', null, label), h('span', null, hint)));
          const body = self
            ? h('p', { class: 'muted' }, 'You will lose access to this project in the console. The API keys you created are deleted, and every access grant made from them stops working.')
            : h('div', null,
              h('p', { class: 'muted' }, `${m.email} will lose access to this project in the console. What happens to the API keys they created?`),
              h('div', { class: 'stack', style: 'gap:8px', role: 'radiogroup', 'aria-label': 'Their API keys' },
                choice('delete', 'Delete their keys', 'Every access grant made from them stops working at once.'),
                choice('reassign', 'Keep their keys working', 'The keys are listed as yours from then on. Grants they shared keep working.')));
          const done = await confirmDialog({
            title: self ? `Leave ${project.name}?` : `Remove ${m.full_name || m.email}?`,
            body,
            confirmLabel: self ? 'Leave project' : 'Remove member',
            action: () => request('DELETE', `/projects/${encodeURIComponent(project.id)}/members/${encodeURIComponent(m.user_id)}?keys=${keys}`),
          });
          if (!done) return;
          if (self) {
            await reloadProjects().catch(() => {});
            toast(`You left ${project.name}`);
            navigate('/', { replace: true });
          } else {
            toast(`${m.email} removed`);
            ctx.rerender();
          }
        },
      }, icon('trash', 'icon-sm'), self ? 'Leave' : 'Remove');
    }
    return h('tr', { 'data-testid': 'member-row', 'data-email': m.email },
      h('td', null, h('div', { class: 'name-cell' }, avatar(m.full_name || m.email, 'round'),
        h('div', null,
          h('div', null, m.full_name || m.email, self ? h('span', { class: 'muted' }, ' (you)') : null),
          h('div', { class: 'muted small', style: 'font-weight:400' }, m.email)))),
      h('td', null, h('span', { class: `badge ${m.role === 'owner' ? 'owner' : ''}` }, m.role)),
      h('td', { class: 'nowrap' }, timeEl(m.added_at)),
      h('td', { class: 'actions' }, action));
  });
  listCard.lastChild.replaceWith(h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'members-table' },
    h('caption', { class: 'sr-only' }, 'Members'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Member'),
      h('th', { scope: 'col' }, 'Role'),
      h('th', { scope: 'col' }, 'Added'),
      h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
    h('tbody', null, rows))));
}
