// The public page of a share link (/s/{token}): no account, no session, nothing of the
// owner's but what the link shows: one image and its prompt, or a board's name and its
// images with their prompts. Every open asks the server, so a revoked or expired link
// shows that at once.
import { t, apply, current } from './i18n.js';

const $ = (sel) => document.querySelector(sel);
const token = location.pathname.replace(/^\/s\//, '').replace(/\/+$/, '');
let cursor = '';

async function info(query = '') {
  if (!/^[0-9a-f]{32}$/.test(token)) return null;
  try {
    const res = await fetch(`/api/v1/shared/info/${token}${query}`, { cache: 'no-store', credentials: 'omit', headers: { Accept: 'application/json' } });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

function expiry(el, at) {
  if (!at) return;
  el.textContent = t('sharedExpires', new Date(at).toLocaleString(current()));
  el.hidden = false;
}

function item(img) {
  const li = document.createElement('li');
  const pic = document.createElement('img');
  pic.src = img.image_url;
  pic.alt = img.prompt;
  pic.loading = 'lazy';
  if (img.width && img.height) { pic.width = img.width; pic.height = img.height; }
  const cap = document.createElement('p');
  cap.className = 'prompt-text';
  cap.textContent = img.prompt;
  const dl = document.createElement('a');
  dl.className = 'button secondary';
  dl.href = img.download_url;
  dl.download = '';
  dl.textContent = t('download');
  li.append(pic, cap, dl);
  return li;
}

function page(data) {
  $('#shared-grid').append(...(data.items || []).map(item));
  cursor = data.next_cursor || '';
  $('#shared-more').hidden = !cursor;
  $('#shared-board-empty').hidden = $('#shared-grid').children.length > 0;
}

async function more() {
  const data = await info(`?cursor=${encodeURIComponent(cursor)}`);
  if (data) page(data); else $('#shared-more').hidden = true;
}

async function show() {
  apply(document);
  const data = await info();
  $('#shared-loading').hidden = true;
  if (!data) {
    $('#shared-gone').hidden = false;
    return;
  }
  if (data.kind === 'board') {
    $('#shared-name').textContent = data.name;
    document.title = `${data.name} · nanobanana`;
    expiry($('#shared-board-expiry'), data.expires_at);
    $('#shared-more').addEventListener('click', more);
    page(data);
    $('#shared-board').hidden = false;
    return;
  }
  const im = data.image;
  const img = $('#shared-img');
  img.src = im.image_url;
  img.alt = im.prompt;
  if (im.width && im.height) { img.width = im.width; img.height = im.height; }
  $('#shared-prompt').textContent = im.prompt;
  $('#shared-download').href = im.download_url;
  expiry($('#shared-expiry'), data.expires_at);
  document.title = `${im.prompt.slice(0, 60)} · nanobanana`;
  $('#shared-figure').hidden = false;
}

show();
