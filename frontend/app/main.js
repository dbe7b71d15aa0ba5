// Boot: language, server facts (/meta), a silent session resume from the refresh cookie,
// then the views. Paths (/, /gallery, /settings) are client-side routes; the server
// answers index.html for them.
import * as api from './api.js';
import * as i18n from './i18n.js';
import { $, announce, showError, confirm } from './ui.js';
import { passwordField, checkSignup, checkSignin, invalid } from './forms.js';
import * as theme from './theme.js';
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
let shown = null; // the view on screen
const scrolls = {}; // each view's scroll position, restored when it comes back
const SEEN = 'nanobanana.signedInBefore';

function routeOf(pathname) {
  return Object.keys(views).find((k) => views[k] === pathname.replace(/\/+$/, '') || (k === 'create' && pathname === '/')) || 'create';
}

function show(view) {
  const signedIn = !!user;
  if (view === 'admin' && !user?.is_admin) view = 'create';
  $('#nav-admin').hidden = !user?.is_admin;
  if (!signedIn) view = 'auth';
  if (shown && shown !== view) scrolls[shown] = window.scrollY;
  $('#booting').hidden = true;
  $('#view-auth').hidden = signedIn;
  $('#nav').hidden = !signedIn;
  $('#signout').hidden = !signedIn;
  $('#whoami').hidden = !signedIn;
  for (const k of Object.keys(views)) $(`#view-${k}`).hidden = !signedIn || k !== view;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.nav === view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (shown !== view) window.scrollTo(0, scrolls[view] || 0);
  shown = view;
  title();
  if (signedIn && view === 'gallery') gallery.visible();
  if (signedIn && view === 'admin') admin.visible(); else admin.hidden();
}

// The tab's title names the view: "Gallery — Nano Banana".
function title() {
  if (!shown) return;
  const key = `title_${shown}`;
  const name = i18n.t(key) === key ? i18n.t(`nav${shown[0].toUpperCase()}${shown.slice(1)}`) : i18n.t(key);
  document.title = `${name} — ${i18n.t('appName')}`;
}

function navigate(view, push = true) {
  if (push && location.pathname !== views[view]) history.pushState({}, '', views[view]);
  show(view);
}

// With no key of the user's and none shared by the server, Generate is off and the
// notice says why, with a link to Settings.
function keyChanged(k) {
  const none = !k.has_api_key && !meta?.has_global_api_key;
  $('#nokey-notice').hidden = !none;
  generate.setBlocked(none);
}

function signedIn(u) {
  user = u;
  try { localStorage.setItem(SEEN, '1'); } catch { /* only the first card's choice depends on it */ }
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
  pickAuth('signin'); // a person who just signed out signs in next
  show('auth');
  if (message) announce(message);
}

function pickAuth(which) {
  for (const k of ['signin', 'signup']) {
    $(`#tab-${k}`).setAttribute('aria-selected', String(k === which));
    $(`#form-${k}`).hidden = k !== which;
  }
}

function authForms() {
  const pick = pickAuth;
  $('#tab-signin').addEventListener('click', () => pick('signin'));
  $('#tab-signup').addEventListener('click', () => pick('signup'));
  // A browser that never signed in here belongs, most likely, to a newcomer: where anyone
  // may sign up (registration "open"; by invitation, the invitation link opens the card).
  let seen = false;
  try { seen = !!localStorage.getItem(SEEN); } catch { /* treated as new */ }
  const open = meta?.registration ? meta.registration === 'open' : meta?.registration_open;
  if (!seen && open) pick('signup');
  const si = $('#form-signin');
  si.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(si, null);
    const problems = checkSignin(si);
    if (problems.length) return showError(si, invalid(problems));
    try {
      signedIn(await api.login(si.elements.username.value.trim(), si.elements.password.value));
      si.reset();
    } catch (err) { showError(si, err); }
  });
  const su = $('#form-signup');
  passwordField(su.elements.password, $('#signup-pw-hint'), () => su.elements.username.value);
  su.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(su, null);
    const problems = checkSignup(su);
    if (problems.length) return showError(su, invalid(problems));
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
  history.scrollRestoration = 'manual'; // each view keeps its own place (show)
  const langSel = $('#lang');
  langSel.value = i18n.current();
  langSel.addEventListener('change', () => i18n.setLanguage(langSel.value));
  i18n.onLanguage(title);
  theme.init($('#theme'));
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
    // On a phone the button sits where a thumb passes: one stray tap must not sign out.
    if (matchMedia('(max-width: 760px)').matches && !(await confirm(i18n.t('confirmSignOut'), i18n.t('signOut')))) return;
    try { await api.logout(); } catch { /* signed out locally either way */ }
    signedOut(i18n.t('signedOut'));
  });

  // A silent resume only when a session may exist (the server's nb_session cookie): a
  // first visit asks nothing that must fail.
  document.addEventListener('nb:nokey', () => settings.setKey({ has_api_key: false }));
  const u = api.maySignIn() ? await api.refresh() : null;
  if (u) signedIn(u); else show('auth');
}

boot().catch((err) => {
  $('#booting').textContent = err.message || String(err);
});
