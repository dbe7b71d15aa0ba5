// The gallery: the user's generations newest first, loaded page by page as the end of the
// grid scrolls into view, and the viewer dialog with its actions.
import * as api from './api.js';
import { t, onLanguage, failureSentence } from './i18n.js';
import { $, h, announce, confirm, bytes, duration, ts, usd, priceOf } from './ui.js';
import { gens, upsert, drop, subscribe, ACTIVE } from './store.js';
import { fill, fillForEdit, queue, optionLabel, bodyOf, addReference, startEdit } from './generate.js';
import { failureText } from './queue.js';
import './results-i18n.js';
import * as find from './search.js';
import { decorateTile } from './batches.js';

let order = []; // ids shown, newest first
const cards = new Map();
let cursor = '';
let done = false;
let loading = false;
let filter = '';
let generation = 0; // bumps on filter change so a late page of the old filter is dropped
let observer = null;
let viewing = '';
let navigate = () => {};
let listOf = null; // the ids the viewer moves among (the gallery's, or the Create page's results)
let shownList = []; // that list as the viewer last showed it

function matches(g) {
  if (!g) return false;
  if (!find.matches(g)) return false;
  if (filter) return g.status === filter;
  return !ACTIVE.has(g.status); // the queue shows those
}

function card(g) {
  const label = g.prompt || t(`st_${g.status}`);
  const inner = g.status === 'completed' && g.thumbnail_url
    ? h('img', { src: g.thumbnail_url, alt: label, loading: 'lazy', decoding: 'async', width: 384, height: 384 })
    : h('div', { class: 'placeholder' },
        h('span', { class: `badge st-${g.status}` }, t(`st_${g.status}`)),
        g.status === 'failed' || g.error ? h('span', { class: 'small' }, g.status === 'failed' ? failureText(g) : g.error) : null);
  return find.decorate(h('li', { class: `tile st-${g.status}`, dataset: { id: g.id } },
    h('button', { type: 'button', class: 'tile-btn', 'aria-label': label, title: label, onclick: () => open(g.id) }, inner)), g);
}

function place(id) {
  const g = gens.get(id);
  const old = cards.get(id);
  if (!matches(g)) {
    if (old) old.remove();
    cards.delete(id);
    order = order.filter((x) => x !== id);
  } else {
    const el = card(g);
    decorateTile(el, g); // a batch's tiles framed together (batches.js)
    if (old) old.replaceWith(el);
    else {
      // Insert by creation time so a generation finishing late lands where it belongs.
      // Ties (a batch's generations) as the list orders them: by id, descending.
      const at = order.findIndex((x) => {
        const a = ts(gens.get(x)?.created_at) || 0;
        const b = ts(g.created_at) || 0;
        return a < b || (a === b && x < id);
      });
      if (at < 0) { order.push(id); $('#gallery-grid').append(el); } else {
        $('#gallery-grid').insertBefore(el, cards.get(order[at]));
        order.splice(at, 0, id);
      }
    }
    cards.set(id, el);
  }
  $('#gallery-empty').hidden = order.length > 0 || !done;
  if (viewing === id) showViewer();
}

async function loadMore() {
  if (loading || done || !api.token()) return;
  loading = true;
  const mine = generation;
  $('#gallery-loading').hidden = false;
  $('#gallery-error').hidden = true;
  try {
    const q = new URLSearchParams({ limit: '24' });
    if (cursor) q.set('cursor', cursor);
    if (filter) q.set('status', filter);
    const page = await api.get(find.listPath(q));
    if (mine !== generation) return;
    find.loaded(page.items || []);
    for (const g of page.items || []) upsert(g);
    cursor = page.next_cursor || '';
    done = !cursor;
  } catch (err) {
    if (mine === generation) {
      $('#gallery-error').textContent = err.message;
      $('#gallery-error').hidden = false;
    }
  } finally {
    if (mine === generation) {
      loading = false;
      $('#gallery-loading').hidden = true;
      $('#gallery-empty').hidden = order.length > 0 || !done;
      // The observer reports changes only: a short first page leaves the sentinel on
      // screen, and a scroll to the new bottom within the frame that added the page
      // never shows it leaving. Observing it afresh reports where it is now (at the next
      // frame), so the next page loads whenever the sentinel is in reach.
      if (!done && observer) {
        observer.unobserve($('#gallery-sentinel'));
        observer.observe($('#gallery-sentinel'));
      }
    }
  }
}

