// Boot: language, server facts (/meta), a silent session resume from the refresh cookie,
// then the views. Paths (/, /gallery, /settings) are client-side routes; the server
// answers index.html for them.
import * as api from './api.js';
import * as i18n from './i18n.js';
import { $, announce, showError } from './ui.js';
import * as store from './store.js';
import * as events from './events.js';
import * as generate from './generate.js';
import * as queue from './queue.js';
import * as gallery from './gallery.js';
import * as prompts from './history.js';
import * as settings from './settings.js';
import * as admin from './admin.js';
import * as batches from './batches.js';
import * as spending from './spending.js';
import * as select from './select.js';
import * as share from './share.js';

const views = { create: '/', gallery: '/gallery', settings: '/settings', admin: '/admin' };
let user = null;
let meta = null;
let started = false;

function routeOf(pathname) {
  return Object.keys(views).find((k) => views[k] === pathname.replace(/\/+$/, '') || (k === 'create' && pathname === '/')) || 'create';
}

function show(view) {
  const signedIn = !!user;
  if (view === 'admin' && !user?.is_admin) view = 'create';
  $('#nav-admin').hidden = !user?.is_admin;
  $('#booting').hidden = true;
  $('#view-auth').hidden = signedIn;
  $('#nav').hidden = !signedIn;
  $('#signout').hidden = !signedIn;
  $('#whoami').hidden = !signedIn;
  for (const k of Object.keys(views)) $(`#view-${k}`).hidden = !signedIn || k !== view;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.nav === view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (signedIn && view === 'gallery') gallery.visible();
  if (signedIn && view === 'admin') admin.visible(); else admin.hidden();
}

function navigate(view, push = true) {
  if (push && location.pathname !== views[view]) history.pushState({}, '', views[view]);
  show(view);
}

function keyChanged(k) {
  $('#nokey-notice').hidden = k.has_api_key || !!meta?.has_global_api_key;
}

function signedIn(u) {
  user = u;
  // The request that found the last session ended left its sentence in its form (after
  // the sign-out ran); it must not greet this sign-in.
  for (const f of document.querySelectorAll('form')) if (f.querySelector('[data-error]')) showError(f, null);
  $('#whoami').textContent = u.username;
  admin.setUser(u);
  settings.setKey(u);
  if (!started) {
    started = true;
    events.start((g) => (g.status === 'deleted' ? store.drop(store.idOf(g)) : store.upsert(g, true)), {
      state: (up, parked) => {
        document.documentElement.dataset.stream = up ? 'live' : parked ? 'parked' : 'lost';
        $('#stream-state').hidden = up;
        $('#stream-state').textContent = i18n.t(parked ? 'streamParked' : 'streamLost');
        // A dropped stream is often the first sign of a stopped server; one cheap request
        // tells, so the banner shows without waiting for the user's next action.
        if (!up && !parked && api.isOnline()) api.request('/meta', { auth: false }).catch(() => {});
      },
      opened: () => queue.catchUp(store.upsert),
    });
    gallery.reload();
    settings.load();
    share.load();
    batches.load();
  }
  spending.refresh();
  navigate(routeOf(location.pathname), false);
}

function signedOut(message) {
  user = null;
  started = false;
  events.stop();
  store.clear();
  queue.reset();
  spending.clear();
  select.reset();
  share.reset();
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  show('auth');
  if (message) announce(message);
}

function authForms() {
  const tabs = { signin: $('#tab-signin'), signup: $('#tab-signup') };
  const pick = (which) => {
    for (const [k, tab] of Object.entries(tabs)) {
      tab.setAttribute('aria-selected', String(k === which));
      $(`#form-${k}`).hidden = k !== which;
    }
  };
  tabs.signin.addEventListener('click', () => pick('signin'));
  tabs.signup.addEventListener('click', () => pick('signup'));
  const si = $('#form-signin');
  si.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(si, null);
    try {
      signedIn(await api.login(si.elements.username.value.trim(), si.elements.password.value));
      si.reset();
    } catch (err) { showError(si, err); }
  });
  const su = $('#form-signup');
  su.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(su, null);
    try {
      signedIn(await api.register(su.elements.username.value.trim(), su.elements.email.value.trim(), su.elements.password.value, su.elements.invitation.value));
      su.reset();
      if (location.hash.startsWith('#/invite/')) history.replaceState({}, '', location.pathname);
    } catch (err) { showError(su, err); }
  });
  // An invitation comes as /#/invite/<token> (the fragment never reaches a server's
  // logs) or ?invite=<token>.
  const invitation = (location.hash.match(/^#\/invite\/([\w-]+)$/) || [])[1] || new URLSearchParams(location.search).get('invite') || '';
  su.elements.invitation.value = invitation;
  const mode = meta?.registration || (meta?.registration_open ? 'open' : 'closed');
  if (mode === 'closed' || (mode === 'invite' && !invitation)) {
    $(mode === 'closed' ? '#signup-closed' : '#signup-invite-only').hidden = false;
    for (const el of su.querySelectorAll('input, button')) el.disabled = true;
  } else if (invitation) {
    $('#signup-invited').hidden = false;
    pick('signup');
  }
}

// Offline: show the banner and look for the server again with growing pauses.
let probe = 0;
let probeDelay = 2000;
function offline(up) {
  $('#offline-banner').hidden = up;
  clearTimeout(probe);
  if (up) { probeDelay = 2000; return; }
  probe = setTimeout(async function again() {
    try { await api.get('/meta'); } catch { probeDelay = Math.min(probeDelay * 2, 30000); probe = setTimeout(again, probeDelay); }
  }, probeDelay);
}

async function loadMeta() {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 15000)) {
    try { return await api.request('/meta', { auth: false }); } catch (err) {
      if (!err.offline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

async function boot() {
  i18n.apply(document);
  const langSel = $('#lang');
  langSel.value = i18n.current();
  langSel.addEventListener('change', () => i18n.setLanguage(langSel.value));
  api.on('online', offline);
  $('#offline-retry').addEventListener('click', () => { probeDelay = 0; offline(false); });
  api.on('signedOut', (msg) => signedOut(msg || i18n.t('sessionEnded')));

  meta = await loadMeta();
  $('#demo-banner').hidden = !meta.demo;
  generate.init(meta);
  batches.init(meta); // before the queue draws: its controls go into the form and the queue
  spending.init();
  queue.init(meta);
  gallery.init(navigate);
  select.init();
  share.init();
  prompts.init();
  settings.init(meta, { keyChanged, signedOutAll: () => signedOut(i18n.t('signedOut')) });
  admin.init();
  authForms();

  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-nav]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    if (user) navigate(a.dataset.nav);
  });
  window.addEventListener('popstate', () => { if (user) show(routeOf(location.pathname)); });
  $('#signout').addEventListener('click', async () => {
    try { await api.logout(); } catch { /* signed out locally either way */ }
    signedOut(i18n.t('signedOut'));
  });

  const u = await api.refresh();
  if (u) signedIn(u); else show('auth');
}

boot().catch((err) => {
  $('#booting').textContent = err.message || String(err);
});
