// The Admin page, for administrators only: users, the queue of every user, usage over
// time (a chart drawn here, in SVG), invitations, settings and the audit log. Each part
// is a tab of the page; every change goes through /api/v1/admin/ and is audited there.
import * as api from './api.js';
import { t, onLanguage, current } from './i18n.js';
import { $, h, announce, showError, confirm, usd } from './ui.js';

const parts = ['users', 'queue', 'usage', 'invites', 'settings', 'audit'];
let part = 'users';
let me = null;
let root = null;
let queueTimer = 0;

export function init() {
  root = $('#view-admin');
  onLanguage(() => { if (root && !root.hidden) render(); });
}

// setUser is called on each sign-in: the page exists for administrators only.
export function setUser(u) { me = u; }

// visible draws the page when it is shown.
export function visible() {
  if (!me?.is_admin) return;
  render();
}

export function hidden() { clearTimeout(queueTimer); }

function render() {
  clearTimeout(queueTimer);
  const tabs = h('div', { class: 'admin-tabs', role: 'tablist', 'aria-label': t('adminTitle') },
    parts.map((p) => h('button', {
      type: 'button', role: 'tab', id: `admin-tab-${p}`, 'aria-selected': String(p === part),
      'aria-controls': 'admin-panel', tabindex: p === part ? '0' : '-1',
      onclick: () => pick(p),
      onkeydown: (e) => {
        const i = parts.indexOf(p);
        const j = e.key === 'ArrowRight' ? (i + 1) % parts.length : e.key === 'ArrowLeft' ? (i + parts.length - 1) % parts.length : -1;
        if (j >= 0) { e.preventDefault(); pick(parts[j], true); }
      },
    }, t(`admin_${p}`))));
  const panel = h('section', { id: 'admin-panel', class: 'card admin-panel', role: 'tabpanel', 'aria-labelledby': `admin-tab-${part}` });
  root.replaceChildren(h('h1', { class: 'admin-title' }, t('adminTitle')), tabs, panel);
  // On a phone the strip scrolls: the chosen tab stays in sight (without moving the page).
  const chosen = $(`#admin-tab-${part}`);
  const right = chosen.offsetLeft - tabs.offsetLeft + chosen.offsetWidth;
  if (right > tabs.clientWidth) tabs.scrollLeft = right - tabs.clientWidth + 16;
  ({ users, queue, usage, invites, settings, audit })[part](panel);
}

function pick(p, focus = false) {
  part = p;
  render();
  if (focus) $(`#admin-tab-${p}`).focus();
}

function fmtTime(s) {
  if (!s) return '';
  return new Date(s).toLocaleString(current() === 'ru' ? 'ru-RU' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
}

function fail(err) { announce(err.message, 'error'); }

// --- Users -----------------------------------------------------------------------------

function users(panel) {
  const list = h('ul', { class: 'admin-list', id: 'admin-users' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('more'));
  const search = h('input', { id: 'admin-user-q', type: 'search', autocomplete: 'off', spellcheck: false });
  let cursor = '';
  const load = async (reset) => {
    if (reset) { cursor = ''; list.replaceChildren(); }
    const q = new URLSearchParams({ q: search.value.trim(), limit: '50' });
    if (cursor) q.set('cursor', cursor);
    try {
      const page = await api.get(`/admin/users?${q}`);
      for (const u of page.items) list.append(userRow(u));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!list.children.length) list.append(h('li', { class: 'muted' }, t('noneFound')));
    } catch (err) { fail(err); }
  };
  let typing = 0;
  search.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(() => load(true), 250); });
  more.addEventListener('click', () => load(false));
  panel.append(
    h('label', { for: 'admin-user-q' }, t('searchUsers')), search,
    list, more);
  load(true);
}

function badges(u) {
  return [
    u.is_admin && h('span', { class: 'badge st-running' }, t('roleAdmin')),
    u.disabled && h('span', { class: 'badge st-failed' }, t('stateDisabled')),
    !u.approved && h('span', { class: 'badge st-pending' }, t('stateUnapproved')),
    u.has_api_key && h('span', { class: 'badge' }, t('ownKey')),
  ];
}

