// Small DOM and formatting helpers shared by every page.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an element: h('div', {class: 'x', onclick: fn}, child, 'text', [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2).toLowerCase(), v);
      } else if (k === 'class') {
        el.className = v;
      } else if (k === 'dataset') {
        Object.assign(el.dataset, v);
      } else if (k === 'value' || k === 'checked' || k === 'indeterminate') {
        el[k] = v;
      } else if (v === true) {
        el.setAttribute(k, '');
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** An icon from the sprite in /img/icons.svg. */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', ('icon ' + cls).trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', `/img/icons.svg#i-${name}`);
  svg.appendChild(use);
  return svg;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function mount(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// ---------- formatting ----------

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB"; powers of 1024, as the uplink CLI prints them. */
export function formatBytes(n) {
  n = Number(n) || 0;
  if (n < 1024) return `${n} B`;
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${n.toFixed(digits).replace(/\.?0+$/, '')} ${UNITS[i]}`;
}

export function formatNumber(n) {
  return new Intl.NumberFormat().format(Number(n) || 0);
}

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

/** Unix seconds -> "Nov 3, 2026". */
export function formatDate(unix) {
  if (unix === null || unix === undefined) return '—';
  return dateFmt.format(new Date(unix * 1000));
}

export function formatDateTime(unix) {
  if (unix === null || unix === undefined) return '—';
  return dateTimeFmt.format(new Date(unix * 1000));
}

/** Unix seconds -> "5 minutes ago" / "in 3 days". */
export function formatRelative(unix) {
  if (unix === null || unix === undefined) return '';
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const diff = unix - Date.now() / 1000;
  const abs = Math.abs(diff);
  const steps = [
    [60, 'second', 1], [3600, 'minute', 60], [86400, 'hour', 3600],
    [86400 * 30, 'day', 86400], [86400 * 365, 'month', 86400 * 30], [Infinity, 'year', 86400 * 365],
  ];
  for (const [limit, unit, size] of steps) {
    if (abs < limit) return rtf.format(Math.round(diff / size), unit);
  }
  return '';
}

/** A <time> element showing a date, with the exact time as its tooltip. */
export function timeEl(unix, withTime = false) {
  if (unix === null || unix === undefined) return h('span', { class: 'muted' }, '—');
  const d = new Date(unix * 1000);
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() },
    withTime ? formatDateTime(unix) : formatDate(unix));
}

export function monthLabel(month) {
  // "2026-11" -> "November 2026"
  const m = /^(\d{4})-(\d{2})$/.exec(month || '');
  if (!m) return month || '';
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  return new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(d);
}

export function initials(text) {
  const words = String(text || '?').trim().split(/[\s@._-]+/).filter(Boolean);
  const s = (words[0]?.[0] || '?') + (words.length > 1 ? words[1][0] : '');
  return s.toUpperCase();
}

const AVATAR_COLORS = ['#2563eb', '#7c3aed', '#0891b2', '#059669', '#d97706', '#db2777', '#4f46e5', '#0d9488'];
export function avatar(text, cls = '') {
  let hash = 0;
  for (const ch of String(text)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return h('span', { class: `avatar ${cls}`, style: `background:${AVATAR_COLORS[hash % AVATAR_COLORS.length]}`, 'aria-hidden': 'true' },
    initials(text));
}

// ---------- feedback ----------

export function spinner(label) {
  return h('span', { class: 'spinner', role: 'status', 'aria-label': label || 'Loading' });
}

export function loadingBlock(text = 'Loading…') {
  return h('div', { class: 'loading-block', 'data-testid': 'loading' }, spinner(), h('span', null, text));
}

export function alertBox(kind, content, extra = {}) {
  const ic = { error: 'warn', warning: 'warn', info: 'info', success: 'check' }[kind] || 'info';
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status', ...extra },
    icon(ic), h('div', { class: 'alert-body' }, content));
}

/** An error region that stays empty until set: setError(el, message). */
export function errorRegion(id) {
  return h('div', { class: 'alert alert-error', role: 'alert', id, hidden: true });
}

export function setError(region, message) {
  clear(region);
  if (!message) {
    region.hidden = true;
    return;
  }
  region.hidden = false;
  region.append(icon('warn'), h('div', { class: 'alert-body' }, message));
}

export function toast(message, kind = 'success') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast ${kind}` }, icon(kind === 'error' ? 'warn' : 'check'), h('span', null, message));
  box.appendChild(t);
  setTimeout(() => t.remove(), 3500);
}

/** Puts a button in its busy state while `fn` runs. */
export async function busy(button, fn, busyText) {
  const original = Array.from(button.childNodes);
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  clear(button);
  button.append(spinner(), busyText || '');
  // Let the busy state paint before work that may hold the main thread (key derivation).
  await new Promise((r) => setTimeout(r, 30));
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    clear(button);
    button.append(...original);
  }
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API needs a secure context; fall back to a hidden textarea.
    const ta = h('textarea', { style: 'position:fixed;opacity:0;top:0;left:0' });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

