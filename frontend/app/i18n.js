// Interface text in English and Russian, the messages by error code (messages.js), and
// numbers, money and durations in the page's language. Only the language choice is
// remembered here.
import { byCode, byField, byFailure } from './messages.js';

// plural picks the Russian form for n (1 байт, 2 байта, 5 байт).
function plural(n, one, few, many) {
  const m10 = n % 10, m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return one;
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
  return many;
}

const en = {
  skip: 'Skip to content',
  demoBanner: 'Demo mode: images come from a built-in fake, not Replicate.',
  offline: 'The server cannot be reached. Retrying…',
  retryNow: 'Retry now',
  navCreate: 'Create', navGallery: 'Gallery', navSettings: 'Settings',
  language: 'Language', signOut: 'Sign out', loading: 'Loading…',
  welcome: 'Images from a sentence',
  welcomeText: 'Sign in to queue generations with Nano Banana Pro and keep them in your gallery.',
  signIn: 'Sign in', signUp: 'Create account',
  usernameOrEmail: 'Username or email', username: 'Username', email: 'Email', password: 'Password',
  passwordHint: 'From 8 to 72 bytes: a Latin letter, digit or sign is one byte; a Cyrillic or accented letter is two.',
  signupClosed: 'Registration is closed on this server; ask an administrator for an account.',
  newImage: 'New image',
  noKeyNotice: 'Generate is off until you add your Replicate key in Settings.',
  openSettings: 'Open settings',
  prompt: 'Prompt', promptPlaceholder: 'A banana-shaped lighthouse at dusk, watercolor',
  chars: (n, max) => max ? `${number(n)} / ${number(max)} characters` : `${number(n)} characters`,
  mode: 'Mode', modeText: 'Text to image', modeImage: 'Image to image',
  dropHere: 'Drop reference images here, or', pickFiles: 'Choose files',
  refLimits: (n, mb) => `JPEG, PNG or WebP, up to ${n} images, ${mb} MB each.`,
  refBadType: (name) => `${name}: not a JPEG, PNG or WebP image.`,
  refTooBig: (name, mb) => `${name}: larger than ${mb} MB.`,
  refTooMany: (n) => `At most ${n} reference images; the rest were left out.`,
  refNeeded: 'Add at least one reference image for image to image, or switch to text to image.',
  promptNeeded: 'Write a prompt first.',
  remove: 'Remove', removeRef: (name) => `Remove ${name}`,
  resolution: 'Resolution', aspectRatio: 'Aspect ratio', outputFormat: 'Format', safety: 'Safety filter',
  priceEstimate: 'Estimated price', perImage: 'per image',
  generate: 'Generate', sending: 'Sending…', uploading: 'Uploading references…',
  queued: 'Queued.',
  queue: 'Queue', notifyMe: 'Notify me when done', notifyOn: 'Notifications on',
  notifyDenied: 'Notifications are blocked in this browser.',
  queueEmpty: 'Nothing queued. Generations you start appear here.',
  position: (n) => `#${n} in line`, elapsed: (s) => `${s}`,
  cancel: 'Cancel', retry: 'Retry', dismiss: 'Dismiss',
  streamLost: 'Live updates interrupted; reconnecting…',
  streamParked: 'Live updates paused: this account has too many open tabs. They resume when you come back to this one.',
  st_pending: 'Waiting', st_running: 'Running', st_completed: 'Completed', st_failed: 'Failed', st_canceled: 'Canceled',
  filter: 'Show', filterAll: 'All', galleryEmpty: 'No images yet.',
  details: 'Details', close: 'Close', previous: 'Previous', next: 'Next',
  download: 'Download', copyPrompt: 'Copy prompt', copied: 'Prompt copied.', copyFailed: 'The prompt could not be copied; select its text and copy it by hand.',
  useSettings: 'Use these settings', settingsFilled: 'The form has these settings now.',
  runAgain: 'Run again', delete: 'Delete', confirmDelete: 'Delete',
  confirmDeleteText: 'Delete this image? This cannot be undone.',
  deleted: 'Deleted.', canceled: 'Canceled.', retried: 'Queued again.',
  m_size: 'Size', m_file: 'File', m_resolution: 'Resolution', m_aspect: 'Aspect ratio', m_format: 'Format',
  m_safety: 'Safety filter', m_mode: 'Mode', m_created: 'Created', m_taken: 'Time taken', m_price: 'Price',
  m_status: 'Status', m_refs: 'References',
  noImage: 'No image for this generation.',
  apiKey: 'Replicate API key', apiKeyLabel: 'API token',
  apiKeyHelp: 'Generations run on Replicate and are billed to the key’s account. To get a token, sign in at replicate.com, open your account menu, choose “API tokens” and create one. It is stored encrypted and never shown again; only its last four characters are.',
  keyNone: 'No key is set.',
  keyNoneGlobal: 'No key of your own is set; this server’s shared key is used.',
  keySet: (l4) => `A key ending in …${l4} is set.`,
  keyVerified: 'Verified with Replicate.', keyUnverified: 'Not verified yet (Replicate could not be reached).',
  tokens: 'Personal access tokens',
  tokensHelp: 'For scripts: send a token as “Authorization: Bearer …” to the API (its reference is at /docs). A token can do only what its scopes allow; revoke it when the script no longer needs it.',
  tokenName: 'Name', tokenScopes: 'Scopes', tokenExpiry: 'Expires',
  scopeRead: 'read: see generations and files', scopeGenerate: 'generate: create, cancel, delete', scopeAdmin: 'admin: the Replicate key and the token list',
  days30: 'in 30 days', days90: 'in 90 days', days365: 'in a year', never: 'never',
  createToken: 'Create token', tokenOnce: 'Copy the token now: it is not shown again.', noTokens: 'No tokens yet.',
  tokenCreated: 'Token created.', tokenRevoked: 'Token revoked.', revoke: 'Revoke', confirmRevoke: (n) => `Revoke the token “${n}”? Scripts using it stop working at once.`,
  tokenMeta: (created, used, expires) => `created ${created} · ${used ? `last used ${used}` : 'never used'} · ${expires ? `expires ${expires}` : 'never expires'}`,
  tokenNameMissing: 'Name the token.', tokenScopeMissing: 'Choose at least one scope.',
  saveKey: 'Save key', removeKey: 'Remove key', keySaved: 'Key saved.', keyRemoved: 'Key removed.',
  confirmRemoveKey: 'Remove your Replicate key? Generations will stop until you add one again.',
  changePassword: 'Change password', currentPassword: 'Current password', newPassword: 'New password',
  pwNote: 'Your other sessions are signed out when the password changes.', pwChanged: 'Password changed.',
  sessions: 'Sessions', sessionsHelp: 'Signs out every browser and script that uses your account, this one included.',
  signOutAll: 'Sign out everywhere', confirmSignOutAll: 'Sign out on every device, this one included?',
  confirmOk: 'OK',
  signedOut: 'Signed out.', sessionEnded: 'Your session ended; sign in again.',
  version: (v) => `nanobanana ${v}`,
  doneTitle: 'Image ready', failedTitle: 'Generation failed',
  unexpected: 'Something went wrong on the server; try again.',
  unreachable: 'The server cannot be reached; check your connection.',
  justNow: 'just now',
  // polish (#17): titles, theme, forms, messages
  title_create: 'Create', title_gallery: 'Gallery', title_settings: 'Settings', title_admin: 'Admin', title_auth: 'Welcome',
  appName: 'Nano Banana',
  theme: 'Theme', themeSystem: 'as the system', themeLight: 'light', themeDark: 'dark',
  passwordBytes: (n) => `${n} ${n === 1 ? 'byte' : 'bytes'} of 8 to 72.`,
  pwCommon: 'This is one of the most common passwords; it is guessed first. Choose another.',
  pwOneChar: 'One character repeated is guessed at once. Choose another password.',
  pwDigits: 'Digits alone are guessed quickly. Add some letters or words.',
  pwSequence: 'A run such as “abcdefgh” or “12345678” is guessed first. Choose another password.',
  pwName: 'A password that contains your username is guessed first. Choose another.',
  pwTooShort: 'Too short: use at least 8 bytes (8 Latin letters or digits).',
  pwTooLong: 'Too long: at most 72 bytes (a Cyrillic or accented letter counts as two).',
  pwGood: 'Not a common password: good.',
  fieldRequired: 'Fill in this field.',
  emailInvalid: 'Enter an email address such as name@example.com.',
  keyEmpty: 'Paste your Replicate token (it starts with r8_) into the field, then save. Get one on replicate.com: account menu → API tokens.',
  confirmSignOut: 'Sign out on this device?',
  failedGeneric: 'The generation failed.',
};