function userRow(u) {
  const li = h('li', { class: 'admin-item', dataset: { user: u.username } });
  const refresh = (nu) => { li.replaceWith(userRow(nu)); };
  const act = async (path, body, done) => {
    try { refresh(await api.put(path, body)); announce(done); } catch (err) { fail(err); }
  };
  const extra = h('div', { class: 'admin-extra' });
  const actions = h('div', { class: 'row' },
    u.id !== me?.id && h('button', {
      type: 'button', class: u.disabled ? 'secondary' : 'danger', dataset: { act: u.disabled ? 'enable' : 'disable' },
      onclick: async () => {
        if (!u.disabled && !(await confirm(t('confirmDisable', u.username), t('disable')))) return;
        act(`/admin/users/disabled/${u.id}`, { disabled: !u.disabled }, t(u.disabled ? 'userEnabled' : 'userDisabled', u.username));
      },
    }, t(u.disabled ? 'enable' : 'disable')),
    h('button', {
      type: 'button', class: 'secondary', dataset: { act: 'admin' },
      onclick: () => act(`/admin/users/admin/${u.id}`, { admin: !u.is_admin }, t(u.is_admin ? 'adminRemoved' : 'adminGranted', u.username)),
    }, t(u.is_admin ? 'removeAdmin' : 'makeAdmin')),
    !u.approved && h('button', {
      type: 'button', class: 'primary', dataset: { act: 'approve' },
      onclick: () => act(`/admin/users/approved/${u.id}`, { approved: true }, t('userApproved', u.username)),
    }, t('approve')),
    h('button', { type: 'button', class: 'secondary', dataset: { act: 'password' }, onclick: () => resetForm(u, extra) }, t('resetPassword')),
    h('button', { type: 'button', class: 'secondary', dataset: { act: 'limits' }, onclick: () => limitsForm(u, extra) }, t('limits')),
  );
  li.append(
    h('div', { class: 'admin-head' }, h('strong', {}, u.username), ' ', h('span', { class: 'muted' }, u.email), ' ', badges(u)),
    actions, extra);
  return li;
}

function resetForm(u, extra) {
  const id = `pw-${u.id}`;
  const input = h('input', { id, name: 'password', type: 'password', autocomplete: 'new-password', minLength: 8, maxLength: 72 });
  const out = h('p', { class: 'key-state warn', hidden: true });
  const form = h('form', { class: 'stack', novalidate: true },
    h('label', { for: id }, t('newPasswordOrEmpty')), input,
    h('p', { class: 'error', dataset: { error: '' }, hidden: true }),
    out,
    h('button', { type: 'submit', class: 'primary' }, t('resetPassword')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(form, null);
    try {
      const r = await api.post(`/admin/users/password/${u.id}`, input.value ? { password: input.value } : {});
      out.hidden = false;
      out.textContent = r.password ? t('oneTimePassword', r.password) : t('passwordSet');
      input.value = '';
      announce(t('passwordResetDone', u.username));
    } catch (err) { showError(form, err); }
  });
  extra.replaceChildren(form);
  input.focus();
}

