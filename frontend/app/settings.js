// Settings: the user's Replicate key, personal access tokens, the password, and signing
// out everywhere.
import * as api from './api.js';
import { t, onLanguage, current, ago } from './i18n.js';
import { $, h, announce, showError, confirm } from './ui.js';
import { passwordField, checkNewPassword, invalid } from './forms.js';

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
  await loadTokens();
}

export function init(m, { keyChanged, signedOutAll }) {
  meta = m;
  onKey = keyChanged;
  const kf = $('#key-form');
  kf.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(kf, null);
    const value = kf.elements.api_key.value.trim();
    if (!value) return showError(kf, { message: t('keyEmpty'), fields: [{ field: 'api_key' }] });
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
  const me = () => $('#whoami').textContent;
  passwordField(pf.elements.new_password, $('#pw-new-hint'), me);
  pf.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(pf, null);
    const problems = checkNewPassword(pf, me());
    if (problems.length) return showError(pf, invalid(problems));
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
  initTokens();
  if (m.version) $('#version').textContent = t('version', m.version);
  onLanguage(() => { render(); if (m.version) $('#version').textContent = t('version', m.version); });
}

// Personal access tokens: made here (the secret shown once), listed, revoked.
function when(s) { return s ? new Date(s).toLocaleString(current()) : ''; }

function tokenItem(tk) {
  return h('li', { class: 'tok', dataset: { id: tk.id } },
    h('div', {},
      h('strong', { class: 'tok-name' }, tk.name), ' ',
      h('code', {}, `${tk.prefix}…`), ' ',
      h('span', { class: 'tok-scopes' }, tk.scopes.join(', ')),
      h('p', { class: 'muted small' }, t('tokenMeta', when(tk.created_at), tk.last_used_at ? ago(tk.last_used_at) : '', when(tk.expires_at)))),
    h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!(await confirm(t('confirmRevoke', tk.name), t('revoke')))) return;
      try {
        await api.del(`/tokens/${tk.id}`);
        $('#tok-new').hidden = true;
        announce(t('tokenRevoked'));
        await loadTokens();
      } catch (err) { announce(err.message, 'error'); }
    } }, t('revoke')));
}

let tokenList = [];
function renderTokens() {
  $('#tok-list').replaceChildren(...tokenList.map(tokenItem));
  $('#tok-empty').hidden = tokenList.length > 0;
}

export async function loadTokens() {
  try {
    tokenList = (await api.get('/tokens')).items || [];
    renderTokens();
  } catch (err) { announce(err.message, 'error'); }
}

export function initTokens() {
  const tf = $('#tok-form');
  tf.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(tf, null);
    const name = tf.elements.name.value.trim();
    const scopes = [...tf.querySelectorAll('input[name=scope]:checked')].map((c) => c.value);
    if (!name) return showError(tf, { message: t('tokenNameMissing'), fields: [{ field: 'name' }] });
    if (!scopes.length) return showError(tf, { message: t('tokenScopeMissing'), fields: [] });
    try {
      const tk = await api.post('/tokens', { name, scopes, expires_in_days: Number(tf.elements.expires_in_days.value) });
      $('#tok-secret').value = tk.token;
      $('#tok-new').hidden = false;
      $('#tok-secret').select();
      tf.elements.name.value = '';
      announce(t('tokenCreated'));
      await loadTokens();
    } catch (err) {
      showError(tf, err);
    }
  });
  onLanguage(renderTokens);
}
