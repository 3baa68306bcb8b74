// Log in and sign up.

import { api } from '../api.js';
import { state, loggedIn, link } from '../app.js';
import { h, icon, mount, field, validate, rules, busy, errorRegion, setError, alertBox } from '../ui.js';

function layout(app, card) {
  mount(app, h('div', { class: 'auth' },
    h('section', { class: 'auth-aside', 'aria-hidden': 'true' },
      h('div', { class: 'brand' }, h('img', { src: '/img/logo-mark.svg', alt: '' }), 'Satellite Console'),
      h('div', null,
        h('h2', null, 'Private storage, spread across a network you do not have to trust.'),
        h('ul', null,
          h('li', null, icon('lock'), h('span', null, 'Files and their names are encrypted in your browser or CLI before they leave it. The satellite never sees them.')),
          h('li', null, icon('key'), h('span', null, 'Share exactly what you mean to: access grants limited to buckets, prefixes, operations and time.')),
          h('li', null, icon('bucket'), h('span', null, 'Every object is erasure coded over many independent storage nodes.')))),
      h('div', { class: 'foot' }, 'Your encryption passphrase is never sent to the satellite.')),
    h('main', { class: 'auth-main' }, card)));
}

export function login({ app }) {
  const email = field({ id: 'login-email', label: 'Email', type: 'email', autocomplete: 'username', placeholder: 'you@example.com', attrs: { autofocus: true } });
  const password = field({ id: 'login-password', label: 'Password', type: 'password', autocomplete: 'current-password' });
  const err = errorRegion('login-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'login-submit', 'data-testid': 'login-submit' }, 'Log in');
  const form = h('form', {
    id: 'login-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      setError(err, '');
      const ok = validate([
        [email, rules.email],
        [password, (v) => (v ? null : 'Password is required.')],
      ]);
      if (!ok) return;
      try {
        const result = await busy(submit, () => api.login(email.input.value.trim(), password.input.value), 'Logging in…');
        await loggedIn(result);
      } catch (e2) {
        setError(err, e2.message);
        password.input.select();
      }
    },
  }, err, email.el, password.el, submit);

  const flash = state.flash;
  state.flash = null;
  layout(app, h('div', { class: 'auth-card' },
    h('h1', null, 'Log in'),
    h('p', { class: 'sub' }, 'Welcome back. Log in to manage your projects.'),
    flash ? alertBox('info', flash, { id: 'session-message', 'data-testid': 'session-message' }) : null,
    form,
    state.config?.signup_enabled !== false
      ? h('p', { class: 'alt' }, 'New here? ', h('a', { href: link('/signup'), id: 'to-signup', 'data-testid': 'to-signup' }, 'Create an account'))
      : h('p', { class: 'alt' }, 'Accounts on this satellite are created by its operator.')));
}

export function signup({ app }) {
  if (state.config && state.config.signup_enabled === false) {
    layout(app, h('div', { class: 'auth-card' },
      h('h1', null, 'Sign up is closed'),
      alertBox('info', 'This satellite does not accept new accounts. Ask its operator for one.'),
      h('a', { class: 'btn', href: link('/login') }, 'Back to log in')));
    return;
  }
  const name = field({ id: 'signup-name', label: 'Full name', autocomplete: 'name', placeholder: 'Ada Lovelace', attrs: { autofocus: true, maxlength: '200' } });
  const email = field({ id: 'signup-email', label: 'Email', type: 'email', autocomplete: 'email', placeholder: 'you@example.com' });
  const password = field({ id: 'signup-password', label: 'Password', type: 'password', autocomplete: 'new-password', hint: 'At least 8 characters.' });
  const confirm = field({ id: 'signup-confirm', label: 'Confirm password', type: 'password', autocomplete: 'new-password' });
  const err = errorRegion('signup-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'signup-submit', 'data-testid': 'signup-submit' }, 'Create account');
  const form = h('form', {
    id: 'signup-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      setError(err, '');
      const ok = validate([
        [name, rules.required('Full name')],
        [email, rules.email],
        [password, rules.password],
        [confirm, (v) => (v ? rules.matches(password)(v) : 'Confirm your password.')],
      ]);
      if (!ok) return;
      try {
        const result = await busy(submit, () => api.signup(email.input.value.trim(), password.input.value, name.input.value.trim()), 'Creating account…');
        await loggedIn(result);
      } catch (e2) {
        if (e2.code === 'conflict') {
          email.setError(e2.message);
          email.input.focus();
        } else {
          setError(err, e2.message);
        }
      }
    },
  }, err, name.el, email.el, password.el, confirm.el, submit);

  layout(app, h('div', { class: 'auth-card' },
    h('h1', null, 'Create your account'),
    h('p', { class: 'sub' }, 'Start storing encrypted, distributed data in minutes.'),
    form,
    h('p', { class: 'alt' }, 'Already have an account? ', h('a', { href: link('/login'), id: 'to-login' }, 'Log in'))));
}