// limitsForm edits a user's spending limits (GET/PUT/DELETE /admin/limits/{id}): an
// override of the install's defaults, or the defaults again.
function limitsForm(u, extra) {
  const fields = ['day_usd', 'month_usd', 'day_images', 'month_images'];
  const form = h('form', { class: 'admin-grid', novalidate: true, dataset: { limits: u.username } });
  const status = h('p', { class: 'muted small', role: 'status' });
  const inputs = {};
  for (const f of fields) {
    const id = `lim-${u.id}-${f}`;
    inputs[f] = h('input', { id, name: f, type: 'number', min: '0', step: f.endsWith('usd') ? '0.01' : '1', inputMode: 'decimal', placeholder: t('noLimit') });
    form.append(h('label', { for: id }, t(`lim_${f}`), inputs[f]));
  }
  const fill = (r) => {
    const l = r.override || r.effective || r.defaults || {};
    for (const f of fields) inputs[f].value = l[f] === null || l[f] === undefined ? '' : l[f];
    const spent = r.usage?.spent || {};
    status.textContent = `${t(r.override ? 'limitsOverride' : 'limitsDefault')} ${t('usedSoFar', usd(spent.day_usd ?? 0), usd(spent.month_usd ?? 0))}`;
  };
  const reset = h('button', {
    type: 'button', class: 'secondary', dataset: { act: 'limits-default' },
    onclick: async () => {
      try { fill(await api.del(`/admin/limits/${u.id}`)); announce(t('userLimitsSaved', u.username)); } catch (err) { showError(form, err); }
    },
  }, t('useDefaults'));
  form.append(h('p', { class: 'error', dataset: { error: '' }, hidden: true }), status,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('save')), reset));
  api.get(`/admin/limits/${u.id}`).then(fill).catch((err) => { status.textContent = err.message; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(form, null);
    const body = {};
    for (const f of fields) body[f] = inputs[f].value === '' ? null : Number(inputs[f].value);
    try { fill(await api.put(`/admin/limits/${u.id}`, body)); announce(t('userLimitsSaved', u.username)); } catch (err) { showError(form, err); }
  });
  extra.replaceChildren(form);
  inputs.day_usd.focus();
}

// --- Queue -----------------------------------------------------------------------------

