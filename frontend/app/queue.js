// The queue: pending and running generations, live from the event stream, plus the ones
// that failed while this page watched (with their error sentence and a retry button).
import * as api from './api.js';
import { t, onLanguage, failureSentence } from './i18n.js';
import { $, h, announce, duration, ts } from './ui.js';
import { gens, subscribe, ACTIVE, drop } from './store.js';

const watchedFailures = new Set();
let ticker = 0;

function shown() {
  return [...gens.values()]
    .filter((g) => ACTIVE.has(g.status) || (watchedFailures.has(g.id) && (g.status === 'failed' || g.status === 'canceled')))
    .sort((a, b) => (ts(a.created_at) || 0) - (ts(b.created_at) || 0));
}

function elapsedOf(g) {
  const start = ts(g.started_at) || ts(g.created_at);
  return start ? duration(Date.now() - start) : '';
}

async function act(fn, okMsg) {
  try {
    await fn();
    if (okMsg) announce(okMsg);
  } catch (err) {
    announce(err.message, 'error');
  }
}

function item(g) {
  const failed = g.status === 'failed' || g.status === 'canceled';
  const info = [];
  if (g.status === 'pending' && g.queue_position) info.push(t('position', g.queue_position));
  if (!failed) info.push(h('span', { class: 'elapsed', dataset: { id: g.id } }, elapsedOf(g)));
  return h('li', { class: `qitem st-${g.status}`, dataset: { id: g.id } },
    h('div', { class: 'qmain' },
      h('span', { class: `badge st-${g.status}` }, t(`st_${g.status}`)),
      h('p', { class: 'qprompt' }, g.prompt || ''),
      h('p', { class: 'qinfo small muted' }, ...info.flatMap((x, i) => (i ? [' · ', x] : [x]))),
      // A running generation may say why it waits (storage full: its image is kept until
      // there is room); a failed one why it failed.
      g.error && failed ? h('p', { class: 'error qerror' }, failureSentence(g)) : null,
      g.error && !failed ? h('p', { class: 'small qwait' }, failureSentence(g)) : null),
    h('div', { class: 'qactions' },
      failed
        ? [h('button', { type: 'button', class: 'secondary', onclick: () => act(async () => {
            await api.post(`/images/retry/${g.id}`);
            watchedFailures.delete(g.id);
          }, t('retried')) }, t('retry')),
          h('button', { type: 'button', class: 'link', onclick: () => { watchedFailures.delete(g.id); render(); } }, t('dismiss'))]
        : h('button', { type: 'button', class: 'secondary', onclick: () => act(() => api.post(`/images/cancel/${g.id}`), t('canceled')) }, t('cancel'))));
}

export function render() {
  const list = shown();
  $('#queue-list').replaceChildren(...list.map(item));
  $('#queue-empty').hidden = list.length > 0;
  clearInterval(ticker);
  // The clock only redraws elapsed times; it never asks the server anything.
  if (list.some((g) => ACTIVE.has(g.status))) {
    ticker = setInterval(() => {
      for (const el of document.querySelectorAll('#queue-list .elapsed')) {
        const g = gens.get(el.dataset.id);
        if (g) el.textContent = elapsedOf(g);
      }
    }, 1000);
  }
}

// catchUp loads what is queued now; it runs whenever the stream (re)connects, so a gap
// while disconnected cannot leave a stale row behind.
export async function catchUp(upsertAll) {
  const seen = new Set();
  for (const status of ['pending', 'running']) {
    try {
      const page = await api.get(`/images/list?status=${status}&limit=100`);
      for (const g of page.items || []) seen.add(upsertAll(g).id);
    } catch { return; }
  }
  for (const g of [...gens.values()]) {
    if (ACTIVE.has(g.status) && !seen.has(g.id)) {
      try { upsertAll(await api.get(`/images/status/${g.id}`)); } catch (err) { if (err.status === 404) drop(g.id); }
    }
  }
}

function notify(g) {
  if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
  const n = new Notification(g.status === 'completed' ? t('doneTitle') : t('failedTitle'), {
    body: g.status === 'completed' ? g.prompt : failureSentence(g) || g.prompt,
    icon: g.thumbnail_url || '/favicon.svg',
    tag: g.id,
  });
  n.onclick = () => { window.focus(); n.close(); };
}

function renderNotifyButton() {
  const btn = $('#notify-btn');
  if (!('Notification' in window)) { btn.hidden = true; return; }
  btn.textContent = Notification.permission === 'granted' ? t('notifyOn') : t('notifyMe');
  btn.disabled = Notification.permission !== 'default';
  if (Notification.permission === 'denied') btn.title = t('notifyDenied');
}

export function init() {
  subscribe((g, prev) => {
    if (g && prev && ACTIVE.has(prev.status) && !ACTIVE.has(g.status)) {
      if (g.status === 'failed') {
        watchedFailures.add(g.id);
        announce(failureSentence(g) || t('st_failed'), 'error');
      }
      if (g.status === 'completed' || g.status === 'failed') notify(g);
    }
    render();
  });
  // Permission is asked only from this click, never on page load.
  $('#notify-btn').addEventListener('click', async () => {
    await Notification.requestPermission();
    renderNotifyButton();
  });
  renderNotifyButton();
  onLanguage(() => { render(); renderNotifyButton(); });
  render();
}

export function reset() { watchedFailures.clear(); render(); }
