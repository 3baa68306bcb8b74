// The console's entry point: session state, hash routing and the page shell.

import { api, onUnauthenticated, setToken } from './api.js';
import { h, icon, mount, avatar, clear, loadingBlock, alertBox, closeAllModals, toast } from './ui.js';
import { forgetAll } from './secrets.js';

import * as authPages from './pages/auth.js';
import * as dashboard from './pages/dashboard.js';
import * as buckets from './pages/buckets.js';
import * as objects from './pages/objects.js';
import * as access from './pages/access.js';
import * as grant from './pages/grant.js';
import * as members from './pages/members.js';
import * as projectPages from './pages/project.js';
import * as account from './pages/account.js';
import * as nodes from './pages/nodes.js';
import * as repair from './pages/repair.js';

export const state = {
  config: null,
  user: null,
  projects: [],
  flash: null, // message for the login page
  returnTo: null, // route to go back to after logging in
};

const LAST_PROJECT = 'console.lastProject';

// ---------- navigation ----------

export function navigate(path, { replace = false } = {}) {
  const target = '#' + path;
  if (location.hash === target) {
    route();
  } else if (replace) {
    history.replaceState(null, '', target);
    route();
  } else {
    location.hash = target;
  }
}

export function link(path) {
  return '#' + path;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(qs || '') };
}

const routes = [
  { re: /^\/login$/, page: authPages.login, auth: false },
  { re: /^\/signup$/, page: authPages.signup, auth: false },
  { re: /^\/$/, page: home },
  { re: /^\/projects\/new$/, page: projectPages.create, title: 'New project' },
  { re: /^\/account$/, page: account.render, title: 'Account settings', nav: 'account' },
  { re: /^\/admin\/nodes$/, page: nodes.render, title: 'Nodes', nav: 'admin-nodes' },
  { re: /^\/admin\/repair$/, page: repair.render, title: 'Repair', nav: 'admin-repair' },
  { re: /^\/projects\/([^/]+)$/, page: dashboard.render, project: true, title: 'Dashboard', nav: 'dashboard' },
  { re: /^\/projects\/([^/]+)\/buckets$/, page: buckets.render, project: true, title: 'Buckets', nav: 'buckets' },
  { re: /^\/projects\/([^/]+)\/buckets\/([^/]+)$/, page: objects.render, project: true, title: 'Buckets', nav: 'buckets' },
  { re: /^\/projects\/([^/]+)\/(?:access|keys)$/, page: access.render, project: true, title: 'Access', nav: 'access' },
  { re: /^\/projects\/([^/]+)\/(?:access|keys)\/(?:new|grant)$/, page: grant.render, project: true, title: 'New access grant', nav: 'access' },
  { re: /^\/projects\/([^/]+)\/members$/, page: members.render, project: true, title: 'Members', nav: 'members' },
  { re: /^\/projects\/([^/]+)\/settings$/, page: projectPages.settings, project: true, title: 'Project settings', nav: 'settings' },
];

let generation = 0;
let cleanup = null;

async function route() {
  const gen = ++generation;
  closeAllModals();
  if (cleanup) {
    try { cleanup(); } catch { /* a page's cleanup must not stop navigation */ }
    cleanup = null;
  }
  const { path, query } = parseHash();
  const match = routes.map((r) => ({ r, m: r.re.exec(path) })).find((x) => x.m);
  if (!match) {
    navigate('/', { replace: true });
    return;
  }
  const { r, m } = match;
  const app = document.getElementById('app');

  if (r.auth === false) {
    if (state.user) {
      navigate('/', { replace: true });
      return;
    }
    document.title = (r.re.source.includes('signup') ? 'Create account' : 'Log in') + ' · Satellite Console';
    const c = r.page({ app, query, alive: () => gen === generation });
    if (typeof c === 'function') cleanup = c;
    return;
  }
  if (!state.user) {
    state.returnTo = path + (query.toString() ? '?' + query : '');
    navigate('/login', { replace: true });
    return;
  }

  let project = null;
  if (r.project) {
    const id = decodeURIComponent(m[1]);
    project = state.projects.find((p) => p.id === id);
    if (!project) {
      await reloadProjects().catch(() => {});
      if (gen !== generation) return;
      project = state.projects.find((p) => p.id === id);
    }
    if (project) localStorage.setItem(LAST_PROJECT, project.id);
  }

  // Pages outside a project still show the last project's navigation.
  const navProject = project || (r.project ? null
    : state.projects.find((p) => p.id === localStorage.getItem(LAST_PROJECT)) || state.projects[0] || null);
  const content = renderShell({ project: navProject, nav: r.nav, title: r.title, inProject: !!project });
  document.title = [r.title, project?.name, 'Satellite Console'].filter(Boolean).join(' · ');
  if (r.project && !project) {
    mount(content, h('div', { class: 'card narrow' }, h('div', { class: 'card-body' },
      alertBox('error', 'This project does not exist, or you are not a member of it.'),
      h('a', { class: 'btn', href: link('/') }, 'Go to your projects'))));
    return;
  }
  const ctx = {
    app, content, project, query, path,
    params: m.slice(r.project ? 2 : 1).map((x) => decodeURIComponent(x)),
    alive: () => gen === generation,
    rerender: () => route(),
    setCrumb,
  };
  try {
    const c = await r.page(ctx);
    if (typeof c === 'function') {
      if (gen === generation) cleanup = c;
      else c();
    }
  } catch (e) {
    if (gen !== generation || e?.status === 401) return;
    mount(content, alertBox('error', e?.message || String(e)));
  }
}