function age(secs) {
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m`;
  return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
}

function queue(panel) {
  const state = h('p', { id: 'admin-queue-state', class: 'key-state', role: 'status' });
  const toggle = h('button', { type: 'button', id: 'admin-queue-toggle', class: 'secondary' });
  const list = h('ul', { class: 'admin-list', id: 'admin-queue' });
  let paused = false;
  const draw = (q) => {
    paused = q.paused;
    state.textContent = t(paused ? 'queuePaused' : 'queueRunning');
    state.className = `key-state ${paused ? 'warn' : 'ok'}`;
    toggle.textContent = t(paused ? 'resumeAll' : 'pauseAll');
    list.replaceChildren(...(q.items.length ? q.items.map((it) => h('li', { class: 'admin-item', dataset: { gen: it.id } },
      h('div', { class: 'admin-head' }, h('strong', {}, it.username), ' ',
        h('span', { class: `badge st-${it.status}` }, t(`st_${it.status}`)), ' ',
        h('span', { class: 'muted small' }, `${it.resolution} · ${t('ageAttempts', age(it.age_seconds), it.attempts)}`)),
      h('p', { class: 'qprompt' }, it.prompt),
      h('div', { class: 'row' }, h('button', {
        type: 'button', class: 'danger', dataset: { act: 'cancel' },
        onclick: async () => {
          try { await api.post(`/admin/queue/cancel/${it.id}`); announce(t('canceledFor', it.username)); load(); } catch (err) { fail(err); }
        },
      }, t('cancel'))))) : [h('li', { class: 'muted' }, t('queueAllEmpty'))]));
  };
  const load = async () => {
    clearTimeout(queueTimer);
    try { draw(await api.get('/admin/queue')); } catch (err) { fail(err); }
    if (part === 'queue' && !root.hidden) queueTimer = setTimeout(load, 5000);
  };
  toggle.addEventListener('click', async () => {
    try { draw(await api.post(`/admin/queue/${paused ? 'resume' : 'pause'}`)); announce(t(paused ? 'queuePaused' : 'queueRunning')); } catch (err) { fail(err); }
  });
  panel.append(h('div', { class: 'label-row' }, state, toggle), list);
  load();
}

// --- Usage -----------------------------------------------------------------------------

const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// usageRows reads the usage answer into rows of {day, user, images, usd}.
function usageRows(r) {
  const rows = r.rows || [];
  return rows.map((x) => ({ day: String(x.day || x.date).slice(0, 10), user: x.username || x.user || '', images: Number(x.images || 0), usd: Number(x.usd ?? x.cost_usd ?? x.amount_usd ?? 0) }));
}

function usage(panel) {
  const days = h('select', { id: 'usage-days' }, [7, 30, 90].map((n) => h('option', { value: String(n), selected: n === 30 }, t('lastDays', n))));
  const measure = h('select', { id: 'usage-measure' }, h('option', { value: 'usd' }, t('money')), h('option', { value: 'images' }, t('images')));
  const who = h('select', { id: 'usage-user' }, h('option', { value: '' }, t('allUsers')));
  const chart = h('figure', { class: 'chart', id: 'usage-chart' });
  const csv = h('a', { class: 'button secondary', id: 'usage-csv', download: 'usage.csv' }, t('downloadCSV'));
  const table = h('p', { class: 'muted small', id: 'usage-total' });
  const byUser = h('table', { class: 'admin-table', id: 'usage-users' });
  let rows = [];
  const range = () => {
    const to = new Date();
    const from = new Date(Date.now() - (Number(days.value) - 1) * 86400000);
    return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
  };
  const draw = () => {
    const { from } = range();
    const n = Number(days.value);
    const keys = [];
    for (let i = 0; i < n; i++) keys.push(new Date(Date.parse(from) + i * 86400000).toISOString().slice(0, 10));
    const per = new Map(keys.map((k) => [k, 0]));
    let total = 0;
    let totalImages = 0;
    for (const r of rows) {
      if (who.value && r.user !== who.value) continue;
      if (!per.has(r.day)) continue;
      per.set(r.day, per.get(r.day) + r[measure.value]);
      total += r.usd;
      totalImages += r.images;
    }
    drawChart(chart, keys, keys.map((k) => per.get(k)), measure.value);
    table.textContent = t('usageTotal', totalImages, usd(total));
    const users = new Map();
    for (const r of rows) {
      if (!per.has(r.day)) continue;
      const u = users.get(r.user) || { images: 0, usd: 0 };
      u.images += r.images;
      u.usd += r.usd;
      users.set(r.user, u);
    }
    byUser.replaceChildren(
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('user')), h('th', { scope: 'col' }, t('images')), h('th', { scope: 'col' }, t('money')))),
      h('tbody', {}, [...users].sort((a, b) => b[1].usd - a[1].usd).map(([name, u]) => h('tr', { dataset: { user: name } },
        h('td', { 'data-label': t('user') }, name), h('td', { 'data-label': t('images') }, String(u.images)), h('td', { 'data-label': t('money') }, usd(u.usd))))));
  };
  const load = async () => {
    const { from, to } = range();
    const q = new URLSearchParams({ from, to });
    csv.href = `/api/v1/admin/usage.csv?${q}`;
    try {
      rows = usageRows(await api.get(`/admin/usage?${q}`));
    } catch (err) { rows = []; fail(err); }
    const names = [...new Set(rows.map((r) => r.user).filter(Boolean))].sort();
    const keep = who.value;
    who.replaceChildren(h('option', { value: '' }, t('allUsers')), ...names.map((n) => h('option', { value: n, selected: n === keep }, n)));
    draw();
  };
  // The CSV needs the access token: fetched and handed to the browser as a file.
  csv.addEventListener('click', async (e) => {
    e.preventDefault();
    try {
      const res = await fetch(csv.href, { headers: { Authorization: `Bearer ${api.token()}` } });
      if (!res.ok) throw new Error(t('unexpected'));
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: 'usage.csv' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { fail(err); }
  });
  days.addEventListener('change', load);
  measure.addEventListener('change', draw);
  who.addEventListener('change', draw);
  panel.append(
    h('div', { class: 'admin-grid' },
      h('label', { for: 'usage-days' }, t('period'), days),
      h('label', { for: 'usage-measure' }, t('measure'), measure),
      h('label', { for: 'usage-user' }, t('user'), who)),
    chart, table, h('div', { class: 'table-wrap' }, byUser), h('div', { class: 'row' }, csv));
  load();
}

// drawChart draws one bar a day, with a labelled axis, as an accessible SVG.
function drawChart(fig, keys, values, measure) {
  // Drawn at the figure's own width, so its text is at the page's size on a phone too.
  const W = Math.max(300, Math.round(fig.clientWidth || 720)), H = 240, L = 56, B = 28, T = 12, R = 8;
  const max = Math.max(...values, 0) || 1;
  const step = niceStep(max / 4);
  const top = Math.ceil(max / step) * step;
  const x = (i) => L + (i * (W - L - R)) / keys.length;
  const bw = Math.max(1, (W - L - R) / keys.length - 2);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const fmt = (v) => (measure === 'usd' ? usd(v) : String(Math.round(v)));
  const label = t('chartLabel', t(measure === 'usd' ? 'money' : 'images'), keys[0], keys[keys.length - 1]);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'chart-svg' });
  g.append(svg('title', {}, label));
  for (let v = 0; v <= top + 1e-9; v += step) {
    g.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'chart-grid' }));
    g.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'chart-axis' }, fmt(v)));
  }
  keys.forEach((k, i) => {
    const v = values[i];
    if (v > 0) {
      const bar = svg('rect', { x: x(i) + 1, y: y(v), width: bw, height: Math.max(1, y(0) - y(v)), class: 'chart-bar', 'data-day': k, 'data-value': v });
      bar.append(svg('title', {}, `${k}: ${fmt(v)}`));
      g.append(bar);
    }
    const every = Math.ceil(keys.length / Math.max(2, Math.floor((W - L) / 56)));
    if (i % every === 0) g.append(svg('text', { x: x(i) + bw / 2, y: H - 8, 'text-anchor': 'middle', class: 'chart-axis' }, k.slice(5)));
  });
  fig.replaceChildren(g, h('figcaption', { class: 'muted small' }, label));
}

function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

// --- Invitations -----------------------------------------------------------------------

function invites(panel) {
  const expires = h('select', { id: 'inv-expires', name: 'expires_in_hours' },
    [[24, 'in24h'], [72, 'in3d'], [168, 'in7d'], [720, 'in30d']].map(([v, k]) => h('option', { value: String(v), selected: v === 72 }, t(k))));
  const note = h('input', { id: 'inv-note', name: 'note', maxLength: 200, autocomplete: 'off' });
  const link = h('input', { id: 'inv-link', readOnly: true, spellcheck: false });
  const made = h('div', { class: 'stack', hidden: true },
    h('p', { class: 'key-state warn' }, t('inviteOnce')),
    h('label', { for: 'inv-link' }, t('inviteLink')), link,
    h('button', {
      type: 'button', class: 'secondary', id: 'inv-copy',
      onclick: async () => {
        link.select();
        try { await navigator.clipboard.writeText(link.value); announce(t('linkCopied')); } catch { announce(t('copyByHand')); }
      },
    }, t('copyLink')));
  const form = h('form', { class: 'admin-grid', novalidate: true },
    h('label', { for: 'inv-expires' }, t('expires'), expires),
    h('label', { for: 'inv-note' }, t('inviteNote'), note),
    h('p', { class: 'error', dataset: { error: '' }, hidden: true }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'inv-create' }, t('createInvite'))));
  const list = h('ul', { class: 'admin-list', id: 'inv-list' });
  const load = async () => {
    try {
      const r = await api.get('/admin/invitations');
      list.replaceChildren(...(r.items.length ? r.items.map((i) => h('li', { class: 'admin-item', dataset: { inv: String(i.id), state: i.state } },
        h('div', { class: 'admin-head' }, h('strong', {}, `#${i.id}`), ' ', h('span', { class: `badge inv-${i.state}` }, t(`inv_${i.state}`)), ' ',
          h('span', { class: 'muted small' }, i.note)),
        h('p', { class: 'muted small' }, i.used_by ? t('usedBy', i.used_by, fmtTime(i.used_at)) : t('expiresAt', fmtTime(i.expires_at))),
        i.state === 'open' && h('button', {
          type: 'button', class: 'danger', dataset: { act: 'revoke' },
          onclick: async () => {
            if (!(await confirm(t('confirmRevokeInvite'), t('revokeInvite')))) return;
            try { await api.del(`/admin/invitations/${i.id}`); announce(t('revoked')); load(); } catch (err) { fail(err); }
          },
        }, t('revokeInvite')))) : [h('li', { class: 'muted' }, t('noInvites'))]));
    } catch (err) { fail(err); }
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(form, null);
    try {
      const r = await api.post('/admin/invitations', { expires_in_hours: Number(expires.value), note: note.value.trim() });
      link.value = `${location.origin}/#/invite/${r.token}`;
      made.hidden = false;
      note.value = '';
      link.focus();
      link.select();
      load();
    } catch (err) { showError(form, err); }
  });
  panel.append(form, made, h('h2', {}, t('invitations')), list);
  load();
}