const ru = {
  skip: 'Перейти к содержимому',
  demoBanner: 'Демо-режим: изображения создаёт встроенная имитация, а не Replicate.',
  offline: 'Сервер недоступен. Повторяем попытку…',
  retryNow: 'Повторить сейчас',
  navCreate: 'Создать', navGallery: 'Галерея', navSettings: 'Настройки',
  language: 'Язык', signOut: 'Выйти', loading: 'Загрузка…',
  welcome: 'Изображения из одной фразы',
  welcomeText: 'Войдите, чтобы ставить генерации Nano Banana Pro в очередь и хранить их в галерее.',
  signIn: 'Войти', signUp: 'Создать аккаунт',
  usernameOrEmail: 'Имя пользователя или email', username: 'Имя пользователя', email: 'Email', password: 'Пароль',
  passwordHint: 'От 8 до 72 байт: латинская буква, цифра или знак — один байт; буква кириллицы или с диакритикой — два.',
  signupClosed: 'Регистрация на этом сервере закрыта; попросите администратора создать аккаунт.',
  newImage: 'Новое изображение',
  noKeyNotice: 'Кнопка «Сгенерировать» недоступна, пока вы не добавите ключ Replicate в настройках.',
  openSettings: 'Открыть настройки',
  prompt: 'Запрос', promptPlaceholder: 'Маяк в форме банана на закате, акварель',
  chars: (n, max) => max ? `${number(n)} / ${number(max)} символов` : `Символов: ${number(n)}`,
  mode: 'Режим', modeText: 'Текст в изображение', modeImage: 'Изображение в изображение',
  dropHere: 'Перетащите сюда образцы или', pickFiles: 'Выберите файлы',
  refLimits: (n, mb) => `JPEG, PNG или WebP, до ${n} изображений, до ${mb} МБ каждое.`,
  refBadType: (name) => `${name}: это не изображение JPEG, PNG или WebP.`,
  refTooBig: (name, mb) => `${name}: больше ${mb} МБ.`,
  refTooMany: (n) => `Не больше ${n} образцов; лишние не добавлены.`,
  refNeeded: 'Добавьте хотя бы один образец или переключитесь на «Текст в изображение».',
  promptNeeded: 'Сначала напишите запрос.',
  remove: 'Убрать', removeRef: (name) => `Убрать ${name}`,
  resolution: 'Разрешение', aspectRatio: 'Соотношение сторон', outputFormat: 'Формат', safety: 'Фильтр безопасности',
  priceEstimate: 'Примерная цена', perImage: 'за изображение',
  generate: 'Сгенерировать', sending: 'Отправляем…', uploading: 'Загружаем образцы…',
  queued: 'Добавлено в очередь.',
  queue: 'Очередь', notifyMe: 'Уведомить о готовности', notifyOn: 'Уведомления включены',
  notifyDenied: 'Уведомления заблокированы в этом браузере.',
  queueEmpty: 'Очередь пуста. Запущенные генерации появятся здесь.',
  position: (n) => `№${n} в очереди`, elapsed: (s) => `${s}`,
  cancel: 'Отменить', retry: 'Повторить', dismiss: 'Скрыть',
  streamLost: 'Обновления прервались; переподключаемся…',
  streamParked: 'Обновления приостановлены: у этой учётной записи открыто слишком много вкладок. Они возобновятся, когда вы вернётесь к этой.',
  st_pending: 'Ждёт', st_running: 'Выполняется', st_completed: 'Готово', st_failed: 'Ошибка', st_canceled: 'Отменено',
  filter: 'Показать', filterAll: 'Все', galleryEmpty: 'Изображений пока нет.',
  details: 'Подробности', close: 'Закрыть', previous: 'Предыдущее', next: 'Следующее',
  download: 'Скачать', copyPrompt: 'Копировать запрос', copied: 'Запрос скопирован.', copyFailed: 'Не удалось скопировать запрос; выделите текст и скопируйте его вручную.',
  useSettings: 'Взять эти настройки', settingsFilled: 'Настройки перенесены в форму.',
  runAgain: 'Запустить снова', delete: 'Удалить', confirmDelete: 'Удалить',
  confirmDeleteText: 'Удалить это изображение? Отменить это нельзя.',
  deleted: 'Удалено.', canceled: 'Отменено.', retried: 'Снова в очереди.',
  m_size: 'Размер', m_file: 'Файл', m_resolution: 'Разрешение', m_aspect: 'Соотношение сторон', m_format: 'Формат',
  m_safety: 'Фильтр безопасности', m_mode: 'Режим', m_created: 'Создано', m_taken: 'Заняло', m_price: 'Цена',
  m_status: 'Состояние', m_refs: 'Образцы',
  noImage: 'У этой генерации нет изображения.',
  apiKey: 'Ключ API Replicate', apiKeyLabel: 'Токен API',
  apiKeyHelp: 'Генерации выполняются на Replicate и оплачиваются с аккаунта ключа. Чтобы получить токен, войдите на replicate.com, откройте меню аккаунта, выберите «API tokens» и создайте токен. Он хранится зашифрованным и больше не показывается; видны только последние четыре символа.',
  keyNone: 'Ключ не задан.',
  keyNoneGlobal: 'Собственный ключ не задан; используется общий ключ сервера.',
  keySet: (l4) => `Задан ключ, оканчивающийся на …${l4}.`,
  keyVerified: 'Проверен в Replicate.', keyUnverified: 'Пока не проверен (Replicate недоступен).',
  tokens: 'Персональные токены доступа',
  tokensHelp: 'Для скриптов: передавайте токен в API как «Authorization: Bearer …» (справочник API — на /docs). Токен может только то, что разрешают его права; отзовите его, когда скрипт больше не нужен.',
  tokenName: 'Название', tokenScopes: 'Права', tokenExpiry: 'Срок действия',
  scopeRead: 'read: просмотр генераций и файлов', scopeGenerate: 'generate: создание, отмена, удаление', scopeAdmin: 'admin: ключ Replicate и список токенов',
  days30: '30 дней', days90: '90 дней', days365: 'год', never: 'бессрочно',
  createToken: 'Создать токен', tokenOnce: 'Скопируйте токен сейчас: больше он показан не будет.', noTokens: 'Токенов пока нет.',
  tokenCreated: 'Токен создан.', tokenRevoked: 'Токен отозван.', revoke: 'Отозвать', confirmRevoke: (n) => `Отозвать токен «${n}»? Скрипты с ним сразу перестанут работать.`,
  tokenMeta: (created, used, expires) => `создан ${created} · ${used ? `последнее использование ${used}` : 'не использовался'} · ${expires ? `действует до ${expires}` : 'бессрочный'}`,
  tokenNameMissing: 'Укажите название токена.', tokenScopeMissing: 'Выберите хотя бы одно право.',
  saveKey: 'Сохранить ключ', removeKey: 'Удалить ключ', keySaved: 'Ключ сохранён.', keyRemoved: 'Ключ удалён.',
  confirmRemoveKey: 'Удалить ключ Replicate? Генерации остановятся, пока вы не добавите новый.',
  changePassword: 'Сменить пароль', currentPassword: 'Текущий пароль', newPassword: 'Новый пароль',
  pwNote: 'После смены пароля остальные сеансы завершатся.', pwChanged: 'Пароль изменён.',
  sessions: 'Сеансы', sessionsHelp: 'Завершает все сеансы во всех браузерах и скриптах, включая этот.',
  signOutAll: 'Выйти на всех устройствах', confirmSignOutAll: 'Выйти на всех устройствах, включая это?',
  confirmOk: 'OK',
  signedOut: 'Вы вышли.', sessionEnded: 'Сеанс завершён; войдите снова.',
  version: (v) => `nanobanana ${v}`,
  doneTitle: 'Изображение готово', failedTitle: 'Генерация не удалась',
  unexpected: 'На сервере что-то пошло не так; попробуйте ещё раз.',
  unreachable: 'Сервер недоступен; проверьте подключение.',
  justNow: 'только что',
  // polish (#17): titles, theme, forms, messages
  title_create: 'Создать', title_gallery: 'Галерея', title_settings: 'Настройки', title_admin: 'Админка', title_auth: 'Добро пожаловать',
  appName: 'Nano Banana',
  theme: 'Тема', themeSystem: 'как в системе', themeLight: 'светлая', themeDark: 'тёмная',
  passwordBytes: (n) => `${n} ${plural(n, 'байт', 'байта', 'байт')} из 8–72.`,
  pwCommon: 'Это один из самых распространённых паролей, его подбирают первым. Выберите другой.',
  pwOneChar: 'Один повторённый символ подбирается сразу. Выберите другой пароль.',
  pwDigits: 'Одни цифры подбираются быстро. Добавьте буквы или слова.',
  pwSequence: 'Подряд идущие символы вроде «abcdefgh» или «12345678» подбирают первыми. Выберите другой пароль.',
  pwName: 'Пароль с вашим именем пользователя подбирают первым. Выберите другой.',
  pwTooShort: 'Слишком короткий: нужно не меньше 8 байт (8 латинских букв или цифр).',
  pwTooLong: 'Слишком длинный: не больше 72 байт (буква кириллицы или с диакритикой — два байта).',
  pwGood: 'Не из распространённых: хорошо.',
  fieldRequired: 'Заполните это поле.',
  emailInvalid: 'Введите адрес почты вида name@example.com.',
  keyEmpty: 'Вставьте в поле свой токен Replicate (он начинается с r8_) и сохраните. Получить его можно на replicate.com: меню аккаунта → API tokens.',
  confirmSignOut: 'Выйти на этом устройстве?',
  failedGeneric: 'Генерация не удалась.',
};