/** A copy button for whatever `get()` returns. */
export function copyButton(get, { label = 'Copy', id, cls = 'btn btn-sm', iconOnly = false } = {}) {
  const text = h('span', { class: iconOnly ? 'sr-only' : '' }, label);
  const btn = h('button', { type: 'button', class: cls, id, 'aria-label': iconOnly ? label : undefined },
    icon('copy', 'icon-sm'), text);
  btn.addEventListener('click', async () => {
    const ok = await copyText(get());
    text.textContent = ok ? 'Copied' : 'Copy failed';
    toast(ok ? 'Copied to the clipboard' : 'Could not copy: select the text and copy it by hand', ok ? 'success' : 'error');
    setTimeout(() => { text.textContent = label; }, 1800);
  });
  return btn;
}

// ---------- modals ----------

let openModals = 0;

/**
 * Shows a modal dialog. `build(close)` returns the dialog's content nodes.
 * Resolves with what `close(value)` was called with (undefined for Escape/backdrop).
 */
export function modal(build, { wide = false, labelledBy, testid, dismissable = true } = {}) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    let done = false;
    const backdrop = h('div', { class: 'modal-backdrop' });
    const dialog = h('div', {
      class: `modal ${wide ? 'wide' : ''}`, role: 'dialog', 'aria-modal': 'true',
      'aria-labelledby': labelledBy, 'data-testid': testid,
    });
    const close = (value) => {
      if (done) return;
      done = true;
      openModals--;
      document.removeEventListener('keydown', onKey, true);
      backdrop.remove();
      if (previous && previous.focus && document.contains(previous)) previous.focus();
      resolve(value);
    };
    const onKey = (e) => {
      if (e.key === 'Escape' && dismissable && !dialog.querySelector('[aria-busy="true"]')) {
        e.preventDefault();
        close(undefined);
      } else if (e.key === 'Tab') {
        const f = Array.from(dialog.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])'))
          .filter((x) => !x.disabled && x.offsetParent !== null);
        if (!f.length) return;
        const first = f[0];
        const last = f[f.length - 1];
        if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
        else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
      }
    };
    append(dialog, [build(close)]);
    backdrop.appendChild(dialog);
    backdrop.addEventListener('mousedown', (e) => {
      if (e.target === backdrop && dismissable && !dialog.querySelector('[aria-busy="true"]')) close(undefined);
    });
    document.addEventListener('keydown', onKey, true);
    document.body.appendChild(backdrop);
    openModals++;
    const autofocus = dialog.querySelector('[autofocus]') || dialog.querySelector('input, textarea, select')
      || dialog.querySelector('.modal-foot .btn-primary, .modal-foot .btn-danger, .modal-foot .btn');
    if (autofocus) setTimeout(() => autofocus.focus(), 0);
  });
}

export function closeAllModals() {
  document.querySelectorAll('.modal-backdrop').forEach((m) => m.remove());
  openModals = 0;
}

/**
 * A confirmation dialog for destructive actions. `action` runs when confirmed; its
 * error (an ApiError) is shown in the dialog, which stays open. Resolves true if done.
 */
export function confirmDialog({ title, body, confirmLabel = 'Delete', danger = true, action, typeToConfirm }) {
  return modal((close) => {
    const err = errorRegion('confirm-error');
    const typed = typeToConfirm
      ? h('input', { class: 'input', id: 'confirm-type', autocomplete: 'off', spellcheck: 'false' })
      : null;
    const ok = h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, id: 'confirm-ok', 'data-testid': 'confirm-ok' }, confirmLabel);
    if (typed) {
      ok.disabled = true;
      typed.addEventListener('input', () => { ok.disabled = typed.value !== typeToConfirm; });
    }
    const form = h('form', {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        if (typed && typed.value !== typeToConfirm) return;
        setError(err, '');
        try {
          await busy(ok, async () => { if (action) await action(); }, confirmLabel);
          close(true);
        } catch (e2) {
          setError(err, e2.message || String(e2));
        }
      },
    },
    h('div', { class: 'modal-head' },
      danger ? h('div', { class: 'danger-icon' }, icon(danger ? 'trash' : 'info')) : null,
      h('h2', { id: 'confirm-title' }, title)),
    h('div', { class: 'modal-body' },
      err,
      typeof body === 'string' ? h('p', { class: 'muted' }, body) : body,
      typed ? h('div', { class: 'field' },
        h('label', { for: 'confirm-type' }, 'Type ', h('strong', null, typeToConfirm), ' to confirm'),
        typed) : null),
    h('div', { class: 'modal-foot' },
      h('button', { type: 'button', class: 'btn', id: 'confirm-cancel', onclick: () => close(false) }, 'Cancel'),
      ok));
    return form;
  }, { labelledBy: 'confirm-title', testid: 'confirm-dialog' });
}