// --- Settings --------------------------------------------------------------------------

// Each editable setting: how its control shows the value and reads it back.
const settingRows = [
  { key: 'registration', control: () => h('select', {}, ['open', 'invite', 'closed'].map((m) => h('option', { value: m }, t(`reg_${m}`)))),
    set: (c, v) => { c.value = v; }, get: (c) => c.value },
  { key: 'approval_required', control: () => h('input', { type: 'checkbox' }), set: (c, v) => { c.checked = !!v; }, get: (c) => c.checked },
  { key: 'audit_retention_days', control: () => h('input', { type: 'number', min: '1', max: '3650', step: '1', inputMode: 'numeric' }),
    set: (c, v) => { c.value = v; }, get: (c) => Number(c.value) },
  { key: 'prices', group: ['1K', '2K', '4K'], unit: 'usd' },
  { key: 'default_limits', group: ['day_usd', 'month_usd', 'day_images', 'month_images'], nullable: true },
  { key: 'shared_month_cap_usd', control: () => h('input', { type: 'number', min: '0', step: '0.01', inputMode: 'decimal', placeholder: t('noLimit') }),
    set: (c, v) => { c.value = v ?? ''; }, get: (c) => (c.value === '' ? null : Number(c.value)) },
];

function settings(panel) {
  const list = h('div', { class: 'stack', id: 'admin-settings' });
  const draw = (all) => {
    list.replaceChildren();
    for (const row of settingRows) {
      const cur = all[row.key];
      if (!cur) continue;
      list.append(settingRow(row, cur, draw));
    }
  };
  panel.append(h('p', { class: 'muted' }, t('settingsHelp')), list);
  api.get('/admin/settings').then((r) => draw(r.settings)).catch(fail);
}

