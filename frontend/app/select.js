// Selection in the gallery: a Select button turns tiles into toggles (the viewer does not
// open), and the selected images download as one zip. The server streams the zip; the
// browser gets a short-lived link for it (POST /zips) and hands that to its own download
// manager, so nothing of the archive is held in the page.
import * as api from './api.js';
import { t, onLanguage } from './i18n.js';
import { $, h, announce } from './ui.js';
import { gens, subscribe } from './store.js';
import * as boards from './boards.js';

const MAX = 200; // the server's bound (server/zip.go)
let selecting = false;
const chosen = new Set();

function grid() { return $('#gallery-grid'); }

// decorate marks one tile as the selection says (tiles are rebuilt by the gallery
// whenever their generation changes, so this runs for new tiles too).
function decorate(li) {
  const id = li.dataset.id;
  const g = gens.get(id);
  const btn = li.querySelector('.tile-btn');
  const can = selecting && g?.status === 'completed';
  li.classList.toggle('selectable', can);
  li.classList.toggle('selected', can && chosen.has(id));
  if (btn) {
    if (can) btn.setAttribute('aria-pressed', String(chosen.has(id)));
    else btn.removeAttribute('aria-pressed');
  }
}

function render() {
  for (const li of grid().children) decorate(li);
  $('#select-bar').hidden = !selecting;
  const toggle = $('#select-toggle');
  toggle.textContent = t(selecting ? 'selectDone' : 'selectMode');
  toggle.setAttribute('aria-pressed', String(selecting));
  grid().classList.toggle('selecting', selecting);
  $('#select-count').textContent = t('selectedN', chosen.size);
  $('#select-zip').disabled = chosen.size === 0;
}

function setSelecting(on) {
  selecting = on;
  if (!on) chosen.clear();
  render();
}

// fetchZip asks for a zip link (body: {ids} or {board_id}) and hands it to the
// browser's download manager.
async function fetchZip(body) {
  const link = await api.post('/zips', body);
  const a = document.createElement('a');
  a.href = link.url;
  a.download = '';
  document.body.append(a);
  a.click();
  a.remove();
}

async function downloadZip() {
  const ids = [...chosen];
  if (!ids.length) return;
  if (ids.length > MAX) return announce(t('zipTooMany', MAX), 'error');
  const btn = $('#select-zip');
  btn.disabled = true;
  try {
    await fetchZip({ ids });
    announce(t('zipStarted', ids.length));
  } catch (err) {
    announce(err.message, 'error');
  } finally {
    btn.disabled = chosen.size === 0;
  }
}

// The board bar (boards.js) gets "Download board": the whole board, however large.
function boardButton() {
  const bar = $('#board-bar');
  const rename = $('#board-rename');
  if (!bar || !rename) return;
  const btn = h('button', { type: 'button', id: 'board-zip', class: 'secondary', hidden: true, onclick: async () => {
    const id = boards.selected();
    if (!id) return;
    try {
      await fetchZip({ board_id: id });
      announce(t('boardZipStarted'));
    } catch (err) { announce(err.message, 'error'); }
  } }, t('boardZip'));
  rename.before(btn);
  // Shown with the board's own buttons, whenever boards.js shows them.
  const sync = () => { btn.hidden = rename.hidden; };
  new MutationObserver(sync).observe(rename, { attributes: true, attributeFilter: ['hidden'] });
  onLanguage(() => { btn.textContent = t('boardZip'); });
  sync();
}

export function init() {
  $('#select-toggle').addEventListener('click', () => setSelecting(!selecting));
  $('#select-none').addEventListener('click', () => { chosen.clear(); render(); });
  $('#select-all').addEventListener('click', () => {
    for (const li of grid().children) {
      if (chosen.size >= MAX) break;
      if (gens.get(li.dataset.id)?.status === 'completed') chosen.add(li.dataset.id);
    }
    render();
  });
  $('#select-zip').addEventListener('click', downloadZip);
  // In selection mode a click on a tile toggles it; it runs before the tile's own
  // handler (capture) and keeps the viewer shut.
  grid().addEventListener('click', (e) => {
    if (!selecting) return;
    const li = e.target.closest('li[data-id]');
    if (!li) return;
    e.preventDefault();
    e.stopPropagation();
    if (gens.get(li.dataset.id)?.status !== 'completed') return;
    if (chosen.has(li.dataset.id)) chosen.delete(li.dataset.id); else chosen.add(li.dataset.id);
    render();
  }, true);
  new MutationObserver((records) => {
    if (!selecting) return;
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1 && n.dataset.id) decorate(n);
  }).observe(grid(), { childList: true });
  // A deleted image leaves the selection.
  subscribe((g, prev) => {
    if (!g && prev && chosen.delete(prev.id)) render();
    if (!g && !prev) { chosen.clear(); render(); }
  });
  onLanguage(render);
  render();
  boardButton();
}

// reset ends selection mode (signing out, leaving the gallery).
export function reset() { setSelecting(false); }