async function home() {
  const last = localStorage.getItem(LAST_PROJECT);
  const p = state.projects.find((x) => x.id === last) || state.projects[0];
  if (p) navigate(`/projects/${encodeURIComponent(p.id)}`, { replace: true });
  else navigate('/projects/new', { replace: true });
}

export async function reloadProjects() {
  const { projects } = await api.projects();
  state.projects = projects || [];
  return state.projects;
}

export function setProject(updated) {
  const i = state.projects.findIndex((p) => p.id === updated.id);
  if (i >= 0) state.projects[i] = { ...state.projects[i], ...updated };
  else state.projects.push(updated);
}

// ---------- shell ----------

let crumbEl = null;

function setCrumb(...parts) {
  if (!crumbEl) return;
  mount(crumbEl, ...parts.flatMap((p, i) => [
    i ? h('span', { 'aria-hidden': 'true' }, '/') : null,
    i === parts.length - 1 ? h('strong', null, p) : h('span', null, p),
  ]));
}

function renderShell({ project, nav, title, inProject }) {
  const app = document.getElementById('app');
  const pid = project ? encodeURIComponent(project.id) : null;
  const navLink = (key, href, iconName, label) => h('a', {
    href: link(href), id: `nav-${key}`, 'data-testid': `nav-${key}`,
    'aria-current': nav === key ? 'page' : undefined,
  }, icon(iconName), label);

  const shell = h('div', { class: 'shell' });
  const sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Main navigation' },
    h('a', { class: 'brand', href: link('/') }, h('img', { src: '/img/logo-mark.svg', alt: '' }), 'Satellite Console'),
    projectSwitcher(project),
    project ? h('nav', { class: 'nav', 'aria-label': 'Project' },
      h('div', { class: 'nav-label' }, 'Project'),
      navLink('dashboard', `/projects/${pid}`, 'dashboard', 'Dashboard'),
      navLink('buckets', `/projects/${pid}/buckets`, 'bucket', 'Buckets'),
      navLink('access', `/projects/${pid}/access`, 'key', 'Access'),
      navLink('members', `/projects/${pid}/members`, 'users', 'Members'),
      navLink('settings', `/projects/${pid}/settings`, 'settings', 'Project settings'),
    ) : null,
    state.user.admin ? h('nav', { class: 'nav', 'aria-label': 'Network' },
      h('div', { class: 'nav-label' }, 'Network'),
      navLink('admin-nodes', '/admin/nodes', 'server', 'Nodes'),
      navLink('admin-repair', '/admin/repair', 'repair', 'Repair'),
    ) : null,
    h('nav', { class: 'nav', 'aria-label': 'Account' },
      h('div', { class: 'nav-label' }, 'Account'),
      navLink('account', '/account', 'user', 'Account settings')),
    h('div', { class: 'sidebar-foot' },
      h('div', { class: 'user-chip' },
        avatar(state.user.full_name || state.user.email, 'round'),
        h('div', { class: 'meta' },
          h('span', { id: 'user-name' }, state.user.full_name || state.user.email),
          h('small', { id: 'user-email' }, state.user.email)),
        h('button', { type: 'button', class: 'btn btn-ghost btn-icon', id: 'logout', 'data-testid': 'logout', title: 'Log out', onclick: logout },
          icon('logout'), h('span', { class: 'sr-only' }, 'Log out')))));

  crumbEl = h('div', { class: 'crumbs', id: 'crumbs' });
  const main = h('div', { class: 'main' },
    h('header', { class: 'topbar' },
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-icon menu-toggle', 'aria-label': 'Open navigation',
        onclick: () => shell.classList.toggle('nav-open'),
      }, icon('menu')),
      crumbEl,
      h('div', { class: 'spacer' })),
    h('main', { class: 'content', id: 'content', tabindex: '-1' }));
  main.addEventListener('click', (e) => {
    if (shell.classList.contains('nav-open') && !e.target.closest('.menu-toggle')) shell.classList.remove('nav-open');
  });
  shell.append(sidebar, main);
  mount(app, shell);
  if (project && inProject) setCrumb(project.name, title);
  else setCrumb(title || '');
  const content = main.querySelector('#content');
  mount(content, loadingBlock());
  return content;
}

