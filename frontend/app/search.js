// Search and filters (issue 13): the gallery's search box and filter controls, the
// favorite star on cards and in the viewer. The server finds the rows (GET
// /images/list?q=&resolution=&...); matches() applies the same filters to generations
// that arrive live, so a new one shows only where it belongs.
import * as api from './api.js';
import { t, onLanguage } from './i18n.js';
import { $, h, announce, ts } from './ui.js';
import { upsert } from './store.js';
import * as boards from './boards.js';

const state = { q: '', resolution: '', aspect_ratio: '', mode: '', from: '', to: '', favorite: false };
let reload = () => {};

// fold lowers case and drops Latin accents, as the server's search does (ё and й stay).
function fold(s) {
  return (s || '').toLowerCase().normalize('NFD').replace(/([a-z])[\u0300-\u036f]+/g, '$1').normalize('NFC');
}
function words(s) { return fold(s).split(/[^\p{L}\p{N}]+/u).filter(Boolean); }

export function active() {
  return !!(state.q.trim() || state.resolution || state.aspect_ratio || state.mode || state.from || state.to || state.favorite);
}

// listPath is the gallery's list request for query q (limit, cursor, status set).
export function listPath(q) {
  const board = boards.selected();
  if (board) {
    q.delete('status');
    return `/boards/${board}?${q}`;
  }
  if (state.q.trim()) q.set('q', state.q.trim());
  for (const k of ['resolution', 'aspect_ratio', 'mode', 'from', 'to']) if (state[k]) q.set(k, state[k]);
  if (state.favorite) q.set('favorite', 'true');
  return `/images/list?${q}`;
}

// loaded notes a page's items (a board's members).
export function loaded(items) { boards.remember(items); }

// matches applies the filters to a generation the gallery holds.
export function matches(g) {
  if (boards.selected()) return boards.has(g.id);
  if (state.favorite && !g.favorite) return false;
  for (const k of ['resolution', 'aspect_ratio']) if (state[k] && g[k] !== state[k]) return false;
  if (state.mode && g.generation_mode !== state.mode) return false;
  const at = ts(g.created_at);
  if (state.from && at < Date.parse(state.from)) return false;
  if (state.to && at >= Date.parse(state.to) + 86400000) return false;
  const want = words(state.q);
  if (want.length) {
    const have = words(g.prompt);
    const last = want.length - 1;
    if (!want.every((w, i) => have.some((x) => (i === last ? x.startsWith(w) : x === w)))) return false;
  }
  return true;
}

async function setFavorite(id, on) {
  try {
    upsert(await api.put(`/images/favorite/${id}`, { favorite: on }));
    announce(on ? t('favAdded') : t('favRemoved'));
  } catch (err) {
    announce(err.message, 'error');
  }
}

function star(g, cls) {
  const on = !!g.favorite;
  return h('button', {
    type: 'button', class: `star ${cls}${on ? ' on' : ''}`, 'aria-pressed': on ? 'true' : 'false',
    'aria-label': on ? t('favRemove') : t('favAdd'), title: on ? t('favRemove') : t('favAdd'),
    onclick: (e) => { e.stopPropagation(); setFavorite(g.id, !on); },
  }, on ? '★' : '☆');
}

// decorate adds the favorite star to a gallery card.
export function decorate(li, g) {
  if (g.status === 'completed' || g.favorite) li.append(star(g, 'tile-star'));
  return li;
}

// viewer shows the star and the board choice in the viewer for g.
export function viewer(g) {
  const old = $('#viewer-star');
  const s = star(g, 'viewer-star');
  s.id = 'viewer-star';
  if (old) old.replaceWith(s); else $('#viewer-copy').parentElement.prepend(s);
  boards.viewer(g);
}

function options(id) {
  const src = $(id);
  return src ? [...src.options].map((o) => [o.value, o.textContent]) : [];
}

function build() {
  const sel = (id, key, label, opts) => h('select', { id, 'aria-label': label, onchange: (e) => { state[key] = e.target.value; reload(); } },
    h('option', { value: '' }, label), ...opts.map(([v, text]) => h('option', { value: v }, text)));
  let timer = 0;
  const q = h('input', {
    type: 'search', id: 'find-q', placeholder: t('searchPlaceholder'), 'aria-label': t('search'), maxlength: 200,
    oninput: (e) => { clearTimeout(timer); timer = setTimeout(() => { state.q = e.target.value; reload(); }, 250); },
  });
  const date = (id, key, label) => h('label', { class: 'inline small' }, h('span', {}, label),
    h('input', { type: 'date', id, onchange: (e) => { state[key] = e.target.value; reload(); } }));
  return h('form', { id: 'find-bar', class: 'find-bar', role: 'search', onsubmit: (e) => { e.preventDefault(); clearTimeout(timer); state.q = q.value; reload(); } },
    q,
    sel('find-resolution', 'resolution', t('anyResolution'), options('#resolution')),
    sel('find-aspect', 'aspect_ratio', t('anyAspect'), options('#aspect_ratio').filter(([v]) => v !== 'match_input_image')),
    sel('find-mode', 'mode', t('anyMode'), [['text-to-image', t('modeText')], ['image-to-image', t('modeImage')]]),
    date('find-from', 'from', t('dateFrom')),
    date('find-to', 'to', t('dateTo')),
    h('label', { class: 'inline small' }, h('input', { type: 'checkbox', id: 'find-fav', onchange: (e) => { state.favorite = e.target.checked; reload(); } }), h('span', {}, t('favOnly'))),
    h('button', { type: 'button', id: 'find-clear', class: 'link small', onclick: clear }, t('clearFilters')));
}

function clear() {
  Object.assign(state, { q: '', resolution: '', aspect_ratio: '', mode: '', from: '', to: '', favorite: false });
  const old = $('#find-bar');
  old.replaceWith(build());
  reload();
}

export function init(reloadGallery) {
  reload = () => { $('#find-bar').classList.toggle('filtering', active()); reloadGallery(); };
  boards.init(reload);
  $('#board-bar').after(build());
  onLanguage(() => {
    // Rebuilt in the new language, keeping what is chosen.
    const keep = { ...state };
    const bar = build();
    $('#find-bar').replaceWith(bar);
    $('#find-q').value = keep.q;
    for (const [id, k] of [['#find-resolution', 'resolution'], ['#find-aspect', 'aspect_ratio'], ['#find-mode', 'mode'], ['#find-from', 'from'], ['#find-to', 'to']]) $(id).value = keep[k];
    $('#find-fav').checked = keep.favorite;
  });
}

// reloaded runs when the gallery starts over: the boards are read again.
export function reloaded() { boards.refresh(); }
