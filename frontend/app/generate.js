// The generate form: prompt, settings, reference images and the price estimate.
// Submitting only waits for the server to accept the job, so several can be queued in a row.
import * as api from './api.js';
import { t, onLanguage } from './i18n.js';
import { $, h, announce, showError, usd } from './ui.js';
import { upsert } from './store.js';
import { count } from './batches.js';
import * as spending from './spending.js';

let meta = {};
// Each reference is a file chosen here (file, its object URL; uploadId once sent), an
// upload already on the server (uploadId and its signed url: a result made a reference,
// or the references of a generation whose settings were taken), or an https:// image
// (remote: Replicate fetches it).
const refs = []; // {file?, name, url, uploadId?, remote?, key}
let refSeq = 0;
const labelsFor = {
  safety_filter_level: (v) => ({ block_low_and_above: { en: 'Strict', ru: 'Строгий' }, block_medium_and_above: { en: 'Medium', ru: 'Средний' }, block_only_high: { en: 'Relaxed', ru: 'Мягкий' } })[v],
  aspect_ratio: (v) => (v === 'match_input_image' ? { en: 'Match input image', ru: 'Как у образца' } : null),
};

export function optionLabel(field, value) {
  const l = labelsFor[field]?.(value);
  const lang = document.documentElement.lang === 'ru' ? 'ru' : 'en';
  if (field === 'resolution' && meta.prices_usd?.[value] !== undefined) return `${value} · ${usd(meta.prices_usd[value])}`;
  if (field === 'output_format') return value.toUpperCase();
  return l ? l[lang] : value;
}

function fillSelect(id, values, def, reset = false) {
  const sel = $(`#${id}`);
  const keep = reset ? '' : sel.value;
  sel.replaceChildren(...(values || []).map((v) => h('option', { value: v }, optionLabel(id, v))));
  sel.value = keep && values?.includes(keep) ? keep : def;
}

function modeValue() { return $('#gen-form').elements.generation_mode.value; }

function renderSelects(modeChanged = false) {
  const i2i = modeValue() === 'image-to-image';
  const ratios = (meta.aspect_ratios || []).filter((r) => i2i || r !== 'match_input_image');
  fillSelect('resolution', meta.resolutions, '2K');
  // A new mode brings its own default ratio: the input's for image-to-image.
  fillSelect('aspect_ratio', ratios, i2i ? 'match_input_image' : '1:1', modeChanged);
  fillSelect('output_format', meta.output_formats, 'jpg');
  fillSelect('safety_filter_level', meta.safety_filter_levels, 'block_only_high');
}

function renderPrice() {
  const res = $('#resolution').value;
  const p = meta.prices_usd?.[res];
  $('#price').textContent = p === undefined ? '—' : `${usd(p)} ${t('perImage')} (${res})`;
}

function renderCount() {
  const n = [...$('#prompt').value].length;
  $('#prompt-count').textContent = t('chars', n, meta.max_prompt_length);
}

function maxMB() { return Math.round((meta.max_upload_bytes || 10 << 20) / (1 << 20)); }

function renderRefs() {
  const i2i = modeValue() === 'image-to-image';
  $('#refs').hidden = !i2i;
  $('#ref-limits').textContent = t('refLimits', meta.max_reference_images || 14, maxMB());
  // An https:// image is not loaded here (the page loads images from this server only):
  // it shows as its link.
  $('#ref-list').replaceChildren(...refs.map((r) => h('li', { class: 'ref', dataset: { upload: r.uploadId || '', url: r.remote ? r.url : '' } },
    r.remote ? h('a', { class: 'ref-link small', href: r.url, target: '_blank', rel: 'noopener noreferrer' }, hostOf(r.url))
      : h('img', { src: r.url, alt: r.name }),
    h('span', { class: 'ref-name small' }, r.name),
    h('button', { type: 'button', class: 'icon remove', 'aria-label': t('removeRef', r.name), title: t('remove'),
      onclick: () => removeRef(r.key) }, '✕'))));
}

function hostOf(url) {
  try { return new URL(url).host; } catch { return url; }
}

function removeRef(key) {
  const i = refs.findIndex((r) => r.key === key);
  if (i < 0) return;
  if (refs[i].file) URL.revokeObjectURL(refs[i].url);
  refs.splice(i, 1);
  renderRefs();
}

// sniff tells the image type from the first bytes, as the server will: the name and the
// browser's guess are not trusted.
async function sniff(file) {
  const b = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if ([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)) return 'image/png';
  const ascii = (from, to) => String.fromCharCode(...b.slice(from, to));
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return '';
}

