// The queue and the results on the Create page: every generation this page saw queued
// or running stays in the list until dismissed, from queued to finished. A pending one
// shows its place among the user's own queued generations and a wait estimate; a
// running one its attempt, and why the one before failed while Replicate is retried; a
// finished one its image (which opens the viewer), its failure sentence with a Retry
// (or, for a safety failure, Edit prompt), or that it was canceled. Everything comes
// from the store, which the event stream keeps current; row(g) is a function of one
// generation and the moment.
import * as api from './api.js';
import { t, onLanguage, failureSentence } from './i18n.js';
import './results-i18n.js';
import { $, h, announce, duration, ts } from './ui.js';
import { gens, subscribe, ACTIVE, drop, upsert } from './store.js';
import { fillForEdit } from './generate.js';
import { openViewer } from './gallery.js';
import { decorateQueue } from './batches.js';

const watched = new Set(); // seen pending or running here, not dismissed
const MAX_FINISHED = 20; // finished rows kept in the list, newest first
let ticker = 0;
let meta = {};

function shown() {
  const list = [...gens.values()].filter((g) => ACTIVE.has(g.status) || watched.has(g.id));
  list.sort((a, b) => (ts(b.created_at) || 0) - (ts(a.created_at) || 0) || (b.id < a.id ? -1 : 1));
  let finished = 0;
  return list.filter((g) => ACTIVE.has(g.status) || ++finished <= MAX_FINISHED);
}

// queuedOrder is the user's waiting generations in the order they start: by the time
// their current run was queued (queued_at: the server moves it with a move to the front
// or back, and spaces a batch's by a millisecond each), then id. A paused queue's have
// no place.
function queuedOrder() {
  return [...gens.values()].filter((g) => g.status === 'pending' && !g.queue_paused)
    .sort((a, b) => (ts(a.queued_at || a.created_at) || 0) - (ts(b.queued_at || b.created_at) || 0) || (a.id < b.id ? -1 : 1));
}

// typicalRun is the median time a finished generation of this user took, from the
// ones this page knows; 0 when none.
function typicalRun() {
  const d = [...gens.values()].filter((g) => g.status === 'completed' && g.started_at && g.completed_at)
    .map((g) => ts(g.completed_at) - ts(g.started_at)).filter((x) => x > 0).sort((a, b) => a - b);
  return d.length ? d[Math.floor(d.length / 2)] : 0;
}

