// Share links: made from the viewer (a dialog with the expiry, the link to copy, and this
// image's other links), listed and revoked in Settings. The public page a link opens is
// shareview.js.
import * as api from './api.js';
import { t, onLanguage, current } from './i18n.js';
import { $, h, announce, showError, confirm } from './ui.js';

let links = [];
let imageID = ''; // the image the dialog is for

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
  $('#share-image-links').replaceChildren(...links.filter((l) => l.image_id === imageID && !expired(l)).map(linkItem));
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

function openDialog() {
  imageID = $('#viewer').dataset.id || '';
  if (!imageID) return;
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
    const l = await api.post('/shares', { image_id: imageID, expires_in_hours: Number($('#share-expiry').value) });
    $('#share-url').value = absolute(l.url);
    $('#share-new').hidden = false;
    $('#share-url').select();
    announce(t('shareCreated'));
    await load();
  } catch (err) { showError(form, err); }
}

export function init() {
  $('#viewer-share').addEventListener('click', openDialog);
  $('#share-create').addEventListener('click', create);
  $('#share-copy').addEventListener('click', () => copy($('#share-url').value));
  onLanguage(render);
}

export function reset() { links = []; render(); }