export async function addFiles(files) {
  const errors = [];
  const max = meta.max_reference_images || 14;
  const limit = meta.max_upload_bytes || 10 << 20;
  for (const file of files) {
    if (refs.length >= max) { errors.push(t('refTooMany', max)); break; }
    const type = await sniff(file);
    if (!type) { errors.push(t('refBadType', file.name)); continue; }
    if (file.size > limit) { errors.push(t('refTooBig', file.name, maxMB())); continue; }
    refs.push({ file, name: file.name, type, url: URL.createObjectURL(file), key: ++refSeq });
  }
  $('#ref-errors').replaceChildren(...errors.map((e) => h('li', {}, e)));
  renderRefs();
}

async function uploadRefs() {
  const todo = refs.filter((r) => r.file && !r.uploadId);
  if (todo.length) {
    const form = new FormData();
    for (const r of todo) form.append('images', r.file, r.file.name);
    announce(t('uploading'));
    const res = await api.upload('/uploads', form);
    (res.uploads || []).forEach((u, i) => { if (todo[i]) todo[i].uploadId = u.id; });
  }
  return refs.filter((r) => r.uploadId).map((r) => r.uploadId);
}

// refsOf puts a list of references into a generate body: uploads by id, https://
// images as reference_images.
export function refsOf(ids, urls, body) {
  if (ids.length) body.reference_image_ids = ids;
  if (urls.length) body.reference_images = urls;
  return body;
}

const isUploadID = (v) => /^[0-9a-f]{32}$/.test(v);

// bodyOf is a generation's settings as a generate body (Vary: the same again).
export function bodyOf(g) {
  const body = {};
  for (const k of ['prompt', 'resolution', 'aspect_ratio', 'output_format', 'safety_filter_level', 'generation_mode']) if (g[k]) body[k] = g[k];
  const all = g.reference_image_ids || [];
  return refsOf(all.filter(isUploadID), all.filter((r) => !isUploadID(r)), body);
}

function settings() {
  const f = $('#gen-form').elements;
  return {
    prompt: f.prompt.value.trim(),
    resolution: f.resolution.value,
    aspect_ratio: f.aspect_ratio.value,
    output_format: f.output_format.value,
    safety_filter_level: f.safety_filter_level.value,
    generation_mode: modeValue(),
  };
}

// newKey is a fresh Idempotency-Key. crypto.randomUUID exists only in secure contexts
// (HTTPS, localhost); a server reached over plain HTTP on a LAN gets the same 122 random
// bits from getRandomValues.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

// queue queues one generation. key is its Idempotency-Key: sent again (a retry of the
// same submission) it answers the generation the first request made, so one click is
// one job however often its request goes out.
export async function queue(body, key = newKey()) {
  const res = await api.request('/images/generate', { method: 'POST', json: body, headers: { 'Idempotency-Key': key } });
  // With count, the answer is the first generation plus all of them (a batch).
  const { generations, ...first } = res;
  const { count: _n, ...settingsOnly } = body;
  const g = upsert({ ...settingsOnly, status: 'pending', created_at: new Date().toISOString(), ...first });
  for (const x of generations || []) upsert(x);
  announce(t('queued'));
  reveal(g);
  return g;
}

// retryable is the last submission whose answer never came (the network, or the
// server's fault): submitted again unchanged, it keeps its key, so a request that did
// reach the server is not queued twice.
let retryable = null; // {sig, key}

// sending marks the Generate button busy while its request is out: the form stays
// editable, but a second click cannot send the same submission again.
let blocked = false; // no key anywhere: Generate is off (main.js says why)

export function setBlocked(b) {
  blocked = b;
  const btn = $('#gen-submit');
  if (!btn.classList.contains('sending')) btn.disabled = b;
  if (b) btn.setAttribute('aria-describedby', 'nokey-notice'); else btn.removeAttribute('aria-describedby');
}

function sending(on) {
  const btn = $('#gen-submit');
  btn.disabled = on || blocked;
  btn.setAttribute('aria-busy', on ? 'true' : 'false');
  btn.classList.toggle('sending', on);
  btn.textContent = t(on ? 'sending' : 'generate');
}

// reveal brings the new job's row into view on a narrow screen, where the queue sits
// below the form: the tap on Generate is answered where the eye can see it.
function reveal(g) {
  if (!g?.id || !matchMedia('(max-width: 760px)').matches) return;
  requestAnimationFrame(() => {
    const row = document.querySelector(`#view-create [data-id="${CSS.escape(g.id)}"]`);
    // At once, not smoothly: a tap that follows must land where the page shows it.
    if (row) row.scrollIntoView({ block: 'center' });
  });
}

