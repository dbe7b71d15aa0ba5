// Small DOM helpers shared by the views.
import { t } from './i18n.js';

export const $ = (sel, root = document) => root.querySelector(sel);

// h builds an element; attributes become properties where the DOM has them, so no markup
// string is ever parsed and no user text can become HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// announce speaks a status line to screen readers and shows it briefly as a toast.
export function announce(message, kind = 'info') {
  const status = $('#status');
  status.textContent = '';
  requestAnimationFrame(() => { status.textContent = message; });
  const toast = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : undefined }, message);
  const box = $('#toasts');
  box.append(toast);
  // A burst of actions must not bury the page: keep only the newest few.
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => toast.remove(), kind === 'error' ? 7000 : 3500);
}

export function showError(form, err) {
  const p = form.querySelector('[data-error]');
  if (!p) return announce(err.message, 'error');
  p.textContent = err ? err.message : '';
  p.hidden = !err;
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  for (const f of err?.fields || []) {
    const input = form.elements[f.field];
    if (input?.setAttribute) input.setAttribute('aria-invalid', 'true');
  }
}

const confirmDlg = () => $('#confirm');

// confirm asks a yes/no question in our own dialog (window.confirm cannot be styled or
// translated consistently).
export function confirm(text, okLabel) {
  const dlg = confirmDlg();
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel || t('confirmDelete');
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    $('#confirm-ok').focus();
  });
}

export function bytes(n) {
  if (!n && n !== 0) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function duration(ms) {
  if (!(ms >= 0)) return '';
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  return m ? `${m}:${String(s % 60).padStart(2, '0')}` : `${s}s`;
}

export function usd(v) {
  if (typeof v !== 'number') return '';
  return `$${v.toFixed(v < 1 ? 3 : 2).replace(/0$/, '')}`;
}

export function ts(s) { return s ? Date.parse(s) : NaN; }