const dicts = { en, ru };
const KEY = 'nanobanana.lang';
let lang = pick();
const listeners = [];

function pick() {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved && dicts[saved]) return saved;
  } catch { /* storage may be disabled */ }
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  for (const l of langs) {
    const base = String(l).toLowerCase().split('-')[0];
    if (dicts[base]) return base;
  }
  return 'en';
}

export function current() { return lang; }

export function t(key, ...args) {
  const v = dicts[lang][key] ?? en[key];
  if (typeof v === 'function') return v(...args);
  return v ?? key;
}

export function setLanguage(l) {
  if (!dicts[l] || l === lang) return;
  lang = l;
  try { localStorage.setItem(KEY, l); } catch { /* not remembered, still switched */ }
  apply(document);
  for (const fn of listeners) fn(l);
}

export function onLanguage(fn) { listeners.push(fn); }

// apply fills every element marked with data-i18n* from the current dictionary.
export function apply(root) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}


// Messages by code (messages.js). errorText is the sentence for an API error's code in
// the current language ('' for a code the table does not know: the caller falls back to
// the server's own sentence); wait is a pause the server asked for, in ms.
export function errorText(code, wait = 0) {
  const e = byCode[code];
  if (!e) return '';
  const v = e[lang] ?? e.en;
  return typeof v === 'function' ? v(wait > 0 ? waitText(wait) : '') : v;
}

