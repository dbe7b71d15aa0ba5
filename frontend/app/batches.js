// Batches and queue control: the count selector of the Create form, a batch's
// generations shown together (in the queue and the gallery) with one cancel and one
// retry for all of them, and the user's own queue: pause/resume, and each waiting job
// to the front or back. The queue and the gallery call decorateQueue/decorateTile after
// they draw; everything here works on what they drew (items carry data-id).
import * as api from './api.js';
import { t, onLanguage } from './i18n.js';
import { $, h, announce, usd } from './ui.js';
import { gens, upsert, ACTIVE } from './store.js';

let paused = false;
let prices = {};

// count is the number of images the form asks for (1 to 4).
export function count() {
  const n = Number($('#gen-count')?.value || 1);
  return n >= 1 && n <= 4 ? n : 1;
}

// byBatchOrder sorts a batch's generations (or their elements, by data-id) in the order
// they were asked for: their ids descending (the server makes them so).
const idOf = (x) => (x instanceof Element ? x.dataset.id : x.id);
const byBatchOrder = (a, b) => (idOf(a) > idOf(b) ? -1 : 1);

// batchOf lists the known generations of a batch, in the order they were asked for.
function batchOf(id) {
  return [...gens.values()].filter((g) => g.batch_id === id).sort(byBatchOrder);
}

async function act(fn, okMsg) {
  try {
    await fn();
    if (okMsg) announce(okMsg);
  } catch (err) {
    announce(err.message, 'error');
  }
}

// cancelBatch and retryBatch act on every generation of the batch in one request; the
// answer (the batch as it is now) updates the page at once, the stream follows.
function cancelBatch(id) {
  return act(async () => {
    const b = await api.post(`/batches/cancel/${id}`);
    for (const g of b.items || []) upsert(g);
  }, t('batchCanceled'));
}

function retryBatch(id) {
  return act(async () => {
    const b = await api.post(`/batches/retry/${id}`);
    for (const g of b.items || []) upsert(g);
  }, t('batchRetried'));
}

function move(id, front) {
  return act(async () => {
    upsert(await api.post(`/queue/${front ? 'front' : 'back'}/${id}`));
    // Every other waiting job of this user moved by one: their positions are read again.
    const page = await api.get('/images/list?status=pending&limit=100');
    for (const g of page.items || []) upsert(g);
  }, t(front ? 'movedFront' : 'movedBack'));
}

async function setPaused(on) {
  await act(async () => {
    const st = await api.post(`/queue/${on ? 'pause' : 'resume'}`);
    paused = st.paused;
    renderControls();
    const page = await api.get('/images/list?status=pending&limit=100');
    for (const g of page.items || []) upsert(g);
  }, t(on ? 'queuePausedToast' : 'queueResumedToast'));
}

// decorateQueue groups a batch's items under one heading with its actions, and adds the
// queue controls to each waiting item. list is the queue's <ul>.
export function decorateQueue(list = $('#queue-list')) {
  if (!list) return;
  const items = [...list.querySelectorAll(':scope > li[data-id]')];
  const heads = new Map();
  for (const li of items) {
    const g = gens.get(li.dataset.id);
    if (!g) continue;
    if (g.status === 'pending') addQueueControls(li, g);
    if (!g.batch_id) continue;
    li.classList.add('in-batch');
    li.dataset.batch = g.batch_id;
    let head = heads.get(g.batch_id);
    if (!head) {
      head = batchHead(g.batch_id);
      heads.set(g.batch_id, head);
      li.before(head);
    }
  }
  // The batch's items follow its heading: running first, then waiting by their place in
  // line (which moves to the front or back change), else in the order asked for.
  const rank = (li) => {
    const g = gens.get(li.dataset.id);
    if (g?.status === 'running') return 0;
    // queued_at orders a user's waiting generations as the claim takes them (a move
    // to the front or back moves it too).
    return g?.status === 'pending' && !g.queue_paused ? (Date.parse(g.queued_at) || Infinity) : Infinity;
  };
  for (const [id, head] of heads) {
    const mine = items.filter((li) => li.dataset.batch === id).sort((a, b) => rank(a) - rank(b) || byBatchOrder(a, b));
    head.after(...mine);
    mine.at(-1)?.classList.add('batch-last');
  }
}

function batchHead(id) {
  const all = batchOf(id);
  const live = all.filter((g) => ACTIVE.has(g.status)).length;
  const ended = all.filter((g) => g.status === 'failed' || g.status === 'canceled').length;
  return h('li', { class: 'batch-head', dataset: { batchHead: id } },
    h('span', { class: 'batch-title' }, t('batchOf', all.length)),
    h('span', { class: 'batch-actions' },
      live ? h('button', { type: 'button', class: 'secondary small batch-cancel', onclick: () => cancelBatch(id) }, t('cancelBatch')) : null,
      ended ? h('button', { type: 'button', class: 'secondary small batch-retry', onclick: () => retryBatch(id) }, t('retryBatch')) : null));
}