// ---------- forms ----------

let fieldSeq = 0;

/**
 * A labelled input with an error line. Returns {el, input, error, setError}.
 * opts: {id, label, type, name, placeholder, autocomplete, hint, optional, value, textarea, attrs}
 */
export function field(opts) {
  const id = opts.id || `f${++fieldSeq}`;
  const errId = `${id}-error`;
  const hintId = opts.hint ? `${id}-hint` : undefined;
  const attrs = {
    id, name: opts.name || id, class: opts.textarea ? 'textarea' : 'input',
    type: opts.textarea ? undefined : (opts.type || 'text'),
    placeholder: opts.placeholder, autocomplete: opts.autocomplete,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    required: opts.optional ? undefined : true,
    ...(opts.attrs || {}),
  };
  const input = h(opts.textarea ? 'textarea' : 'input', attrs);
  if (opts.value !== undefined) input.value = opts.value;
  const error = h('div', { class: 'field-error', id: errId, 'data-testid': errId });
  const el = h('div', { class: 'field' },
    h('label', { for: id }, opts.label, opts.optional ? h('span', { class: 'optional' }, ' (optional)') : null),
    input,
    opts.hint ? h('div', { class: 'hint', id: hintId }, opts.hint) : null,
    error);
  const setErr = (msg) => {
    error.textContent = msg || '';
    if (msg) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  input.addEventListener('input', () => {
    if (input.getAttribute('aria-invalid')) setErr('');
  });
  return { el, input, error, setError: setErr };
}

/**
 * Runs validators [[field, () => message|null], ...]; shows each message under its
 * field, focuses the first invalid one, returns true when all pass.
 */
export function validate(rules) {
  let first = null;
  const failed = new Set();
  for (const [f, check] of rules) {
    if (failed.has(f)) continue; // the first failing rule of a field is the one shown
    const msg = check(f.input.value);
    f.setError(msg || '');
    if (msg) {
      failed.add(f);
      if (!first) first = f;
    }
  }
  if (first) first.input.focus();
  return !first;
}

export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const rules = {
  required: (what) => (v) => (v.trim() ? null : `${what} is required.`),
  email: (v) => {
    if (!v.trim()) return 'Email is required.';
    return EMAIL_RE.test(v.trim()) ? null : 'Enter an email address like name@example.com.';
  },
  password: (v) => {
    if (!v) return 'Password is required.';
    return v.length >= 8 ? null : 'Password must be at least 8 characters.';
  },
  matches: (other, msg = 'Passwords do not match.') => (v) => (v === other.input.value ? null : msg),
  maxLength: (n, what) => (v) => (v.trim().length <= n ? null : `${what} must be at most ${n} characters.`),
};

// ---------- tables ----------

/** "Showing 1–20 of 45" and Previous/Next, for APIs paged by page number. */
export function pager({ page, limit, total, onPage, testid = 'pager' }) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const from = total === 0 ? 0 : (page - 1) * limit + 1;
  const to = Math.min(total, page * limit);
  return h('div', { class: 'pager', 'data-testid': testid },
    h('span', null, total === 0 ? 'No items' : `Showing ${from}–${to} of ${formatNumber(total)}`),
    h('div', { class: 'btns' },
      h('button', { type: 'button', class: 'btn btn-sm', disabled: page <= 1, 'data-testid': `${testid}-prev`, onclick: () => onPage(page - 1) }, 'Previous'),
      h('span', { class: 'muted small', style: 'align-self:center' }, `Page ${page} of ${pages}`),
      h('button', { type: 'button', class: 'btn btn-sm', disabled: page >= pages, 'data-testid': `${testid}-next`, onclick: () => onPage(page + 1) }, 'Next')));
}

export function emptyState({ iconName = 'info', title, text, action, testid }) {
  return h('div', { class: 'empty', 'data-testid': testid },
    h('div', { class: 'empty-icon' }, icon(iconName)),
    h('h3', null, title),
    text ? h('p', null, text) : null,
    action || null);
}

/** A usage meter: label, value, "of limit", and a bar that turns amber then red. */
export function usageBar(used, limit) {
  const pct = limit > 0 ? Math.min(100, (used / limit) * 100) : 0;
  const cls = pct >= 100 ? 'bar full' : pct >= 80 ? 'bar warn' : 'bar';
  return h('div', {
    class: cls, role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
    'aria-valuenow': String(Math.round(pct)),
  }, h('span', { style: `width:${used > 0 ? Math.max(pct, 1.5) : 0}%` }));
}

/** Decodes standard base64 into bytes. */
export function base64ToBytes(b64) {
  const bin = atob(b64 || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