async function onSubmit(e) {
  e.preventDefault();
  if ($('#gen-submit').disabled) return; // Ctrl+Enter while a request is out
  const form = $('#gen-form');
  showError(form, null);
  const body = settings();
  if (count() > 1) body.count = count(); // a batch of variations (batches.js)
  const sig = JSON.stringify([body, refs.map((r) => r.key)]);
  const key = retryable?.sig === sig ? retryable.key : newKey();
  retryable = null;
  sending(true);
  try {
    if (!body.prompt) throw Object.assign(new Error(t('promptNeeded')), { fields: [{ field: 'prompt' }] });
    if (body.generation_mode === 'image-to-image') {
      if (!refs.length) throw new Error(t('refNeeded'));
      refsOf(await uploadRefs(), refs.filter((r) => r.remote).map((r) => r.url), body);
    }
    try {
      await queue(body, key);
    } catch (err) {
      // An upload no generation kept is removed after a while (or was deleted): send
      // the files again, once (the refused request stored no key: it is sent again).
      if (!refs.some((r) => r.file) || err.status !== 422 || !err.fields.some((f) => f.field === 'reference_image_ids')) throw err;
      for (const r of refs) if (r.file) delete r.uploadId;
      delete body.reference_image_ids;
      delete body.reference_images;
      refsOf(await uploadRefs(), refs.filter((r) => r.remote).map((r) => r.url), body);
      await queue(body, key);
    }
  } catch (err) {
    if (!err.status || err.status >= 500 || err.offline) retryable = { sig, key };
    // The key went away meanwhile (removed in another tab): the page learns it has none.
    if (err.code === 'no_api_key') document.dispatchEvent(new CustomEvent('nb:nokey'));
    showError(form, err);
  } finally {
    sending(false);
    spending.refresh();
  }
}

function clearRefs() {
  for (const r of refs) if (r.file) URL.revokeObjectURL(r.url);
  refs.length = 0;
  $('#ref-errors').replaceChildren();
}

function setMode(mode) {
  const f = $('#gen-form').elements;
  const changed = f.generation_mode.value !== mode;
  for (const r of f.generation_mode) r.checked = r.value === mode;
  renderSelects(changed);
}

// fill puts a generation's settings into the form ("use these settings"), its
// references included: its uploads by id, its https:// images as they were, each shown
// by its thumbnail.
export function fill(g) {
  const f = $('#gen-form').elements;
  f.prompt.value = g.prompt || '';
  const mode = g.generation_mode === 'image-to-image' ? 'image-to-image' : 'text-to-image';
  for (const r of f.generation_mode) r.checked = r.value === mode;
  renderSelects(true);
  for (const k of ['resolution', 'aspect_ratio', 'output_format', 'safety_filter_level']) {
    if (g[k] && [...f[k].options].some((o) => o.value === g[k])) f[k].value = g[k];
  }
  clearRefs();
  (g.reference_image_ids || []).forEach((ref, i) => {
    const url = g.reference_urls?.[i] || (isUploadID(ref) ? '' : ref);
    const name = t('refThumb', i + 1);
    refs.push(isUploadID(ref) ? { uploadId: ref, url, name, key: ++refSeq } : { remote: true, url, name, key: ++refSeq });
  });
  renderRefs();
  renderPrice();
  renderCount();
}

// fillForEdit takes a failed generation's settings to change its prompt: the prompt
// field is focused with its text selected.
export function fillForEdit(g) {
  fill(g);
  const p = $('#prompt');
  p.focus();
  p.select();
}

// addReference adds an upload already on the server (a result made a reference) to the
// form's references, switching to image-to-image.
export function addReference(upload, name) {
  if (modeValue() !== 'image-to-image') setMode('image-to-image');
  if (!refs.some((r) => r.uploadId === upload.id)) refs.push({ uploadId: upload.id, url: upload.url, name, key: ++refSeq });
  renderRefs();
  renderPrice();
}

// startEdit makes the form an image-to-image edit of one image: it is the only
// reference, the prompt is empty and focused for the instruction.
export function startEdit(upload, name) {
  clearRefs();
  addReference(upload, name);
  $('#prompt').value = '';
  renderCount();
  $('#prompt').focus();
}

export function init(m) {
  meta = m;
  const form = $('#gen-form');
  renderSelects();
  renderPrice();
  renderCount();
  renderRefs();
  form.addEventListener('submit', onSubmit);
  $('#prompt').addEventListener('input', renderCount);
  $('#prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  $('#resolution').addEventListener('change', renderPrice);
  for (const r of form.elements.generation_mode) r.addEventListener('change', () => { renderSelects(true); renderRefs(); renderPrice(); });
  $('#ref-input').addEventListener('change', (e) => { addFiles([...e.target.files]); e.target.value = ''; });
  const dz = $('#dropzone');
  dz.addEventListener('dragover', (e) => { e.preventDefault(); dz.classList.add('over'); });
  dz.addEventListener('dragleave', () => dz.classList.remove('over'));
  dz.addEventListener('drop', (e) => {
    e.preventDefault();
    dz.classList.remove('over');
    addFiles([...e.dataTransfer.files]);
  });
  onLanguage(() => { renderSelects(); renderPrice(); renderCount(); renderRefs(); });
}
