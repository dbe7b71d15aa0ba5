// Loaded as a classic script in <head>, before the first paint: a chosen theme applies at
// once, with no flash of the other one. theme.js keeps the choice afterwards.
try {
  const v = localStorage.getItem('nanobanana.theme');
  if (v === 'light' || v === 'dark') document.documentElement.dataset.theme = v;
} catch { /* storage disabled: the system's choice */ }
