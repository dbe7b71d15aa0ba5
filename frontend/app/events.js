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

function open() {
  clearTimeout(timer);
  if (es) es.close();
  es = null;
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
      timer = setTimeout(async () => {
        await api.refresh();
        open();
      }, backoff);
      backoff = Math.min(backoff * 2, 30000);
    }
  };
}

api.on('token', () => { if (wanted) open(); });
api.on('online', (up) => { if (up && wanted && !es) open(); });