function sentinelVisible() {
  const r = $('#gallery-sentinel').getBoundingClientRect();
  return r.top < window.innerHeight + 400 && r.bottom > -400 && !$('#view-gallery').hidden;
}

export function reload() {
  generation++;
  order = [];
  cards.clear();
  $('#gallery-grid').replaceChildren();
  find.reloaded();
  cursor = '';
  done = false;
  loading = false;
  loadMore();
}

// Viewer

function viewable() { return (listOf ? listOf() : order).filter((id) => gens.has(id)); }

function open(id) { openViewer(id, null); }

// openViewer shows generation id in the viewer; list answers the ids its arrows and
// swipes move among (null: the gallery's).
export function openViewer(id, list) {
  listOf = list;
  viewing = id;
  showViewer();
  const dlg = $('#viewer');
  if (!dlg.open) dlg.showModal();
}

function metaRow(k, v) { return v ? [h('dt', {}, t(k)), h('dd', {}, v)] : []; }

// refThumbs shows a generation's references as thumbnails (their links come with the
// generation), each opening the image itself.
function refThumbs(g) {
  const ids = g.reference_image_ids || [];
  if (!ids.length) return '';
  // An https:// image is shown as its link: the page loads images from this server only.
  return h('ul', { class: 'ref-thumbs' }, ...ids.map((ref, i) => {
    const remote = ref.startsWith('https://');
    const url = g.reference_urls?.[i] || (remote ? ref : '');
    if (!url) return h('li', {}, t('refThumb', i + 1));
    return h('li', {}, h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', title: t('refThumb', i + 1) },
      remote ? t('refThumb', i + 1) : h('img', { src: url, alt: t('refThumb', i + 1), width: 56, height: 56, loading: 'lazy' })));
  }));
}

