// Interface text in English and Russian. Only the language choice is remembered.
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
  passwordHint: 'At least 8 characters.',
  signupClosed: 'Registration is closed on this server; ask an administrator for an account.',
  newImage: 'New image',
  noKeyNotice: 'Add your Replicate API key in Settings before generating.',
  openSettings: 'Open settings',
  prompt: 'Prompt', promptPlaceholder: 'A banana-shaped lighthouse at dusk, watercolor',
  chars: (n, max) => max ? `${n} / ${max} characters` : `${n} characters`,
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
  leftToday: 'Left today', leftMonth: 'Left this month', leftImages: (n) => `${n} ${n === 1 ? 'image' : 'images'}`,
  leftResets: (when) => `more from ${when}`,
  sharedCapReached: (when) => `This site's monthly budget is spent: queued generations wait until ${when}.`,
  m_booked: 'Booked', paidShared: 'shared key', paidOwn: 'your key',
  selfLimits: 'My spending limits', limitsSaved: 'Limits saved.', saveLimits: 'Save limits',
  selfLimitsHelp: 'Limits you set for yourself, per UTC day and month, whoever pays (your own key included). Leave a field empty for no limit.',
  limDayUSD: 'US dollars a day', limMonthUSD: 'US dollars a month', limDayImages: 'Images a day', limMonthImages: 'Images a month',
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
  // Batches and queue control (batches.js)
  images: 'Images', batchOf: (n) => `Batch of ${n}`, batchTotal: (n, sum) => `${n} predictions, ${sum} in all`,
  cancelBatch: 'Cancel batch', retryBatch: 'Retry batch',
  batchCanceled: 'Batch canceled.', batchRetried: 'Batch queued again.',
  toFront: 'To the front of my queue', toBack: 'To the back of my queue',
  toFrontOf: (p) => `Move “${p}” to the front of my queue`, toBackOf: (p) => `Move “${p}” to the back of my queue`,
  movedFront: 'Moved to the front.', movedBack: 'Moved to the back.',
  pausedBadge: 'Paused', pauseQueue: 'Pause my queue', resumeQueue: 'Resume my queue',
  queuePausedNote: 'Your queue is paused: your waiting images do not start until you resume it.',
  queuePausedToast: 'Queue paused.', queueResumedToast: 'Queue resumed.',
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
  passwordHint: 'Не меньше 8 символов.',
  signupClosed: 'Регистрация на этом сервере закрыта; попросите администратора создать аккаунт.',
  newImage: 'Новое изображение',
  noKeyNotice: 'Прежде чем генерировать, добавьте свой ключ API Replicate в настройках.',
  openSettings: 'Открыть настройки',
  prompt: 'Запрос', promptPlaceholder: 'Маяк в форме банана на закате, акварель',
  chars: (n, max) => max ? `${n} / ${max} символов` : `Символов: ${n}`,
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
  leftToday: 'Осталось сегодня', leftMonth: 'Осталось в этом месяце', leftImages: (n) => `${n} изобр.`,
  leftResets: (when) => `снова доступно с ${when}`,
  sharedCapReached: (when) => `Месячный бюджет сайта исчерпан: генерации в очереди ждут до ${when}.`,
  m_booked: 'Списано', paidShared: 'общий ключ', paidOwn: 'ваш ключ',
  selfLimits: 'Мои лимиты расходов', limitsSaved: 'Лимиты сохранены.', saveLimits: 'Сохранить лимиты',
  selfLimitsHelp: 'Лимиты, которые вы задаёте себе сами, на сутки и месяц по UTC, кто бы ни платил (и ваш ключ тоже). Пустое поле — без лимита.',
  limDayUSD: 'Долларов в сутки', limMonthUSD: 'Долларов в месяц', limDayImages: 'Изображений в сутки', limMonthImages: 'Изображений в месяц',
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
  // Пакеты и управление очередью (batches.js)
  images: 'Изображений', batchOf: (n) => `Пакет из ${n}`, batchTotal: (n, sum) => `${n} прогноза, всего ${sum}`,
  cancelBatch: 'Отменить пакет', retryBatch: 'Повторить пакет',
  batchCanceled: 'Пакет отменён.', batchRetried: 'Пакет снова в очереди.',
  toFront: 'В начало моей очереди', toBack: 'В конец моей очереди',
  toFrontOf: (p) => `Переместить «${p}» в начало моей очереди`, toBackOf: (p) => `Переместить «${p}» в конец моей очереди`,
  movedFront: 'Перемещено в начало.', movedBack: 'Перемещено в конец.',
  pausedBadge: 'На паузе', pauseQueue: 'Приостановить мою очередь', resumeQueue: 'Возобновить мою очередь',
  queuePausedNote: 'Ваша очередь приостановлена: ожидающие изображения не начнутся, пока вы её не возобновите.',
  queuePausedToast: 'Очередь приостановлена.', queueResumedToast: 'Очередь возобновлена.',
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