function settingRow(row, cur, redraw) {
  const id = `set-${row.key}`;
  const form = h('form', { class: 'setting', novalidate: true, dataset: { key: row.key, source: cur.source } });
  let read;
  if (row.group) {
    const inputs = {};
    const fs = h('fieldset', { class: 'admin-grid' }, h('legend', {}, t(`set_${row.key}`)));
    for (const f of row.group) {
      const fid = `${id}-${f}`;
      inputs[f] = h('input', { id: fid, type: 'number', min: '0', step: f.includes('images') ? '1' : '0.01', inputMode: 'decimal', placeholder: row.nullable ? t('noLimit') : '' });
      const v = cur.value?.[f];
      if (v !== null && v !== undefined) inputs[f].value = v;
      fs.append(h('label', { for: fid }, row.key === 'prices' ? f : t(`lim_${f}`), inputs[f]));
    }
    form.append(fs);
    read = () => Object.fromEntries(row.group.map((f) => [f, inputs[f].value === '' ? null : Number(inputs[f].value)]));
  } else {
    const c = row.control();
    c.id = id;
    row.set(c, cur.value);
    const lbl = h('label', { for: id, class: c.type === 'checkbox' ? 'inline' : '' }, t(`set_${row.key}`));
    if (c.type === 'checkbox') lbl.prepend(c); else form.append(lbl);
    form.append(c.type === 'checkbox' ? lbl : c);
    read = () => row.get(c);
  }
  const source = h('span', { class: `badge src-${cur.source}` }, t(cur.source === 'stored' ? 'srcStored' : 'srcEnv'));
  form.append(
    h('p', { class: 'error', dataset: { error: '' }, hidden: true }),
    h('div', { class: 'row setting-foot' }, source,
      h('button', { type: 'submit', class: 'primary' }, t('save')),
      cur.source === 'stored' && h('button', {
        type: 'button', class: 'secondary', dataset: { act: 'reset' },
        onclick: async () => {
          try { redraw((await api.del(`/admin/settings/${row.key}`)).settings); announce(t('settingReset')); } catch (err) { fail(err); }
        },
      }, t('resetToEnv'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(form, null);
    try { redraw((await api.put('/admin/settings', { [row.key]: read() })).settings); announce(t('settingSaved')); } catch (err) { showError(form, err); }
  });
  return form;
}

// --- Audit -----------------------------------------------------------------------------

function audit(panel) {
  const field = (name, type = 'text') => h('input', { id: `audit-${name}`, name, type, autocomplete: 'off', spellcheck: false });
  const actor = field('actor'), subject = field('subject'), from = field('from', 'date'), to = field('to', 'date');
  const action = h('select', { id: 'audit-action', name: 'action' }, h('option', { value: '' }, t('anyAction')));
  const form = h('form', { class: 'admin-grid', novalidate: true, id: 'audit-form' },
    h('label', { for: 'audit-actor' }, t('actor'), actor),
    h('label', { for: 'audit-subject' }, t('subject'), subject),
    h('label', { for: 'audit-action' }, t('action'), action),
    h('label', { for: 'audit-from' }, t('from'), from),
    h('label', { for: 'audit-to' }, t('to'), to),
    h('p', { class: 'error', dataset: { error: '' }, hidden: true }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('auditFilter'))));
  const table = h('table', { class: 'admin-table', id: 'audit-table' },
    h('thead', {}, h('tr', {}, ['when', 'action', 'actor', 'subject', 'client', 'details'].map((c) => h('th', { scope: 'col' }, t(`col_${c}`))))));
  const body = h('tbody');
  table.append(body);
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('more'));
  let cursor = '';
  let actionsShown = false;
  const load = async (reset) => {
    if (reset) { cursor = ''; body.replaceChildren(); }
    const q = new URLSearchParams({ limit: '50' });
    for (const [k, el] of [['actor', actor], ['subject', subject], ['action', action]]) if (el.value.trim()) q.set(k, el.value.trim());
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', new Date(Date.parse(to.value) + 86400000).toISOString().slice(0, 10)); // to the end of that day
    if (cursor) q.set('cursor', cursor);
    try {
      const r = await api.get(`/admin/audit?${q}`);
      if (!actionsShown) {
        actionsShown = true;
        action.append(...r.actions.map((a) => h('option', { value: a }, a)));
      }
      for (const e of r.items) {
        const detail = e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '';
        body.append(h('tr', { dataset: { action: e.action } },
          h('td', { 'data-label': t('col_when') }, fmtTime(e.at)), h('td', { 'data-label': t('col_action') }, e.action),
          h('td', { 'data-label': t('col_actor') }, e.actor || '—'), h('td', { 'data-label': t('col_subject') }, e.subject || '—'),
          h('td', { 'data-label': t('col_client') }, e.client), h('td', { 'data-label': t('col_details'), class: 'small' }, detail || null)));
      }
      if (!body.children.length) body.append(h('tr', {}, h('td', { colSpan: 6, class: 'muted' }, t('noneFound'))));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (err) { showError(form, err); }
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); showError(form, null); load(true); });
  more.addEventListener('click', () => load(false));
  panel.append(form, h('div', { class: 'table-wrap' }, table), more);
  load(true);
}
