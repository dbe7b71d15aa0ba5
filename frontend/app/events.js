// The live event stream. EventSource cannot send headers, so the stream is opened with a
// short-lived ticket (POST /events/ticket) in the query, never the access token; when
// the token is renewed the stream is reopened with a new ticket and the last seen event
// id, so nothing is missed in between. The server ends a stream with a last "closed"
// event whose code says why: its token expired or its session ended (a refresh renews
// the token, or fails and signs the app out), or the account has more streams open than
// allowed (too_many_streams: only a tab in view reopens).
import * as api from './api.js';

let es = null;
let lastId = '';
let timer = 0;
let backoff = 1000;
let handler = () => {};
let onState = () => {};
let onOpen = () => {};
let wanted = false;
let opening = 0;
// The server closes a user's oldest stream when they open more than it allows (tabs):
// parked is set when this tab's was, while the tab is hidden; it opens again when shown.
let parked = false;
let evictions = 0; // in a row: a tab in view that keeps being closed backs off
let settled = 0;

export function start(fn, { state, opened } = {}) {
  handler = fn;
  if (state) onState = state;
  if (opened) onOpen = opened;
  wanted = true;
  open();
}

export function stop() {
  wanted = false;
  parked = false;
  clearTimeout(timer);
  clearTimeout(settled);
  if (es) es.close();
  es = null;
  lastId = '';
}

export function lastEventId() { return lastId; }

async function open() {
  clearTimeout(timer);
  if (es) es.close();
  es = null;
  parked = false;
  const seq = ++opening;
  if (!wanted || !api.token()) return;
  let ticket;
  try {
    ticket = (await api.request('/events/ticket', { method: 'POST' })).ticket;
  } catch {
    if (seq === opening && wanted) retryLater();
    return;
  }
  if (seq !== opening || !wanted) return; // superseded while the ticket was asked for
  let url = `/api/v1/events?ticket=${encodeURIComponent(ticket)}`;
  if (lastId) url += `&last_event_id=${encodeURIComponent(lastId)}`;
  const src = new EventSource(url);
  es = src;
  src.addEventListener('generation', (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
    let g;
    try { g = JSON.parse(e.data); } catch { return; }
    handler(g);
  });
  // A deleted generation arrives as its own event carrying only the id.
  src.addEventListener('deleted', (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
    let g;
    try { g = JSON.parse(e.data); } catch { return; }
    handler({ ...g, status: 'deleted' });
  });
  src.addEventListener('closed', (e) => {
    if (es !== src) return;
    src.close();
    es = null;
    clearTimeout(settled);
    let d = {};
    try { d = JSON.parse(e.data); } catch { /* keep {} */ }
    if (d.code !== 'too_many_streams') {
      // The token expired or the session ended: a refresh renews the token, and a new
      // token reopens the stream ('token' below); when the session ended, the refresh
      // fails and the app signs out.
      onState(false);
      api.refresh();
      return;
    }
    // Reopening at once would close another tab's stream, which would reopen and close
    // this one again: only a tab in view reopens, after a pause that grows while it
    // keeps being closed; a hidden tab waits until it is shown.
    if (document.visibilityState === 'visible') {
      onState(false);
      evictions++;
      timer = setTimeout(open, Math.min(1000 * 2 ** (evictions - 1), 60000));
    } else {
      parked = true;
      onState(false, true);
    }
  });
  src.onopen = () => {
    backoff = 1000;
    onState(true);
    onOpen();
    // A stream that stays open a minute ends a run of closings.
    clearTimeout(settled);
    settled = setTimeout(() => { evictions = 0; }, 60000);
  };
  src.onerror = () => {
    if (es !== src) return;
    onState(false);
    // CONNECTING means the browser retries by itself (sending Last-Event-ID); CLOSED
    // means it gave up (an HTTP error such as an expired ticket): renew and reopen.
    if (src.readyState === EventSource.CLOSED) {
      src.close();
      es = null;
      retryLater(true);
    }
  };
}

// retryLater reopens the stream after a growing pause, renewing the token first when
// the stream was refused.
function retryLater(renew = false) {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (renew) await api.refresh();
    open();
  }, backoff);
  backoff = Math.min(backoff * 2, 30000);
}

api.on('token', () => { if (wanted && !parked) open(); });
api.on('online', (up) => { if (up && wanted && !es && !parked) open(); });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && parked && wanted && !es) open();
});
