// What is left to spend, shown on the Create page before Generate: the smallest of the
// limits that apply to the user (GET /users/usage), refreshed after each submission and
// whenever a generation's books may have moved (queued, released, booked).
import * as api from './api.js';
import { t, onLanguage } from './i18n.js';
import { $, usd, announce, showError } from './ui.js';
import { subscribe } from './store.js';

let usage = null;
let timer = 0;

// refresh reads the usage again; a failure keeps what is shown (it is only a hint).
export async function refresh() {
  try {
    usage = await api.request('/users/usage');
  } catch {
    return;
  }
  render();
  fillSelf();
}

const selfFields = ['day_usd', 'month_usd', 'day_images', 'month_images'];

// fillSelf shows the user's own limits in their form (Settings), unless it is being edited.
function fillSelf() {
  const f = $('#self-form');
  if (!f || !usage || f.contains(document.activeElement)) return;
  for (const k of selfFields) {
    const v = usage.self_limits?.[k];
    f.elements[k].value = typeof v === 'number' ? String(v) : '';
  }
}

async function saveSelf(e) {
  e.preventDefault();
  const f = e.target;
  showError(f, null);
  const body = {};
  for (const k of selfFields) {
    const v = f.elements[k].value.trim();
    body[k] = v === '' ? null : Number(v);
  }
  try {
    usage = await api.put('/users/limits', body);
    render();
    announce(t('limitsSaved'));
  } catch (err) {
    showError(f, err);
  }
}

export function clear() {
  usage = null;
  render();
}

function when(iso) {
  return new Date(iso).toLocaleString(document.documentElement.lang, { dateStyle: 'medium', timeStyle: 'short' });
}

function part(money, images) {
  const bits = [];
  if (typeof money === 'number') bits.push(usd(money));
  if (typeof images === 'number') bits.push(t('leftImages', images));
  return bits.join(' · ');
}

function render() {
  const el = $('#left');
  if (!el) return;
  const l = usage?.left;
  const lines = [];
  if (l) {
    const day = part(l.day_usd, l.day_images);
    const month = part(l.month_usd, l.month_images);
    if (day) lines.push(`${t('leftToday')}: ${day}`);
    if (month && month !== day) lines.push(`${t('leftMonth')}: ${month}`);
    const out = l.day_usd === 0 || l.day_images === 0 ? usage.day_resets_at
      : l.month_usd === 0 || l.month_images === 0 ? usage.month_resets_at : '';
    if (out) lines.push(t('leftResets', when(out)));
    if (usage.shared_cap_reached && usage.paid_by === 'shared') lines.push(t('sharedCapReached', when(usage.month_resets_at)));
  }
  el.hidden = !lines.length;
  el.textContent = lines.join(' — ');
  el.classList.toggle('spent', !!l && (l.day_usd === 0 || l.day_images === 0 || l.month_usd === 0 || l.month_images === 0));
}

export function init() {
  // A generation that is queued, ends or is removed may change what is left.
  subscribe((g, prev) => {
    if (!usage || (g && prev && g.status === prev.status && g.booked_usd === prev.booked_usd)) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  onLanguage(render);
  $('#self-form')?.addEventListener('submit', saveSelf);
}
