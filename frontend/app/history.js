// Prompt history and saved prompts (issue 13), on the Create page: one's past prompts
// with how often and when last used, prompts saved under a name, and "Save prompt" for
// the one in the form. A click on one puts it in the form.
import * as api from './api.js';
import { t, onLanguage, current } from './i18n.js';
import { $, h, announce } from './ui.js';

let history = [];
let saved = [];

function use(prompt) {
  const box = $('#prompt');
  box.value = prompt;
  box.dispatchEvent(new Event('input', { bubbles: true })); // the counter follows
  box.focus();
  announce(t('promptFilled'));
}

function when(s) {
  return s ? new Date(s).toLocaleDateString(current()) : '';
}

function render() {
  const hl = $('#history-list');
  if (!hl) return;
  hl.replaceChildren(...history.map((p) => h('li', {},
    h('button', { type: 'button', class: 'link prompt-use', title: p.prompt, onclick: () => use(p.prompt) }, p.prompt),
    h('span', { class: 'muted small' }, t('usedTimes', p.count, when(p.last_used))))));
  $('#history-empty').hidden = history.length > 0;
  $('#saved-list').replaceChildren(...saved.map((p) => h('li', {},
    h('button', { type: 'button', class: 'link prompt-use', title: p.prompt, onclick: () => use(p.prompt) }, p.name),
    h('button', { type: 'button', class: 'icon small', 'aria-label': t('removeSaved', p.name), onclick: () => removeSaved(p) }, '✕'))));
  $('#saved-empty').hidden = saved.length > 0;
}

export async function load() {
  if (!api.token()) return;
  try {
    const [hh, ss] = await Promise.all([api.get('/prompts/history?limit=20'), api.get('/prompts/saved')]);
    history = hh.items || [];
    saved = ss.items || [];
    render();
  } catch (err) {
    announce(err.message, 'error');
  }
}

async function save(e) {
  e.preventDefault();
  const prompt = $('#prompt').value.trim();
  const name = $('#save-name').value.trim();
  if (!prompt) { announce(t('promptNeeded'), 'error'); return; }
  if (!name) { $('#save-name').focus(); return; }
  try {
    await api.post('/prompts/saved', { name, prompt });
    $('#save-name').value = '';
    announce(t('promptSaved'));
    load();
  } catch (err) { announce(err.message, 'error'); }
}

async function removeSaved(p) {
  try {
    await api.del(`/prompts/saved/${p.id}`);
    load();
  } catch (err) { announce(err.message, 'error'); }
}

function build() {
  return h('details', { id: 'prompt-panel', class: 'card prompt-panel', ontoggle: (e) => { if (e.target.open) load(); } },
    h('summary', {}, h('strong', {}, t('promptsTitle'))),
    h('form', { class: 'save-prompt', onsubmit: save },
      h('input', { type: 'text', id: 'save-name', maxlength: 200, placeholder: t('savedName'), 'aria-label': t('savedName') }),
      h('button', { type: 'submit', class: 'secondary', id: 'save-prompt' }, t('savePrompt'))),
    h('h3', { class: 'small' }, t('savedPrompts')),
    h('p', { id: 'saved-empty', class: 'muted small' }, t('savedEmpty')),
    h('ul', { id: 'saved-list', class: 'prompt-list' }),
    h('h3', { class: 'small' }, t('recentPrompts')),
    h('p', { id: 'history-empty', class: 'muted small' }, t('historyEmpty')),
    h('ul', { id: 'history-list', class: 'prompt-list' }));
}

export function init() {
  $('#gen-form').after(build());
  onLanguage(() => {
    const open = $('#prompt-panel').open;
    const panel = build();
    panel.open = open;
    $('#prompt-panel').replaceWith(panel);
    render();
  });
}
