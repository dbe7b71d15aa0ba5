// Share links: made from the viewer (a dialog with the expiry, the link to copy, and this
// image's other links), listed and revoked in Settings. The public page a link opens is
// shareview.js.
import * as api from './api.js';
import { t, onLanguage, current } from './i18n.js';
import { $, h, announce, showError, confirm } from './ui.js';
import * as boards from './boards.js';

let links = [];
let target = {}; // what the dialog shares: {image_id} or {board_id}

function absolute(url) { return new URL(url, location.origin).href; }
function when(s) { return s ? new Date(s).toLocaleString(current()) : ''; }
function expired(l) { return l.expires_at && Date.parse(l.expires_at) <= Date.now(); }

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    announce(t('linkCopied'));
  } catch {
    // No clipboard API on plain http: the link is selected in its field instead.
    const input = $('#share-url');
    if (input && !$('#share-dlg').hidden) input.select();
  }
}

function linkItem(l) {
  return h('li', { class: 'tok', dataset: { token: l.token } },
    h('div', {},
      h('a', { href: l.url, target: '_blank', rel: 'noopener noreferrer', class: 'tok-name' }, absolute(l.url)),
      h('p', { class: 'muted small' }, t('shareMeta', when(l.created_at), when(l.expires_at), expired(l)))),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', onclick: () => copy(absolute(l.url)) }, t('copyLink')),
      h('button', { type: 'button', class: 'danger', onclick: () => revoke(l) }, t('revoke'))));
}

function render() {
  $('#shares-list').replaceChildren(...links.map(linkItem));
  $('#shares-empty').hidden = links.length > 0;
  const mine = (l) => (target.board_id ? l.board_id === target.board_id : l.image_id && l.image_id === target.image_id);
  $('#share-image-links').replaceChildren(...links.filter((l) => mine(l) && !expired(l)).map(linkItem));
}

async function revoke(l) {
  if (!(await confirm(t('confirmRevokeShare'), t('revoke')))) return;
  try {
    await api.del(`/shares/${l.token}`);
    if ($('#share-url').value === absolute(l.url)) $('#share-new').hidden = true;
    announce(t('shareRevoked'));
  } catch (err) { announce(err.message, 'error'); }
  await load();
}

export async function load() {
  try {
    links = (await api.get('/shares')).items || [];
    render();
  } catch (err) { announce(err.message, 'error'); }
}

// words titles the dialog for what it shares (after i18n.apply, which knows only the
// image's words).
function words() {
  $('#share-title').textContent = t(target.board_id ? 'shareBoardTitle' : 'shareTitle');
  $('#share-help').textContent = t(target.board_id ? 'shareBoardHelp' : 'shareHelp');
}

function openDialog(what) {
  target = what;
  if (!target.image_id && !target.board_id) return;
  words();
  $('#share-new').hidden = true;
  showError($('#share-form'), null);
  render();
  $('#share-dlg').showModal();
  load();
}

async function create() {
  const form = $('#share-form');
  showError(form, null);
  try {
    const l = await api.post('/shares', { ...target, expires_in_hours: Number($('#share-expiry').value) });
    $('#share-url').value = absolute(l.url);
    $('#share-new').hidden = false;
    $('#share-url').select();
    announce(t('shareCreated'));
    await load();
  } catch (err) { showError(form, err); }
}

// The board bar (boards.js) gets "Share board", shown with the board's own buttons.
function boardButton() {
  const rename = $('#board-rename');
  if (!rename) return;
  const btn = h('button', { type: 'button', id: 'board-share', class: 'secondary', hidden: true,
    onclick: () => openDialog({ board_id: boards.selected() }) }, t('shareBoard'));
  rename.before(btn);
  const sync = () => { btn.hidden = rename.hidden; };
  new MutationObserver(sync).observe(rename, { attributes: true, attributeFilter: ['hidden'] });
  onLanguage(() => { btn.textContent = t('shareBoard'); });
  sync();
}

export function init() {
  $('#viewer-share').addEventListener('click', () => openDialog({ image_id: $('#viewer').dataset.id || '' }));
  boardButton();
  $('#share-create').addEventListener('click', create);
  $('#share-copy').addEventListener('click', () => copy($('#share-url').value));
  onLanguage(() => { render(); words(); });
}

export function reset() { links = []; render(); }
