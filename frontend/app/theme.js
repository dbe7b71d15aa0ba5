// The theme: the system's (the default), light or dark, remembered in this browser.
// The choice is <html data-theme>; styles.css holds the colours of each.
const KEY = 'nanobanana.theme';

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

// init binds the theme select to the choice.
export function init(select) {
  select.value = current();
  select.addEventListener('change', () => set(select.value));
}
