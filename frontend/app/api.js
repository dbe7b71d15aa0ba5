// The API client. The access token lives only in this module's memory; the refresh token
// is an HttpOnly cookie the server sets when asked with X-Refresh-Cookie, so no script
// (ours or an injected one) can read a long-lived credential.
import { t, current, errorText, errorKeepsDetail, fieldText } from './i18n.js';

const BASE = '/api/v1';
let accessToken = '';
let renewTimer = 0;
let refreshing = null;
let leaving = false; // set while (and after) this page signs out, until the next sign-in
const handlers = { token: [], signedOut: [], online: [] };
let online = true;

export class ApiError extends Error {
  constructor(status, detail, fields, offline = false, code = '') {
    super(detail);
    this.status = status;
    this.fields = fields || [];
    this.offline = offline;
    this.code = code;
  }
}

// A conflict that clears by itself (a retry right after a cancel) says so with
// Retry-After: the call waits and is sent again, up to this long in all, instead of
// showing an error.
const conflictPatience = 30_000;

export function on(name, fn) { handlers[name].push(fn); }
function emit(name, v) { for (const fn of handlers[name]) fn(v); }

export function token() { return accessToken; }
export function isOnline() { return online; }

function setOnline(v) {
  if (v === online) return;
  online = v;
  emit('online', v);
}

async function send(path, { method = 'GET', json, body, auth = true, headers = {} } = {}) {
  // The server words its error sentences in the page's language, not the browser's.
  const h = { Accept: 'application/json', 'Accept-Language': current(), ...headers };
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  if (auth && accessToken) h.Authorization = `Bearer ${accessToken}`;
  let res;
  try {
    res = await fetch(BASE + path, { method, headers: h, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    setOnline(false);
    throw new ApiError(0, t('unreachable'), [], true);
  }
  // A proxy in front of a stopped server answers 502/503/504 with its own page, or (the
  // shipped nginx site) with JSON whose code is "unavailable"; the app's own 502 is
  // Replicate's failure, not ours.
  if ([502, 503, 504].includes(res.status)) {
    let down = !(res.headers.get('Content-Type') || '').includes('json');
    if (!down && res.status !== 503) {
      try { down = (await res.clone().json()).code === 'unavailable'; } catch { down = true; }
    }
    if (down) {
      setOnline(false);
      throw new ApiError(res.status, t('unreachable'), [], true);
    }
  }
  setOnline(true);
  return res;
}

async function readError(res) {
  let detail = '', fields = [], code = '';
  try {
    const data = await res.json();
    if (typeof data.detail === 'string') detail = data.detail;
    else if (Array.isArray(data.detail)) detail = data.detail.map((d) => d.msg || d.message).filter(Boolean).join(' ');
    fields = Array.isArray(data.fields) ? data.fields : [];
    if (typeof data.code === 'string') code = data.code;
  } catch { /* not JSON */ }
  // The page words the message by the code (messages.js); the server's sentence stays in
  // err.detail. A refused field says what to write in it.
  const wait = Number(res.headers.get('Retry-After')) * 1000 || 0;
  // An invalid request without fields has only the server's sentence to say what is
  // wrong; some codes' sentences carry values (errorKeepsDetail).
  const f = code === 'invalid' && fields[0];
  const byCode = (code === 'invalid' && !f) || (errorKeepsDetail(code) && detail) ? '' : errorText(code, wait);
  const message = (f && (fieldText(f.field) || f.message)) || byCode || detail || t('unexpected');
  const err = new ApiError(res.status, message, fields, false, code);
  err.detail = detail;
  return err;
}

// request sends one call; a 401 with a token triggers one silent refresh and a retry.
export async function request(path, opts = {}) {
  let res = await send(path, opts);
  if (res.status === 401 && opts.auth !== false && accessToken) {
    if (await refresh()) res = await send(path, opts);
  }
  const deadline = Date.now() + conflictPatience;
  for (;;) {
    const wait = res.status === 409 ? Number(res.headers.get('Retry-After')) * 1000 : 0;
    if (!(wait > 0) || Date.now() + wait > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, wait));
    res = await send(path, opts);
  }
  if (!res.ok) {
    const err = await readError(res);
    if (res.status === 401 && opts.auth !== false) signedOut(err.message);
    throw err;
  }
  if (res.status === 204) return null;
  const ct = res.headers.get('Content-Type') || '';
  return ct.includes('json') ? res.json() : null;
}

function adopt(pair) {
  leaving = false;
  accessToken = pair.access_token;
  clearTimeout(renewTimer);
  // Renew well before expiry so requests and the event stream never meet a dead token.
  const secs = Math.max(15, Math.floor((pair.expires_in || 600) * 0.8));
  renewTimer = setTimeout(() => { refresh(); }, Math.min(secs, 2_000_000) * 1000);
  emit('token', pair);
  return pair.user;
}

const cookieHeaders = { 'X-Refresh-Cookie': '1' };

export async function login(username, password) {
  return adopt(await request('/auth/login', { method: 'POST', json: { username, password }, auth: false, headers: cookieHeaders }));
}

export async function register(username, email, password, invitation = '') {
  const json = { username, email, password };
  if (invitation) json.invitation = invitation;
  return adopt(await request('/auth/register', { method: 'POST', json, auth: false, headers: cookieHeaders }));
}

// maySignIn tells whether a session may exist: the server sets the readable cookie
// nb_session (no secret in it) beside the HttpOnly refresh cookie, with the same
// lifetime, and clears both together. Without it a silent refresh could only fail.
export function maySignIn() {
  return document.cookie.split(';').some((c) => c.trim() === 'nb_session=1');
}

// refresh renews the access token from the cookie; concurrent callers share one request,
// since the server rotates refresh tokens and a second use would end the session.
export function refresh() {
  // Signing out ends this session on the server first: its event stream then closes and
  // asks for a refresh that could only fail.
  if (leaving) return Promise.resolve(null);
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const res = await send('/auth/refresh', { method: 'POST', auth: false, headers: cookieHeaders });
        if (!res.ok) {
          if (res.status === 401 && accessToken) signedOut(t('sessionEnded'));
          return null;
        }
        return adopt(await res.json());
      } catch {
        return null;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

function forget() {
  accessToken = '';
  clearTimeout(renewTimer);
}

function signedOut(message) {
  if (!accessToken) return;
  forget();
  emit('signedOut', message);
}

export async function logout() {
  leaving = true;
  try { await send('/auth/logout', { method: 'POST', auth: false, headers: cookieHeaders }); } finally { forget(); }
}

export async function logoutAll() {
  await request('/auth/logout-all', { method: 'POST' });
  forget();
}

export function get(path) { return request(path); }
export function post(path, json) { return request(path, { method: 'POST', json }); }
export function put(path, json) { return request(path, { method: 'PUT', json }); }
export function del(path) { return request(path, { method: 'DELETE' }); }
export function upload(path, form) { return request(path, { method: 'POST', body: form }); }