// errorKeepsDetail tells whether the server's sentence for code is shown (it carries
// values the page cannot know).
export function errorKeepsDetail(code) { return !!byCode[code]?.detail; }

// errorLeadsToSettings tells whether the next step for code is on the Settings page.
export function errorLeadsToSettings(code) { return !!byCode[code]?.settings; }

export function fieldText(field) {
  const e = byField[field];
  return e ? e[lang] ?? e.en : '';
}

// failureSentence is the sentence for a failed (or waiting) generation's error in the
// current language. Its code (error_code, else Replicate's E005... in the sentence) picks a
// known sentence; the safety block only
// suggests a more relaxed filter when one is left. Other sentences are the worker's.
export function failureSentence(g) {
  const msg = g?.error || '';
  if (!msg) return g?.status === 'failed' ? t('failedGeneric') : '';
  const code = g.error_code === 'safety_filter' ? 'E005' : (msg.match(/\((E\d{3,5})\)/) || [])[1];
  let e = code && byFailure[code];
  if (code === 'E005' && g.safety_filter_level && g.safety_filter_level !== 'block_only_high') e = byFailure.E005lower;
  if (e) return e[lang] ?? e.en;
  if (lang !== 'en' && g.status === 'failed') return `${t('failedGeneric')} (${msg})`;
  return msg;
}

