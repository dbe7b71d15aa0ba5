// Boards (issue 13): the user's named sets of generations. The gallery's board bar
// picks one (its images then fill the grid, page by page, from GET /boards/{id}),
// creates, renames and deletes boards; the viewer puts the open image on a board.
import * as api from './api.js';
import { t, onLanguage } from './i18n.js';
import { $, h, announce, confirm } from './ui.js';

let boards = []; // {id, name, count}
let current = ''; // the board shown, '' for the whole gallery
const members = new Set(); // ids known to be on the current board
let reload = () => {};

export function selected() { return current; }
export function has(id) { return members.has(id); }
export function remember(items) { if (current) for (const g of items) members.add(g.id); }

function render() {
  const sel = $('#board-select');
  if (!sel) return;
  sel.replaceChildren(h('option', { value: '' }, t('boardAll')),
    ...boards.map((b) => h('option', { value: b.id }, `${b.name} (${b.count})`)));
  sel.value = boards.some((b) => b.id === current) ? current : '';
  const b = boards.find((x) => x.id === current);
  $('#board-rename').hidden = !b;
  $('#board-delete').hidden = !b;
  $('#board-title').textContent = b ? b.name : '';
  $('#board-title').hidden = !b;
  const add = $('#viewer-board');
  if (add) {
    add.replaceChildren(h('option', { value: '' }, t('boardAddTo')),
      ...boards.map((x) => h('option', { value: x.id }, x.name)),
      h('option', { value: '+' }, t('boardNewEllipsis')));
  }
}

export async function refresh() {
  if (!api.token()) return;
  try {
    boards = (await api.get('/boards')).items || [];
  } catch (err) {
    announce(err.message, 'error');
  }
  if (current && !boards.some((b) => b.id === current)) { current = ''; members.clear(); }
  render();
}

function show(id) {
  current = id;
  members.clear();
  render();
  reload();
}

async function ask(label, value = '') {
  // A small form in the bar: a name, OK, Cancel; resolves the name or ''.
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', id: 'board-name', maxlength: 200, value, 'aria-label': label, placeholder: label, required: true });
    const done = (v) => { form.remove(); resolve(v); };
    const form = h('form', { class: 'board-ask', onsubmit: (e) => { e.preventDefault(); if (input.value.trim()) done(input.value.trim()); } },
      input,
      h('button', { type: 'submit', class: 'primary', id: 'board-name-ok' }, t('boardSave')),
      h('button', { type: 'button', class: 'secondary', onclick: () => done('') }, t('cancel')));
    $('#board-bar').append(form);
    input.focus();
  });
}

async function create() {
  const name = await ask(t('boardName'));
  if (!name) return '';
  try {
    const b = await api.post('/boards', { name });
    announce(t('boardCreated', b.name));
    await refresh();
    return b.id;
  } catch (err) {
    announce(err.message, 'error');
    return '';
  }
}

async function rename() {
  const b = boards.find((x) => x.id === current);
  if (!b) return;
  const name = await ask(t('boardName'), b.name);
  if (!name) return;
  try {
    await api.request(`/boards/${b.id}`, { method: 'PATCH', json: { name } });
    await refresh();
  } catch (err) { announce(err.message, 'error'); }
}

async function remove() {
  const b = boards.find((x) => x.id === current);
  if (!b || !(await confirm(t('boardDeleteText', b.name), t('delete')))) return;
  try {
    await api.del(`/boards/${b.id}`);
    current = '';
    members.clear();
    await refresh();
    reload();
  } catch (err) { announce(err.message, 'error'); }
}

// addTo puts generation id on a board picked in the viewer ('+': a new one first).
async function addTo(id, board) {
  if (board === '+') {
    $('#viewer').close(); // the name is asked in the gallery's bar
    board = await create();
  }
  if (!board) return;
  try {
    await api.put(`/boards/${board}/images/${id}`);
    if (board === current) members.add(id);
    const b = boards.find((x) => x.id === board);
    announce(t('boardAdded', b ? b.name : ''));
    await refresh();
  } catch (err) { announce(err.message, 'error'); }
}

// viewer adds the "Add to board" choice to the viewer's actions, once.
export function viewer(g) {
  let sel = $('#viewer-board');
  if (!sel) {
    sel = h('select', { id: 'viewer-board', 'aria-label': t('boardAddTo') });
    sel.addEventListener('change', () => { const v = sel.value; sel.value = ''; addTo(sel.dataset.id, v); });
    $('#viewer-copy').parentElement.append(sel);
    render();
  }
  sel.dataset.id = g.id;
}

export function init(reloadGallery) {
  reload = reloadGallery;
  const bar = h('div', { id: 'board-bar', class: 'board-bar' },
    h('label', { class: 'inline' }, h('span', {}, t('boards')), h('select', { id: 'board-select', onchange: (e) => show(e.target.value) })),
    h('button', { type: 'button', id: 'board-new', class: 'secondary', onclick: create }, t('boardNew')),
    h('button', { type: 'button', id: 'board-rename', class: 'secondary', hidden: true, onclick: rename }, t('boardRename')),
    h('button', { type: 'button', id: 'board-delete', class: 'danger', hidden: true, onclick: remove }, t('boardDelete')),
    h('h3', { id: 'board-title', class: 'board-title', hidden: true }));
  $('#view-gallery .label-row').after(bar);
  onLanguage(() => {
    bar.querySelector('label span').textContent = t('boards');
    $('#board-new').textContent = t('boardNew');
    $('#board-rename').textContent = t('boardRename');
    $('#board-delete').textContent = t('boardDelete');
    render();
  });
  render();
}
