// The live event stream. EventSource cannot send headers, so the stream is opened with a
// short-lived ticket (POST /events/ticket) in the query, never the access token; when
// the token is renewed the stream is reopened with a new ticket and the last seen event
// id, so nothing is missed in between. The server ends a stream with an "end" event
// when its token expires (reopened after a refresh) or its session ends (signed out).
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

export function start(fn, { state, opened } = {}) {
  handler = fn;
  if (state) onState = state;
  if (opened) onOpen = opened;
  wanted = true;
  open();
}

export function stop() {
  wanted = false;
  clearTimeout(timer);
  if (es) es.close();
  es = null;
  lastId = '';
}

export function lastEventId() { return lastId; }

async function open() {
  clearTimeout(timer);
  if (es) es.close();
  es = null;
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
  // The server's last event: the token expired or the session ended. A refresh renews
  // the token, and a new token reopens the stream ('token' below); when the session
  // ended, the refresh fails and the app signs out.
  src.addEventListener('end', () => {
    if (es !== src) return;
    src.close();
    es = null;
    onState(false);
    api.refresh();
  });
  src.onopen = () => {
    backoff = 1000;
    onState(true);
    onOpen();
  };
  src.onerror = () => {
    if (es !== src) return;
    onState(false);
    // CONNECTING means the browser retries by itself (sending Last-Event-ID); CLOSED
    // means it gave up (an HTTP error such as an expired token): renew and reopen.
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

api.on('token', () => { if (wanted) open(); });
api.on('online', (up) => { if (up && wanted && !es) open(); });
