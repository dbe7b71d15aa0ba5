// The theme: the system's (the default), light or dark, remembered in this browser. The
// choice is <html data-theme>; styles.css holds the colours of each. The top bar's button
// steps through the three and says which one is on.
import { t, onLanguage } from './i18n.js';

const KEY = 'nanobanana.theme';
const order = ['system', 'light', 'dark'];
const glyph = { system: '◐', light: '☀', dark: '☾' };
const label = { system: 'themeSystem', light: 'themeLight', dark: 'themeDark' };

export function current() {
  const v = document.documentElement.dataset.theme;
  return v === 'light' || v === 'dark' ? v : 'system';
}

export function set(v) {
  if (v === 'light' || v === 'dark') document.documentElement.dataset.theme = v;
  else delete document.documentElement.dataset.theme;
  try {
    if (v === 'light' || v === 'dark') localStorage.setItem(KEY, v); else localStorage.removeItem(KEY);
  } catch { /* applied, not remembered */ }
}

// init makes button the theme switch: each press takes the next theme.
export function init(button) {
  const render = () => {
    const v = current();
    button.textContent = glyph[v];
    button.dataset.theme = v;
    const name = `${t('theme')}: ${t(label[v])}`;
    button.setAttribute('aria-label', name);
    button.title = name;
  };
  button.addEventListener('click', () => {
    set(order[(order.indexOf(current()) + 1) % order.length]);
    render();
  });
  onLanguage(render);
  render();
}
