// The gallery: the user's generations newest first, loaded page by page as the end of the
// grid scrolls into view, and the viewer dialog with its actions.
import * as api from './api.js';
import { t, onLanguage, failureSentence } from './i18n.js';
import { $, h, announce, confirm, bytes, duration, ts, usd, priceOf } from './ui.js';
import { gens, upsert, drop, subscribe, ACTIVE } from './store.js';
import { fill, queue, optionLabel } from './generate.js';

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

function matches(g) {
  if (!g) return false;
  if (filter) return g.status === filter;
  return !ACTIVE.has(g.status); // the queue shows those
}

function card(g) {
  const label = g.prompt || t(`st_${g.status}`);
  const inner = g.status === 'completed' && g.thumbnail_url
    ? h('img', { src: g.thumbnail_url, alt: label, loading: 'lazy', decoding: 'async', width: 384, height: 384 })
    : h('div', { class: 'placeholder' },
        h('span', { class: `badge st-${g.status}` }, t(`st_${g.status}`)),
        g.error ? h('span', { class: 'small' }, failureSentence(g)) : null);
  return h('li', { class: `tile st-${g.status}`, dataset: { id: g.id } },
    h('button', { type: 'button', class: 'tile-btn', 'aria-label': label, title: label, onclick: () => open(g.id) }, inner));
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
    if (old) old.replaceWith(el);
    else {
      // Insert by creation time so a generation finishing late lands where it belongs.
      const at = order.findIndex((x) => (ts(gens.get(x)?.created_at) || 0) < (ts(g.created_at) || 0));
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
    const page = await api.get(`/images/list?${q}`);
    if (mine !== generation) return;
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
  cursor = '';
  done = false;
  loading = false;
  loadMore();
}

// Viewer

function viewable() { return order.filter((id) => gens.has(id)); }

function open(id) {
  viewing = id;
  showViewer();
  const dlg = $('#viewer');
  if (!dlg.open) dlg.showModal();
}

function metaRow(k, v) { return v ? [h('dt', {}, t(k)), h('dd', {}, v)] : []; }

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
  $('#viewer-error').hidden = !g.error;
  $('#viewer-error').textContent = failureSentence(g);
  const taken = ts(g.completed_at) - ts(g.started_at || g.created_at);
  const refsN = (g.reference_image_ids || g.reference_images || []).length;
  $('#viewer-meta').replaceChildren(
    ...metaRow('m_status', t(`st_${g.status}`)),
    ...metaRow('m_size', g.width && g.height ? `${g.width} × ${g.height}` : ''),
    ...metaRow('m_file', g.bytes ? `${bytes(g.bytes)} · ${(g.output_format || '').toUpperCase()}` : ''),
    ...metaRow('m_resolution', g.resolution),
    ...metaRow('m_aspect', g.aspect_ratio ? optionLabel('aspect_ratio', g.aspect_ratio) : ''),
    ...metaRow('m_safety', g.safety_filter_level ? optionLabel('safety_filter_level', g.safety_filter_level) : ''),
    ...metaRow('m_mode', g.generation_mode === 'image-to-image' ? t('modeImage') : t('modeText')),
    ...metaRow('m_refs', refsN ? String(refsN) : ''),
    ...metaRow('m_created', g.created_at ? new Date(g.created_at).toLocaleString(document.documentElement.lang) : ''),
    ...metaRow('m_taken', taken >= 0 ? duration(taken) : ''),
    ...metaRow('m_price', priceOf(g)),
  );
  const dl = $('#viewer-download');
  dl.hidden = !hasImg;
  if (hasImg) {
    dl.href = g.image_url;
    dl.setAttribute('download', `nanobanana-${g.id.slice(0, 8)}.${g.output_format === 'png' ? 'png' : 'jpg'}`);
  }
  const list = viewable();
  const i = list.indexOf(g.id);
  $('#viewer-prev').disabled = i <= 0;
  $('#viewer-next').disabled = i < 0 || i >= list.length - 1;
}

function step(d) {
  const list = viewable();
  const i = list.indexOf(viewing);
  const next = list[i + d];
  if (next) { viewing = next; showViewer(); }
  if (d > 0 && i + d >= list.length - 2) loadMore();
}

async function runAgain() {
  const g = gens.get(viewing);
  if (!g) return;
  try {
    if (g.status === 'failed' || g.status === 'canceled') {
      upsert(await api.post(`/images/retry/${g.id}`) || { id: g.id, status: 'pending' });
      announce(t('retried'));
    } else {
      const body = {};
      for (const k of ['prompt', 'resolution', 'aspect_ratio', 'output_format', 'safety_filter_level', 'generation_mode']) if (g[k]) body[k] = g[k];
      if (g.reference_image_ids?.length) body.reference_image_ids = g.reference_image_ids;
      await queue(body);
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
    const list = viewable();
    const i = list.indexOf(id);
    drop(id);
    announce(t('deleted'));
    const next = list[i + 1] || list[i - 1];
    if (next && next !== id) { viewing = next; showViewer(); } else $('#viewer').close();
  } catch (err) {
    announce(err.message, 'error');
  }
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
      if (viewing === id) showViewer();
      return;
    }
    place(id);
  });
  $('#gallery-filter').addEventListener('change', (e) => { filter = e.target.value; reload(); });
  observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: '400px' });
  observer.observe($('#gallery-sentinel'));
  const dlg = $('#viewer');
  $('#viewer-close').addEventListener('click', () => dlg.close());
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
