// Account settings: profile and password.

import { api, setToken } from '../api.js';
import { state } from '../app.js';
import { h, mount, avatar, field, validate, rules, busy, errorRegion, setError, toast, timeEl, alertBox } from '../ui.js';

export function render({ content }) {
  const user = state.user;
  const current = field({ id: 'password-current', label: 'Current password', type: 'password', autocomplete: 'current-password' });
  const next = field({ id: 'password-new', label: 'New password', type: 'password', autocomplete: 'new-password', hint: 'At least 8 characters.' });
  const confirm = field({ id: 'password-confirm', label: 'Confirm new password', type: 'password', autocomplete: 'new-password' });
  const err = errorRegion('password-error');
  const done = h('div', { id: 'password-done' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'password-submit', 'data-testid': 'password-submit' }, 'Change password');

  const form = h('form', {
    class: 'card', id: 'password-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      setError(err, '');
      mount(done);
      const ok = validate([
        [current, (v) => (v ? null : 'Enter your current password.')],
        [next, (v) => rules.password(v) || (v === current.input.value ? 'Choose a password different from the current one.' : null)],
        [confirm, (v) => (v ? rules.matches(next)(v) : 'Confirm the new password.')],
      ]);
      if (!ok) return;
      try {
        const res = await busy(submit, () => api.changePassword(current.input.value, next.input.value), 'Changing…');
        if (res?.token) setToken(res.token);
        if (res?.user) state.user = res.user;
        for (const f of [current, next, confirm]) f.input.value = '';
        mount(done, alertBox('success', 'Password changed. You were logged out everywhere else.'));
        toast('Password changed');
      } catch (e2) {
        if (e2.status === 401 || e2.code === 'permission_denied' || /current/i.test(e2.message)) {
          current.setError(e2.message);
          current.input.focus();
        } else {
          setError(err, e2.message);
        }
      }
    },
  },
  h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'Password'), h('p', null, 'Changing it logs you out of every other browser.'))),
  h('div', { class: 'card-body' },
    done, err,
    // A hidden username helps password managers file the new password correctly.
    h('input', { type: 'email', autocomplete: 'username', value: user.email, hidden: true, readonly: true, 'aria-hidden': 'true', tabindex: '-1' }),
    current.el, next.el, confirm.el),
  h('div', { class: 'card-foot' }, h('span'), submit));

  mount(content,
    h('div', { class: 'page-head' }, h('div', null, h('h1', { id: 'page-title' }, 'Account settings'),
      h('p', null, 'Your login to this console. Your encryption passphrases are separate and are never stored here.'))),
    h('div', { class: 'narrow' },
      h('section', { class: 'card' },
        h('div', { class: 'card-head' }, h('h2', null, 'Profile')),
        h('div', { class: 'card-body', style: 'display:flex;gap:18px;align-items:flex-start' },
          avatar(user.full_name || user.email, 'round'),
          h('dl', { class: 'kv', style: 'flex:1' },
            h('dt', null, 'Name'), h('dd', { id: 'account-name' }, user.full_name || '—'),
            h('dt', null, 'Email'), h('dd', { id: 'account-email' }, user.email),
            h('dt', null, 'Member since'), h('dd', null, timeEl(user.created_at)),
            h('dt', null, 'User ID'), h('dd', null, h('code', null, user.id))))),
      form));
}