function addQueueControls(li, g) {
  if (g.queue_paused) {
    const info = li.querySelector('.qinfo') || li;
    info.prepend(h('span', { class: 'badge paused' }, t('pausedBadge')), ' ');
  }
  // A box of their own beside the item's actions (whose buttons stay as the queue made
  // them: its first is still Cancel).
  const box = h('div', { class: 'qmove' },
    h('button', { type: 'button', class: 'icon move-front', title: t('toFront'), 'aria-label': t('toFrontOf', g.prompt || ''), onclick: () => move(g.id, true) }, '⤒'),
    h('button', { type: 'button', class: 'icon move-back', title: t('toBack'), 'aria-label': t('toBackOf', g.prompt || ''), onclick: () => move(g.id, false) }, '⤓'));
  const actions = li.querySelector('.qactions');
  if (actions) actions.before(box); else li.append(box);
}

// decorateTile marks a gallery tile of a batch: tiles of one batch sit together (same
// creation time) and share a frame and a "k / n" badge; the batch's first failed or
// canceled tile carries "Retry batch". The gallery calls it for each tile it draws,
// before placing it; the batch's tiles are brought up to date once it is placed.
export function decorateTile(el, g) {
  if (!g?.batch_id) return;
  el.classList.add('in-batch');
  el.dataset.batch = g.batch_id;
  el.append(h('span', { class: 'batch-badge small' }));
  queueMicrotask(() => refreshTiles(g.batch_id));
}

function refreshTiles(id) {
  const all = batchOf(id);
  const tiles = [...document.querySelectorAll('#gallery-grid li.in-batch')].filter((el) => el.dataset.batch === id);
  let retry = false;
  for (const el of tiles.sort(byBatchOrder)) {
    const k = all.findIndex((x) => x.id === el.dataset.id) + 1;
    const badge = el.querySelector('.batch-badge');
    if (badge) {
      badge.textContent = `${k} / ${all.length}`;
      badge.title = t('batchOf', all.length);
    }
    el.querySelector('.batch-retry')?.remove();
    const g = gens.get(el.dataset.id);
    if (!retry && (g?.status === 'failed' || g?.status === 'canceled')) {
      retry = true;
      el.append(h('button', { type: 'button', class: 'secondary small batch-retry', onclick: () => retryBatch(id) }, t('retryBatch')));
    }
  }
}

// renderTotal says what a batch costs in all: each image is its own prediction.
function renderTotal() {
  const el = $('#gen-total');
  if (!el) return;
  const n = count();
  const p = prices[$('#resolution')?.value];
  el.textContent = n > 1 && p !== undefined ? t('batchTotal', n, usd(n * p)) : '';
}

function renderControls() {
  const btn = $('#queue-pause');
  if (!btn) return;
  btn.textContent = t(paused ? 'resumeQueue' : 'pauseQueue');
  btn.setAttribute('aria-pressed', String(paused));
  $('#queue-paused-note').hidden = !paused;
}

// load reads the user's queue state (after sign-in).
export async function load() {
  try {
    paused = (await api.get('/queue/state')).paused;
  } catch { paused = false; }
  renderControls();
}

export function init(meta = {}) {
  prices = meta.prices_usd || {};
  // The count selector, beside Generate, with what the batch costs in all.
  const submit = $('#gen-submit');
  if (submit && !$('#gen-count')) {
    const sel = h('select', { id: 'gen-count', name: 'count', onchange: renderTotal },
      ...[1, 2, 3, 4].map((n) => h('option', { value: String(n) }, String(n))));
    const label = h('label', { class: 'inline gen-count' }, h('span', { 'data-i18n': 'batchImages' }, t('batchImages')), sel,
      h('span', { id: 'gen-total', class: 'muted small', 'aria-live': 'polite' }));
    submit.before(label);
    $('#resolution')?.addEventListener('change', renderTotal);
  }
  // Pause/resume, in the queue's heading, and the note while paused.
  const title = $('#queue-title');
  if (title && !$('#queue-pause')) {
    title.after(h('button', { type: 'button', id: 'queue-pause', class: 'link small', onclick: () => setPaused(!paused) }));
    title.closest('.label-row').after(h('p', { id: 'queue-paused-note', class: 'notice small', hidden: true, 'data-i18n': 'queuePausedNote' }, t('queuePausedNote')));
  }
  renderControls();
  renderTotal();
  onLanguage(() => { renderControls(); renderTotal(); });
}
