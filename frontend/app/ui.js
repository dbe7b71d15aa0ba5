// Small DOM helpers shared by the views.
import { t, errorText, fieldText, errorLeadsToSettings, money, size, clock } from './i18n.js';
import { codeField } from './messages.js';

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

// showError shows err in form: each refused field is marked (aria-invalid, a red border)
// with its sentence under it, tied to it by aria-describedby, and the first one takes the
// focus; the form's summary line (role=alert, so it is announced) says what to do. An
// error from the server words its fields by name (messages.js); one made by the page
// brings its own sentences. err null clears the form.
export function showError(form, err) {
  const p = form.querySelector('[data-error]');
  if (!p) { if (err) announce(err.message, 'error'); return; }
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.endsWith('-fielderr'));
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' ')); else input.removeAttribute('aria-describedby');
  }
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  p.replaceChildren();
  p.hidden = !err;
  p.classList.remove('visually-hidden');
  if (!err) return;
  p.setAttribute('role', 'alert');
  const placed = [];
  // A code about one field (username_taken) marks that field with the code's sentence.
  const own = !err.fields?.length && codeField[err.code];
  const fields = own ? [{ field: own, message: err.message }] : err.fields || [];
  for (const f of fields) {
    const input = form.elements[f.field];
    if (!input?.setAttribute || placed.some((x) => x.input === input)) continue; // radio groups, unknown fields
    const text = err.code && !own ? fieldText(f.field) || f.message : f.message || err.message;
    const id = `${form.id || 'form'}-${f.field}-fielderr`;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', [id, ...(input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)].join(' '));
    input.after(h('small', { class: 'field-error', id }, text));
    placed.push({ input, text });
  }
  // One refused field: its sentence is under it, and the summary only speaks it.
  if (placed.length === 1 && fields.length === 1) {
    p.textContent = placed[0].text;
    p.classList.add('visually-hidden');
  } else {
    p.textContent = placed.length ? errorText('invalid') : err.message;
  }
  if (err.code && errorLeadsToSettings(err.code)) {
    p.append(' ', h('a', { href: '/settings', dataset: { nav: 'settings' } }, t('openSettings')));
  }
  if (placed.length) placed[0].input.focus();
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
    // Enter must not destroy anything: the safe choice has the focus.
    $('#confirm button[value=cancel]').focus();
  });
}

// Sizes, clocks and money in the page's language (i18n.js formats them).
export const bytes = size;
export const duration = clock;
export const usd = money;

// priceOf is what a generation cost, worded: only a completed one was paid for, so a
// failed, canceled or refunded one shows no price.
export function priceOf(g) {
  if (!g || g.status !== 'completed') return '';
  const v = typeof g.cost_usd === 'number' ? g.cost_usd : g.price_usd;
  return typeof v === 'number' ? money(v) : '';
}

export function ts(s) { return s ? Date.parse(s) : NaN; }