function projectSwitcher(current) {
  const menu = h('div', { class: 'switcher-menu', id: 'project-menu', role: 'menu', hidden: true });
  const btn = h('button', {
    type: 'button', class: 'switcher-btn', id: 'project-switcher', 'data-testid': 'project-switcher',
    'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': 'project-menu',
  },
  avatar(current ? current.name : '+'),
  h('div', { class: 'meta' }, h('small', null, 'Project'), h('span', { id: 'current-project-name' }, current ? current.name : 'Choose a project')),
  icon('chevron', 'icon-sm'));

  const close = () => {
    menu.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', outside, true);
  };
  const outside = (e) => {
    if (!menu.contains(e.target) && !btn.contains(e.target)) close();
  };
  const open = () => {
    clear(menu);
    menu.append(h('div', { class: 'menu-label' }, 'Your projects'));
    for (const p of state.projects) {
      menu.append(h('a', {
        class: 'menu-item', role: 'menuitem', href: link(`/projects/${encodeURIComponent(p.id)}`),
        'data-testid': 'project-option', onclick: close,
      }, avatar(p.name), h('span', { class: 'name' }, p.name),
      p.role === 'owner' ? null : h('span', { class: 'badge' }, 'member'),
      current && p.id === current.id ? icon('check', 'icon-sm') : null));
    }
    if (!state.projects.length) menu.append(h('div', { class: 'menu-item muted' }, 'No projects yet'));
    menu.append(h('div', { class: 'menu-sep' }),
      h('a', { class: 'menu-item', role: 'menuitem', href: link('/projects/new'), id: 'new-project-link', onclick: close },
        icon('plus'), h('span', { class: 'name' }, 'New project')));
    menu.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    document.addEventListener('mousedown', outside, true);
    menu.querySelector('.menu-item')?.focus();
  };
  btn.addEventListener('click', () => (menu.hidden ? open() : close()));
  menu.addEventListener('keydown', (e) => {
    const items = Array.from(menu.querySelectorAll('a.menu-item'));
    const i = items.indexOf(document.activeElement);
    if (e.key === 'Escape') { close(); btn.focus(); }
    else if (e.key === 'ArrowDown') { e.preventDefault(); items[(i + 1) % items.length]?.focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); items[(i - 1 + items.length) % items.length]?.focus(); }
  });
  return h('div', { class: 'switcher' }, btn, menu);
}

// ---------- session ----------

export async function loggedIn(result) {
  setToken(result.token);
  state.user = result.user;
  state.flash = null;
  await reloadProjects();
  const to = state.returnTo;
  state.returnTo = null;
  navigate(to && to !== '/login' && to !== '/signup' ? to : '/', { replace: true });
}

function endSession(message) {
  setToken(null);
  forgetAll();
  state.user = null;
  state.projects = [];
  state.flash = message || null;
  closeAllModals();
}

async function logout() {
  try {
    await api.logout();
  } catch {
    // Logging out locally is what matters; the server session expires anyway.
  }
  endSession(null);
  toast('You are logged out');
  navigate('/login', { replace: true });
}

onUnauthenticated((message) => {
  if (!state.user) return;
  const { path, query } = parseHash();
  state.returnTo = path + (query.toString() ? '?' + query : '');
  endSession(message);
  navigate('/login', { replace: true });
});

async function boot() {
  const app = document.getElementById('app');
  try {
    state.config = await api.config();
  } catch (e) {
    mount(app, h('div', { class: 'auth-main', style: 'min-height:100vh' }, h('div', { class: 'auth-card' },
      alertBox('error', [h('strong', null, 'The console cannot reach the satellite. '), e.message]),
      h('button', { type: 'button', class: 'btn', onclick: () => location.reload() }, 'Try again'))));
    return;
  }
  try {
    const { user } = await api.me();
    state.user = user;
    await reloadProjects();
  } catch (e) {
    if (e.status !== 401) {
      state.flash = e.status ? null : e.message;
    }
    state.user = null;
  }
  window.addEventListener('hashchange', route);
  route();
}

boot();
