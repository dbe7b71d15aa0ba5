// The generations this page knows about, by id, shared by the queue and the gallery.
// Every source (POST answers, list pages, the event stream) goes through upsert, so the
// views only ever render what is here.
//
// State only moves forward. Answers and events race: the answer to Generate can arrive
// after the stream said "running", a list page read a moment ago can arrive after a
// "completed" event. A generation goes pending -> running -> completed, failed or
// canceled; the one way back is a retry (failed or canceled -> pending), which is
// believed only from the stream or from the retry's own answer (fresh). Within a
// status, an older attempt never replaces a newer one. A deleted generation stays gone.
export const gens = new Map();
const subs = [];
const deleted = new Set();

export const ACTIVE = new Set(['pending', 'running']);
const RANK = { pending: 0, running: 1, completed: 2, failed: 2, canceled: 2 };

export function idOf(g) { return g.id || g.image_id; }

// newer tells whether g (from an event when fresh) may replace prev.
function newer(prev, g, fresh) {
  if (!g.status || !prev.status) return true;
  const a = RANK[prev.status] ?? 0;
  const b = RANK[g.status] ?? 0;
  if (b > a) return true;
  if (b === a) {
    if (a === 2 && g.status !== prev.status) return fresh;
    return (g.attempt ?? 0) >= (prev.attempt ?? 0);
  }
  return fresh && g.status === 'pending' && (prev.status === 'failed' || prev.status === 'canceled');
}

// upsert merges g into the store; fresh marks an event of the stream or the answer of
// the action that made the change (a retry), which may move a finished one back to
// pending. It returns what the store holds for g's id now.
export function upsert(g, fresh = false) {
  const id = idOf(g);
  if (!id || deleted.has(id)) return null;
  const prev = gens.get(id);
  if (prev && !newer(prev, g, fresh)) return prev;
  const next = { ...prev, ...g, id };
  gens.set(id, next);
  for (const fn of subs) fn(next, prev);
  return next;
}

export function drop(id) {
  deleted.add(id);
  const prev = gens.get(id);
  if (!prev) return;
  gens.delete(id);
  for (const fn of subs) fn(null, prev);
}

export function clear() {
  gens.clear();
  deleted.clear();
  for (const fn of subs) fn(null, null);
}

export function subscribe(fn) { subs.push(fn); }
