// The generations this page knows about, by id, shared by the queue and the gallery.
// Every source (POST answers, list pages, the event stream) goes through upsert, so the
// views only ever render what is here.
export const gens = new Map();
const subs = [];

export const ACTIVE = new Set(['pending', 'running']);

export function idOf(g) { return g.id || g.image_id; }

export function upsert(g) {
  const id = idOf(g);
  if (!id) return null;
  const prev = gens.get(id);
  const next = { ...prev, ...g, id };
  gens.set(id, next);
  for (const fn of subs) fn(next, prev);
  return next;
}

export function drop(id) {
  const prev = gens.get(id);
  if (!prev) return;
  gens.delete(id);
  for (const fn of subs) fn(null, prev);
}

export function clear() {
  gens.clear();
  for (const fn of subs) fn(null, null);
}

export function subscribe(fn) { subs.push(fn); }