function showViewer() {
  const g = gens.get(viewing);
  const dlg = $('#viewer');
  if (!g) { if (dlg.open) dlg.close(); return; }
  const img = $('#viewer-img');
  const hasImg = g.status === 'completed' && g.image_url;
  img.hidden = !hasImg;
  if (hasImg) {
    if (img.getAttribute('src') !== g.image_url) img.src = g.image_url;
    img.alt = g.prompt || '';
  } else img.removeAttribute('src');
  $('#viewer-noimg').hidden = !!hasImg;
  $('#viewer-noimg').textContent = t('noImage');
  $('#viewer-prompt').textContent = g.prompt || '';
  const failed = g.status === 'failed';
  $('#viewer-error').hidden = !(failed || g.error);
  $('#viewer-error').textContent = failed ? failureText(g) : g.error || '';
  const taken = ts(g.completed_at) - ts(g.started_at || g.created_at);
  $('#viewer-meta').replaceChildren(
    ...metaRow('m_status', t(`st_${g.status}`)),
    ...metaRow('m_size', g.width && g.height ? `${g.width} × ${g.height}` : ''),
    ...metaRow('m_file', g.bytes ? `${bytes(g.bytes)} · ${(g.output_format || '').toUpperCase()}` : ''),
    ...metaRow('m_resolution', g.resolution),
    ...metaRow('m_aspect', g.aspect_ratio ? optionLabel('aspect_ratio', g.aspect_ratio) : ''),
    ...metaRow('m_safety', g.safety_filter_level ? optionLabel('safety_filter_level', g.safety_filter_level) : ''),
    ...metaRow('m_mode', g.generation_mode === 'image-to-image' ? t('modeImage') : t('modeText')),
    ...metaRow('m_refs', refThumbs(g)),
    ...metaRow('m_created', g.created_at ? new Date(g.created_at).toLocaleString(document.documentElement.lang) : ''),
    ...metaRow('m_taken', taken >= 0 ? duration(taken) : ''),
    ...metaRow('m_price', priceOf(g)),
    // What the generation holds of the budget: its reservation while it waits, what was
    // booked once Replicate took it (kept whatever the outcome), nothing once released.
    ...metaRow('m_booked', typeof g.booked_usd === 'number' && g.paid_by
      ? `${g.booked_usd > 0 ? usd(g.booked_usd) : t('bookedNone')} · ${t(g.paid_by === 'own' ? 'paidOwn' : 'paidShared')}` : ''),
  );
  dlg.dataset.id = g.id; // for the Share dialog (share.js)
  $('#viewer-share').hidden = !hasImg;
  const dl = $('#viewer-download');
  dl.hidden = !hasImg;
  if (hasImg) {
    // ?download=1: the saved file carries its prompt and settings (server/recipe.go).
    const u = new URL(g.image_url, location.href);
    u.searchParams.set('download', '1');
    dl.href = u.href;
    dl.setAttribute('download', `nanobanana-${g.id.slice(0, 8)}.${g.output_format === 'png' ? 'png' : 'jpg'}`);
  }
  // Vary a result, retry a failure (a safety failure is edited instead: the same
  // prompt would fail again), edit or reuse a result's image.
  const safety = failed && g.error_code === 'safety_filter';
  const again = $('#viewer-again');
  again.hidden = safety || ACTIVE.has(g.status);
  again.textContent = t(g.status === 'completed' ? 'vary' : 'retry');
  $('#viewer-ref').hidden = !hasImg;
  $('#viewer-edit').hidden = !(hasImg || safety);
  $('#viewer-edit').textContent = t(hasImg ? 'edit' : 'editPrompt');
  const list = viewable();
  shownList = list;
  const i = list.indexOf(g.id);
  $('#viewer-prev').disabled = i <= 0;
  $('#viewer-next').disabled = i < 0 || i >= list.length - 1;
  find.viewer(g);
}

function step(d) {
  const list = viewable();
  const i = list.indexOf(viewing);
  const next = list[i + d];
  if (next) { viewing = next; showViewer(); }
  if (!listOf && d > 0 && i + d >= list.length - 2) loadMore();
}

async function runAgain() {
  const g = gens.get(viewing);
  if (!g) return;
  try {
    if (g.status === 'failed' || g.status === 'canceled') {
      upsert(await api.post(`/images/retry/${g.id}`) || { id: g.id, status: 'pending' }, true);
      announce(t('retried'));
    } else {
      await queue(bodyOf(g));
    }
    $('#viewer').close();
    navigate('create');
  } catch (err) {
    announce(err.message, 'error');
  }
}

async function remove() {
  const id = viewing;
  if (!(await confirm(t('confirmDeleteText'), t('confirmDelete')))) return;
  try {
    await api.del(`/images/${id}`);
    // The stream may have said so already; either way the viewer moves on (leaveDeleted)
    // and the focus stays inside it.
    drop(id);
    announce(t('deleted'));
    if ($('#viewer').open) $('#viewer-delete').focus();
  } catch (err) {
    announce(err.message, 'error');
  }
}

// leaveDeleted moves the viewer off a generation that was deleted (here, or in another
// tab): to the next image of its list, the previous after the last; it closes only when
// none is left.
function leaveDeleted(id) {
  const i = shownList.indexOf(id);
  const rest = viewable();
  const next = i < 0 ? '' : [...shownList.slice(i + 1), ...shownList.slice(0, i).reverse()].find((x) => x !== id && rest.includes(x));
  if (next) viewing = next;
  showViewer();
}