// Locale-aware numbers: money, sizes and durations in the page's language.
const nf = (opts) => new Intl.NumberFormat(lang, opts);

export function money(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '';
  return nf({ style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: v < 1 ? 3 : 2 }).format(v);
}

export function number(v, opts = {}) { return nf(opts).format(v); }

export function size(n) {
  if (!(n >= 0)) return '';
  if (n < 1024) return nf({ style: 'unit', unit: 'byte', unitDisplay: 'short' }).format(n);
  if (n < 1024 * 1024) return nf({ style: 'unit', unit: 'kilobyte', unitDisplay: 'short', maximumFractionDigits: 0 }).format(n / 1024);
  return nf({ style: 'unit', unit: 'megabyte', unitDisplay: 'short', maximumFractionDigits: 1 }).format(n / 1024 / 1024);
}

// clock is an elapsed time as a clock reads it: "7 s" (by language), "1:05", "1:02:05".
export function clock(ms) {
  if (!(ms >= 0)) return '';
  const s = Math.floor(ms / 1000);
  if (s < 60) return nf({ style: 'unit', unit: 'second', unitDisplay: 'narrow' }).format(s);
  const two = (x) => String(x).padStart(2, '0');
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

// waitText is a pause in words: "30 seconds", "2 minutes" (and their Russian forms).
export function waitText(ms) {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 90) return nf({ style: 'unit', unit: 'second', unitDisplay: 'long' }).format(s);
  const m = Math.round(s / 60);
  if (m < 90) return nf({ style: 'unit', unit: 'minute', unitDisplay: 'long' }).format(m);
  return nf({ style: 'unit', unit: 'hour', unitDisplay: 'long', maximumFractionDigits: 1 }).format(s / 3600);
}

// ago is a past moment relative to now ("3 hours ago", "3 часа назад").
export function ago(when) {
  const d = (Date.parse(when) - Date.now()) / 1000;
  if (!Number.isFinite(d)) return '';
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const a = Math.abs(d);
  if (a < 60) return rtf.format(Math.round(d), 'second');
  if (a < 3600) return rtf.format(Math.round(d / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(d / 3600), 'hour');
  return rtf.format(Math.round(d / 86400), 'day');
}
