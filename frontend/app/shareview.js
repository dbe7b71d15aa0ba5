// The public page of a share link (/s/{token}): no account, no session, nothing of the
// owner's but the image and its prompt. Every open asks the server, so a revoked or
// expired link shows that at once.
import { t, apply, current } from './i18n.js';

const $ = (sel) => document.querySelector(sel);

async function show() {
  apply(document);
  const token = location.pathname.replace(/^\/s\//, '').replace(/\/+$/, '');
  let info = null;
  if (/^[0-9a-f]{32}$/.test(token)) {
    try {
      const res = await fetch(`/api/v1/shared/info/${token}`, { cache: 'no-store', credentials: 'omit', headers: { Accept: 'application/json' } });
      if (res.ok) info = await res.json();
    } catch { /* shown as gone */ }
  }
  $('#shared-loading').hidden = true;
  if (!info) {
    $('#shared-gone').hidden = false;
    return;
  }
  const img = $('#shared-img');
  img.src = info.image_url;
  img.alt = info.prompt;
  if (info.width && info.height) { img.width = info.width; img.height = info.height; }
  $('#shared-prompt').textContent = info.prompt;
  $('#shared-download').href = info.download_url;
  if (info.expires_at) {
    $('#shared-expiry').textContent = t('sharedExpires', new Date(info.expires_at).toLocaleString(current()));
    $('#shared-expiry').hidden = false;
  }
  document.title = `${info.prompt.slice(0, 60)} · nanobanana`;
  $('#shared-figure').hidden = false;
}

show();
