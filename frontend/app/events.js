// The live event stream. EventSource cannot send headers, so the access token rides in
// the query; when the token is renewed the stream is reopened with the new one and the
// last seen event id, so nothing is missed in between.
import * as api from './api.js';

let es = null;
let lastId = '';
let timer = 0;
let backoff = 1000;
let handler = () => {};
let onState = () => {};
let onOpen = () => {};
let wanted = false;
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

function open() {
  clearTimeout(timer);
  if (es) es.close();
  es = null;
  parked = false;
  const tok = api.token();
  if (!wanted || !tok) return;
  let url = `/api/v1/events?access_token=${encodeURIComponent(tok)}`;
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
  // The last event of a stream the server ends because this account has too many open
  // (code too_many_streams). Reopening at once would close another tab's, which would
  // reopen and close this one again: only a tab in view reopens, after a pause that
  // grows while it keeps being closed; a hidden tab waits until it is shown.
  src.addEventListener('closed', () => {
    if (es !== src) return;
    src.close();
    es = null;
    clearTimeout(settled);
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
    // means it gave up (an HTTP error such as an expired token): renew and reopen.
    if (src.readyState === EventSource.CLOSED) {
      src.close();
      es = null;
      timer = setTimeout(async () => {
        await api.refresh();
        open();
      }, backoff);
      backoff = Math.min(backoff * 2, 30000);
    }
  };
}

api.on('token', () => { if (wanted && !parked) open(); });
api.on('online', (up) => { if (up && wanted && !es && !parked) open(); });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && parked && wanted && !es) open();
});