// asReference makes the shown image a reference upload (POST /uploads/generation/{id})
// and hands it to the form: added to its references, or (edit) as the only one, with
// the prompt empty for the instruction.
async function asReference(edit) {
  const g = gens.get(viewing);
  if (!g) return;
  if (g.status !== 'completed') { // a safety failure: edit its prompt
    $('#viewer').close();
    navigate('create');
    fillForEdit(g);
    announce(t('promptReady'));
    return;
  }
  try {
    const res = await api.post(`/uploads/generation/${g.id}`);
    const up = res.uploads[0];
    $('#viewer').close();
    navigate('create');
    const name = (g.prompt || t('resultRef')).slice(0, 40);
    if (edit) {
      startEdit(up, name);
      announce(t('editReady'));
    } else {
      addReference(up, name);
      announce(t('refAdded'));
    }
  } catch (err) {
    announce(err.message, 'error');
  }
}

// swipe moves the viewer with a horizontal swipe on the image (pointer events: touch,
// pen or a mouse drag).
function swipe(el) {
  let start = null;
  el.addEventListener('pointerdown', (e) => { if (e.isPrimary) start = { x: e.clientX, y: e.clientY, id: e.pointerId }; });
  el.addEventListener('pointercancel', () => { start = null; });
  el.addEventListener('pointerup', (e) => {
    if (!start || e.pointerId !== start.id) return;
    const dx = e.clientX - start.x;
    const dy = e.clientY - start.y;
    start = null;
    if (Math.abs(dx) < 40 || Math.abs(dx) < 1.5 * Math.abs(dy)) return;
    e.preventDefault();
    step(dx < 0 ? 1 : -1);
  });
}

async function copyPrompt() {
  const text = gens.get(viewing)?.prompt || '';
  let ok = true;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API needs a secure context; plain http on a LAN falls back to a selection.
    // The box goes inside the open viewer: a modal dialog makes the rest of the page inert,
    // and nothing there can be selected.
    const ta = h('textarea', { class: 'visually-hidden' }, text);
    (document.querySelector('dialog[open]') || document.body).append(ta);
    ta.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
  }
  if (ok) announce(t('copied'));
  else announce(t('copyFailed'), 'error');
}

export function init(nav) {
  navigate = nav;
  subscribe((g, prev) => {
    if (!g && !prev) return reload();
    const id = g?.id || prev.id;
    if (!g) {
      cards.get(id)?.remove();
      cards.delete(id);
      order = order.filter((x) => x !== id);
      if (viewing === id) leaveDeleted(id);
      return;
    }
    place(id);
  });
  $('#gallery-filter').addEventListener('change', (e) => { filter = e.target.value; reload(); });
  find.init(reload);
  observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: '400px' });
  observer.observe($('#gallery-sentinel'));
  const dlg = $('#viewer');
  $('#viewer-close').addEventListener('click', () => dlg.close());
  $('#viewer-close-bar').addEventListener('click', () => dlg.close());
  $('#viewer-ref').addEventListener('click', () => asReference(false));
  $('#viewer-edit').addEventListener('click', () => asReference(true));
  swipe($('.viewer-media'));
  $('#viewer-prev').addEventListener('click', () => step(-1));
  $('#viewer-next').addEventListener('click', () => step(1));
  $('#viewer-copy').addEventListener('click', copyPrompt);
  $('#viewer-use').addEventListener('click', () => { fill(gens.get(viewing) || {}); dlg.close(); navigate('create'); announce(t('settingsFilled')); });
  $('#viewer-again').addEventListener('click', runAgain);
  $('#viewer-delete').addEventListener('click', remove);
  dlg.addEventListener('keydown', (e) => {
    if (e.target.closest('input, textarea, select')) return;
    if (e.key === 'ArrowLeft') { e.preventDefault(); step(-1); }
    if (e.key === 'ArrowRight') { e.preventDefault(); step(1); }
  });
  // A click on the backdrop (the dialog itself, outside its body) closes it.
  dlg.addEventListener('click', (e) => { if (e.target === dlg) dlg.close(); });
  // The close event can arrive after the dialog was opened again (it is queued), so
  // look at the dialog itself rather than trusting the event's timing.
  dlg.addEventListener('close', () => { if (!dlg.open) viewing = ''; });
  onLanguage(() => { for (const id of order) place(id); if (viewing) showViewer(); });
}

export function visible() { if (sentinelVisible()) loadMore(); }