export function elapsedOf(g) {
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

// failureText is what a failed generation's row and viewer say, in the page's words by
// its code (i18n.js failureSentence: a safety failure says to edit the prompt, and a
// more relaxed filter only where there is one).
export function failureText(g) {
  return failureSentence(g) || t('st_failed');
}

// progress is the line under a pending or running generation's prompt.
function progress(g, order) {
  const info = [];
  if (g.status === 'pending' && !g.queue_paused) {
    const i = order.indexOf(g);
    if (i >= 0) {
      info.push(h('span', { class: 'qpos' }, t('ownPosition', i + 1, order.length)));
      const per = Math.max(1, meta.max_concurrent_generations || 1);
      const run = typicalRun();
      if (run) info.push(t('waitAbout', duration(Math.ceil((i + 1) / per) * run)));
    }
  }
  if (g.status === 'running' && g.attempt > 1) {
    info.push(h('span', { class: 'qattempt' }, t('attempt', g.attempt)));
    const at = ts(g.retry_at);
    if (at) info.push(h('span', { class: 'qretry', dataset: { at } }, retryWhen(at)));
  }
  info.push(h('span', { class: 'elapsed', dataset: { id: g.id } }, elapsedOf(g)));
  return info;
}

// waitingRetry: a running generation between attempts, its next one still to come.
function waitingRetry(g) { return g.status === 'running' && ts(g.retry_at) > Date.now(); }

function retryWhen(at) {
  const left = at - Date.now();
  return left > 500 ? t('retryIn', duration(left)) : t('retryingNow');
}

function button(label, cls, onclick, extra = {}) {
  return h('button', { type: 'button', class: cls, onclick, ...extra }, label);
}

function dismiss(g) { return button(t('dismiss'), 'link', () => { watched.delete(g.id); render(); }); }

// row renders one generation of the list.
export function row(g, order = queuedOrder()) {
  const active = ACTIVE.has(g.status);
  const done = g.status === 'completed' && g.thumbnail_url;
  const safety = g.status === 'failed' && g.error_code === 'safety_filter';
  const actions = [];
  if (active) {
    actions.push(button(t('cancel'), 'secondary', () => act(() => api.post(`/images/cancel/${g.id}`), t('canceled'))));
  } else if (safety) {
    actions.push(button(t('editPrompt'), 'secondary', () => { fillForEdit(g); announce(t('promptReady')); }), dismiss(g));
  } else if (g.status === 'failed' || g.status === 'canceled') {
    actions.push(button(t('retry'), 'secondary', () => act(async () => {
      upsert(await api.post(`/images/retry/${g.id}`), true);
    }, t('retried'))), dismiss(g));
  } else {
    actions.push(dismiss(g));
  }
  const reason = g.status === 'running' && g.attempt > 1 && g.retry_reason
    ? h('p', { class: 'small qwhy' }, t('retryBecause', g.attempt, t(`rr_${g.retry_reason}`))) : null;
  return h('li', { class: `qitem st-${g.status}`, dataset: { id: g.id } },
    done ? h('button', { type: 'button', class: 'qthumb', 'aria-label': t('openResult', g.prompt || ''), onclick: () => openResult(g.id) },
      h('img', { src: g.thumbnail_url, alt: '', width: 72, height: 72, decoding: 'async' })) : null,
    h('div', { class: 'qmain' },
      h('span', { class: `badge st-${g.status}` }, t(waitingRetry(g) ? 'st_retrying' : `st_${g.status}`)),
      h('p', { class: 'qprompt' }, g.prompt || ''),
      active ? h('p', { class: 'qinfo small muted' }, ...progress(g, order).flatMap((x, i) => (i ? [' · ', x] : [x]))) : null,
      reason,
      // A running generation may say why it waits (storage full: its image is kept
      // until there is room); a failed one why it failed; a canceled one that it was.
      g.error && active ? h('p', { class: 'small qwait' }, g.error) : null,
      g.status === 'failed' ? h('p', { class: 'error qerror', role: 'alert' }, failureText(g)) : null,
      g.status === 'canceled' ? h('p', { class: 'small muted qerror' }, t('canceledNote')) : null),
    h('div', { class: 'qactions' }, ...actions));
}

// openResult opens the viewer on a finished generation of the list; its arrows move
// among the list's finished ones.
function openResult(id) {
  openViewer(id, () => shown().filter((g) => !ACTIVE.has(g.status)).map((g) => g.id));
}

export function render() {
  const list = shown();
  const order = queuedOrder();
  $('#queue-list').replaceChildren(...list.map((g) => row(g, order)));
  decorateQueue($('#queue-list')); // batches grouped, queue controls (batches.js)
  $('#queue-empty').hidden = list.length > 0;
  clearInterval(ticker);
  // The clock only redraws elapsed times and retry countdowns; it never asks the server.
  if (list.some((g) => ACTIVE.has(g.status))) {
    ticker = setInterval(() => {
      for (const el of document.querySelectorAll('#queue-list .elapsed')) {
        const g = gens.get(el.dataset.id);
        if (g) el.textContent = elapsedOf(g);
      }
      for (const el of document.querySelectorAll('#queue-list .qretry')) el.textContent = retryWhen(Number(el.dataset.at));
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
      for (const g of page.items || []) {
        const got = upsertAll(g);
        if (got) seen.add(got.id);
      }
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
    body: g.status === 'completed' ? g.prompt : failureText(g),
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

export function init(m = {}) {
  meta = m;
  subscribe((g, prev) => {
    if (g && ACTIVE.has(g.status)) watched.add(g.id);
    if (g && prev && ACTIVE.has(prev.status) && !ACTIVE.has(g.status)) {
      // The row says it at once; the toast is for whoever looks elsewhere.
      if (g.status === 'failed') announce(failureText(g), 'error');
      if (g.status === 'completed' || g.status === 'failed') notify(g);
    }
    if (!g && !prev) watched.clear();
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

export function reset() { watched.clear(); render(); }
