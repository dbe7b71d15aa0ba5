// Settings: the user's Replicate key, the password, and signing out everywhere.
import * as api from './api.js';
import { t, onLanguage } from './i18n.js';
import { $, announce, showError, confirm } from './ui.js';

let key = { has_api_key: false };
let meta = {};
let onKey = () => {};

function render() {
  const state = $('#key-state');
  if (key.has_api_key) {
    state.textContent = `${t('keySet', key.last4 || '????')} ${key.verified ? t('keyVerified') : t('keyUnverified')}`;
    state.className = `key-state ${key.verified ? 'ok' : 'warn'}`;
  } else {
    state.textContent = meta.has_global_api_key ? t('keyNoneGlobal') : t('keyNone');
    state.className = 'key-state';
  }
  $('#key-remove').hidden = !key.has_api_key;
  onKey(key);
}

export function setKey(k) { key = { has_api_key: !!k.has_api_key, last4: k.last4 ?? k.api_key_last4, verified: k.verified ?? k.api_key_verified }; render(); }

export async function load() {
  try { setKey(await api.get('/users/api-key')); } catch (err) { announce(err.message, 'error'); }
}

export function init(m, { keyChanged, signedOutAll }) {
  meta = m;
  onKey = keyChanged;
  const kf = $('#key-form');
  kf.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(kf, null);
    const value = kf.elements.api_key.value.trim();
    if (!value) return showError(kf, { message: t('apiKeyLabel'), fields: [{ field: 'api_key' }] });
    try {
      setKey(await api.put('/users/api-key', { api_key: value }));
      kf.reset();
      announce(t('keySaved'));
    } catch (err) {
      showError(kf, err);
    }
  });
  $('#key-remove').addEventListener('click', async () => {
    if (!(await confirm(t('confirmRemoveKey'), t('removeKey')))) return;
    try {
      await api.del('/users/api-key');
      setKey({ has_api_key: false });
      announce(t('keyRemoved'));
    } catch (err) { announce(err.message, 'error'); }
  });
  const pf = $('#pw-form');
  pf.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(pf, null);
    try {
      await api.put('/auth/password', { current_password: pf.elements.current_password.value, new_password: pf.elements.new_password.value });
      pf.reset();
      // Other sessions end with the change; this one renews through its cookie.
      await api.refresh();
      announce(t('pwChanged'));
    } catch (err) {
      showError(pf, err);
    }
  });
  $('#signout-all').addEventListener('click', async () => {
    if (!(await confirm(t('confirmSignOutAll'), t('signOutAll')))) return;
    try {
      await api.logoutAll();
      signedOutAll();
    } catch (err) { announce(err.message, 'error'); }
  });
  if (m.version) $('#version').textContent = t('version', m.version);
  onLanguage(() => { render(); if (m.version) $('#version').textContent = t('version', m.version); });
}
