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
  leftToday: 'Left today', leftMonth: 'Left this month', leftImages: (n) => `${n} ${n === 1 ? 'image' : 'images'}`,
  leftResets: (when) => `more from ${when}`,
  sharedCapReached: (when) => `This site's monthly budget is spent: queued generations wait until ${when}.`,
  m_booked: 'Booked', paidShared: 'shared key', paidOwn: 'your key', bookedNone: 'nothing (the reservation was released)',
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
  selectMode: 'Select', selectDone: 'Done', selection: 'Selection', selectAll: 'Select all shown', selectNone: 'Clear',
  selectedN: (n) => (n === 1 ? '1 image selected' : `${n} images selected`),
  downloadZip: 'Download zip', zipStarted: (n) => `Downloading a zip of ${n} images…`, zipTooMany: (n) => `A zip holds at most ${n} images.`,
  share: 'Share', shareTitle: 'Share this image', shareHelp: 'Anyone with the link sees this image and its prompt, without an account; nothing else of yours.',
  shareExpiry: 'Link expires', in1day: 'in a day', in7days: 'in 7 days', shareCreate: 'Create link', shareLink: 'Share link',
  copyLink: 'Copy link', linkCopied: 'Link copied.', shareCreated: 'Link created.', shareRevoked: 'Link revoked: it stops working at once.',
  shareLinks: 'Share links', shareLinksHelp: 'Anyone with a link sees that one image and its prompt, nothing else of yours. Revoking a link stops it at once.',
  noShares: 'No share links yet.', confirmRevokeShare: 'Revoke this link? Anyone who has it can no longer open it.',
  shareMeta: (created, expires, expired) => `created ${created} · ${expired ? 'expired' : expires ? `expires ${expires}` : 'never expires'}`,
  sharedBy: 'Shared with nanobanana', sharedGone: 'This link does not exist, has expired or was revoked.',
  sharedExpires: (d) => `This link expires ${d}.`, openLink: 'Open',
  boardZip: 'Download board', boardZipStarted: 'Downloading the board as a zip…', shareBoard: 'Share board',
  shareBoardTitle: 'Share this board', shareBoardHelp: 'Anyone with the link sees this board’s name and images with their prompts, without an account; nothing else of yours.',
  sharedMore: 'More', sharedEmpty: 'This board has no images yet.',
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
  // search, favorites, boards, prompts (issue 13)
  search: 'Search prompts', searchPlaceholder: 'Search prompts…', anyResolution: 'Any resolution',
  anyAspect: 'Any aspect ratio', anyMode: 'Any mode', dateFrom: 'From', dateTo: 'To',
  favOnly: 'Favorites only', clearFilters: 'Clear filters',
  favAdd: 'Add to favorites', favRemove: 'Remove from favorites', favAdded: 'Added to favorites.', favRemoved: 'Removed from favorites.',
  boards: 'Board', boardAll: 'All images', boardNew: 'New board', boardNewEllipsis: 'New board…', boardRename: 'Rename',
  boardDelete: 'Delete board', boardName: 'Board name', boardSave: 'Save', boardAddTo: 'Add to board…',
  boardCreated: (n) => `Board “${n}” created.`, boardAdded: (n) => `Added to “${n}”.`,
  boardDeleteText: (n) => `Delete the board “${n}”? Its images stay in the gallery.`,
  promptsTitle: 'Prompt history and saved prompts', savedPrompts: 'Saved prompts', recentPrompts: 'Recent prompts',
  savedEmpty: 'No saved prompts yet.', historyEmpty: 'Prompts you use appear here.',
  savedName: 'Name for the prompt in the form', savePrompt: 'Save prompt', promptSaved: 'Prompt saved.',
  promptFilled: 'The prompt is in the form.', removeSaved: (n) => `Remove saved prompt ${n}`,
  usedTimes: (n, d) => `${n}× · ${d}`,
  // Batches and queue control (batches.js)
  batchImages: 'Images', batchOf: (n) => `Batch of ${n}`, batchTotal: (n, sum) => `${n} predictions, ${sum} in all`,
  cancelBatch: 'Cancel batch', retryBatch: 'Retry batch',
  batchCanceled: 'Batch canceled.', batchRetried: 'Batch queued again.',
  toFront: 'To the front of my queue', toBack: 'To the back of my queue',
  toFrontOf: (p) => `Move “${p}” to the front of my queue`, toBackOf: (p) => `Move “${p}” to the back of my queue`,
  movedFront: 'Moved to the front.', movedBack: 'Moved to the back.',
  pausedBadge: 'Paused', pauseQueue: 'Pause my queue', resumeQueue: 'Resume my queue',
  queuePausedNote: 'Your queue is paused: your waiting images do not start until you resume it.',
  queuePausedToast: 'Queue paused.', queueResumedToast: 'Queue resumed.',
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
  leftToday: 'Осталось сегодня', leftMonth: 'Осталось в этом месяце', leftImages: (n) => `${n} изобр.`,
  leftResets: (when) => `снова доступно с ${when}`,
  sharedCapReached: (when) => `Месячный бюджет сайта исчерпан: генерации в очереди ждут до ${when}.`,
  m_booked: 'Списано', paidShared: 'общий ключ', paidOwn: 'ваш ключ', bookedNone: 'ничего (резерв снят)',
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
  selectMode: 'Выбрать', selectDone: 'Готово', selection: 'Выбор', selectAll: 'Выбрать все показанные', selectNone: 'Снять выбор',
  selectedN: (n) => `Выбрано изображений: ${n}`,
  downloadZip: 'Скачать zip', zipStarted: (n) => `Скачиваем zip из ${n} изображений…`, zipTooMany: (n) => `В zip помещается не больше ${n} изображений.`,
  share: 'Поделиться', shareTitle: 'Поделиться изображением', shareHelp: 'По ссылке любой увидит это изображение и его запрос без аккаунта; больше ничего вашего.',
  shareExpiry: 'Ссылка действует', in1day: 'один день', in7days: '7 дней', shareCreate: 'Создать ссылку', shareLink: 'Ссылка',
  copyLink: 'Копировать ссылку', linkCopied: 'Ссылка скопирована.', shareCreated: 'Ссылка создана.', shareRevoked: 'Ссылка отозвана и сразу перестала работать.',
  shareLinks: 'Ссылки для просмотра', shareLinksHelp: 'По ссылке видно только одно изображение и его запрос, больше ничего вашего. Отозванная ссылка сразу перестаёт работать.',
  noShares: 'Ссылок пока нет.', confirmRevokeShare: 'Отозвать ссылку? Открыть её больше никто не сможет.',
  shareMeta: (created, expires, expired) => `создана ${created} · ${expired ? 'истекла' : expires ? `действует до ${expires}` : 'бессрочная'}`,
  sharedBy: 'Показано через nanobanana', sharedGone: 'Такой ссылки нет: она истекла или отозвана.',
  sharedExpires: (d) => `Ссылка действует до ${d}.`, openLink: 'Открыть',
  boardZip: 'Скачать доску', boardZipStarted: 'Скачиваем доску в zip…', shareBoard: 'Поделиться доской',
  shareBoardTitle: 'Поделиться доской', shareBoardHelp: 'По ссылке любой увидит название доски и её изображения с запросами без аккаунта; больше ничего вашего.',
  sharedMore: 'Ещё', sharedEmpty: 'На этой доске пока нет изображений.',
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
  // поиск, избранное, доски, запросы (issue 13)
  search: 'Поиск по запросам', searchPlaceholder: 'Поиск по запросам…', anyResolution: 'Любое разрешение',
  anyAspect: 'Любые пропорции', anyMode: 'Любой режим', dateFrom: 'С', dateTo: 'По',
  favOnly: 'Только избранное', clearFilters: 'Сбросить фильтры',
  favAdd: 'В избранное', favRemove: 'Убрать из избранного', favAdded: 'Добавлено в избранное.', favRemoved: 'Убрано из избранного.',
  boards: 'Доска', boardAll: 'Все изображения', boardNew: 'Новая доска', boardNewEllipsis: 'Новая доска…', boardRename: 'Переименовать',
  boardDelete: 'Удалить доску', boardName: 'Название доски', boardSave: 'Сохранить', boardAddTo: 'На доску…',
  boardCreated: (n) => `Доска «${n}» создана.`, boardAdded: (n) => `Добавлено на доску «${n}».`,
  boardDeleteText: (n) => `Удалить доску «${n}»? Изображения останутся в галерее.`,
  promptsTitle: 'История и сохранённые запросы', savedPrompts: 'Сохранённые запросы', recentPrompts: 'Недавние запросы',
  savedEmpty: 'Сохранённых запросов пока нет.', historyEmpty: 'Здесь появятся ваши запросы.',
  savedName: 'Название для запроса из формы', savePrompt: 'Сохранить запрос', promptSaved: 'Запрос сохранён.',
  promptFilled: 'Запрос подставлен в форму.', removeSaved: (n) => `Удалить сохранённый запрос ${n}`,
  usedTimes: (n, d) => `${n}× · ${d}`,
  // Пакеты и управление очередью (batches.js)
  batchImages: 'Изображений', batchOf: (n) => `Пакет из ${n}`, batchTotal: (n, sum) => `${n} прогноза, всего ${sum}`,
  cancelBatch: 'Отменить пакет', retryBatch: 'Повторить пакет',
  batchCanceled: 'Пакет отменён.', batchRetried: 'Пакет снова в очереди.',
  toFront: 'В начало моей очереди', toBack: 'В конец моей очереди',
  toFrontOf: (p) => `Переместить «${p}» в начало моей очереди`, toBackOf: (p) => `Переместить «${p}» в конец моей очереди`,
  movedFront: 'Перемещено в начало.', movedBack: 'Перемещено в конец.',
  pausedBadge: 'На паузе', pauseQueue: 'Приостановить мою очередь', resumeQueue: 'Возобновить мою очередь',
  queuePausedNote: 'Ваша очередь приостановлена: ожидающие изображения не начнутся, пока вы её не возобновите.',
  queuePausedToast: 'Очередь приостановлена.', queueResumedToast: 'Очередь возобновлена.',
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

// The Admin page (app/admin.js) and the invitation sign-up.
const adminEn = {
  navAdmin: 'Admin', adminTitle: 'Administration',
  signupInviteOnly: 'Registration here is by invitation only: open the invitation link an administrator sent you.',
  signupInvited: 'You were invited: choose a username and password to create your account.',
  admin_users: 'Users', admin_queue: 'Queue', admin_usage: 'Usage', admin_invites: 'Invitations', admin_settings: 'Settings', admin_audit: 'Audit log',
  searchUsers: 'Search by username or email', more: 'Show more', noneFound: 'Nothing found.',
  roleAdmin: 'admin', stateDisabled: 'disabled', stateUnapproved: 'awaiting approval', ownKey: 'own key',
  disable: 'Disable', enable: 'Enable', makeAdmin: 'Make admin', removeAdmin: 'Remove admin', approve: 'Approve',
  resetPassword: 'Reset password', limits: 'Limits', save: 'Save',
  confirmDisable: (u) => `Disable ${u}? Their sessions end at once and their waiting generations are canceled.`,
  userDisabled: (u) => `${u} is disabled.`, userEnabled: (u) => `${u} is enabled.`, userApproved: (u) => `${u} may use the shared key.`,
  adminGranted: (u) => `${u} is now an administrator.`, adminRemoved: (u) => `${u} is no longer an administrator.`,
  newPasswordOrEmpty: 'New password (leave empty for a one-time password)',
  oneTimePassword: (p) => `One-time password: ${p} — give it to the user now; it is not shown again.`,
  passwordSet: 'The password was set.', passwordResetDone: (u) => `Password of ${u} reset; their sessions ended.`,
  noLimit: 'no limit', userLimitsSaved: (u) => `Limits of ${u} saved.`, useDefaults: 'Use the defaults',
  limitsOverride: 'Limits set for this user.', limitsDefault: 'The install’s default limits apply.',
  usedSoFar: (d, m) => `Spent today ${d}, this month ${m}.`,
  lim_day_usd: 'Per day, USD', lim_month_usd: 'Per month, USD', lim_day_images: 'Images per day', lim_month_images: 'Images per month',
  queuePaused: 'All work is paused: nothing new starts.', queueRunning: 'The queue is running.',
  pauseAll: 'Pause all work', resumeAll: 'Resume all work',
  ageAttempts: (a, n) => `waiting ${a}, attempts ${n}`, canceledFor: (u) => `Canceled the generation of ${u}.`,
  queueAllEmpty: 'No user has anything waiting or running.',
  period: 'Period', lastDays: (n) => `Last ${n} days`, measure: 'Show', money: 'Money (USD)', images: 'Images',
  user: 'User', allUsers: 'All users', downloadCSV: 'Download CSV',
  usageTotal: (n, m) => `In this period: ${n} images, ${m}.`,
  chartLabel: (what, a, b) => `${what} per day from ${a} to ${b}`,
  expires: 'Expires', in24h: 'in 24 hours', in3d: 'in 3 days', in7d: 'in 7 days', in30d: 'in 30 days',
  inviteNote: 'Note (who it is for)', createInvite: 'Create invitation link',
  inviteOnce: 'Copy the link now: it is shown only once. It signs up one account.',
  inviteLink: 'Invitation link', copyByHand: 'Select the link and copy it by hand.',
  invitations: 'Invitations', noInvites: 'No invitations yet.',
  inv_open: 'open', inv_used: 'used', inv_expired: 'expired', inv_revoked: 'revoked',
  usedBy: (u, when) => `Used by ${u} on ${when}`, expiresAt: (when) => `Good until ${when}`,
  revokeInvite: 'Revoke', revoked: 'Invitation revoked.', confirmRevokeInvite: 'Revoke this invitation? Its link stops working.',
  settingsHelp: 'The environment gives each setting its first value; a value changed here is kept in the database and wins until it is reset.',
  srcEnv: 'from environment', srcStored: 'changed here', resetToEnv: 'Reset to environment',
  settingSaved: 'Setting saved.', settingReset: 'Setting reset to the environment’s value.',
  set_registration: 'Registration', reg_open: 'Open: anyone may sign up', reg_invite: 'By invitation only', reg_closed: 'Closed',
  set_approval_required: 'New accounts need approval before they use the shared key',
  set_audit_retention_days: 'Keep the audit log (days)', set_prices: 'Prices per image (USD)',
  set_default_limits: 'Default limits for every user', set_shared_month_cap_usd: 'Monthly cap of the shared key (USD)',
  actor: 'Who', subject: 'Whom', action: 'Action', anyAction: 'Any action', from: 'From', to: 'To', auditFilter: 'Filter',
  col_when: 'When', col_action: 'Action', col_actor: 'Who', col_subject: 'Whom', col_client: 'Address', col_details: 'Details',
};
const adminRu = {
  navAdmin: 'Админка', adminTitle: 'Администрирование',
  signupInviteOnly: 'Регистрация здесь только по приглашению: откройте ссылку-приглашение от администратора.',
  signupInvited: 'Вас пригласили: выберите имя пользователя и пароль, чтобы создать учётную запись.',
  admin_users: 'Пользователи', admin_queue: 'Очередь', admin_usage: 'Расходы', admin_invites: 'Приглашения', admin_settings: 'Настройки', admin_audit: 'Журнал аудита',
  searchUsers: 'Поиск по имени или почте', more: 'Показать ещё', noneFound: 'Ничего не найдено.',
  roleAdmin: 'админ', stateDisabled: 'отключён', stateUnapproved: 'ждёт одобрения', ownKey: 'свой ключ',
  disable: 'Отключить', enable: 'Включить', makeAdmin: 'Сделать админом', removeAdmin: 'Снять админа', approve: 'Одобрить',
  resetPassword: 'Сбросить пароль', limits: 'Лимиты', save: 'Сохранить',
  confirmDisable: (u) => `Отключить ${u}? Все сеансы завершатся сразу, ожидающие генерации будут отменены.`,
  userDisabled: (u) => `${u} отключён.`, userEnabled: (u) => `${u} включён.`, userApproved: (u) => `${u} может пользоваться общим ключом.`,
  adminGranted: (u) => `${u} теперь администратор.`, adminRemoved: (u) => `${u} больше не администратор.`,
  newPasswordOrEmpty: 'Новый пароль (оставьте пустым для одноразового)',
  oneTimePassword: (p) => `Одноразовый пароль: ${p} — передайте его пользователю сейчас; он больше не будет показан.`,
  passwordSet: 'Пароль установлен.', passwordResetDone: (u) => `Пароль ${u} сброшен; его сеансы завершены.`,
  noLimit: 'без лимита', userLimitsSaved: (u) => `Лимиты ${u} сохранены.`, useDefaults: 'Как по умолчанию',
  limitsOverride: 'Для этого пользователя заданы свои лимиты.', limitsDefault: 'Действуют лимиты по умолчанию.',
  usedSoFar: (d, m) => `Потрачено сегодня ${d}, в этом месяце ${m}.`,
  lim_day_usd: 'В день, USD', lim_month_usd: 'В месяц, USD', lim_day_images: 'Изображений в день', lim_month_images: 'Изображений в месяц',
  queuePaused: 'Вся работа приостановлена: новое не запускается.', queueRunning: 'Очередь работает.',
  pauseAll: 'Приостановить всё', resumeAll: 'Возобновить всё',
  ageAttempts: (a, n) => `ждёт ${a}, попыток ${n}`, canceledFor: (u) => `Генерация ${u} отменена.`,
  queueAllEmpty: 'Ни у кого ничего не ждёт и не выполняется.',
  period: 'Период', lastDays: (n) => `Последние ${n} дн.`, measure: 'Показать', money: 'Деньги (USD)', images: 'Изображения',
  user: 'Пользователь', allUsers: 'Все пользователи', downloadCSV: 'Скачать CSV',
  usageTotal: (n, m) => `За период: изображений ${n}, ${m}.`,
  chartLabel: (what, a, b) => `${what} по дням с ${a} по ${b}`,
  expires: 'Срок действия', in24h: '24 часа', in3d: '3 дня', in7d: '7 дней', in30d: '30 дней',
  inviteNote: 'Заметка (для кого)', createInvite: 'Создать ссылку-приглашение',
  inviteOnce: 'Скопируйте ссылку сейчас: она показывается один раз. По ней можно создать одну учётную запись.',
  inviteLink: 'Ссылка-приглашение', copyByHand: 'Выделите ссылку и скопируйте её вручную.',
  invitations: 'Приглашения', noInvites: 'Приглашений пока нет.',
  inv_open: 'действует', inv_used: 'использовано', inv_expired: 'истекло', inv_revoked: 'отозвано',
  usedBy: (u, when) => `Использовал ${u}, ${when}`, expiresAt: (when) => `Действует до ${when}`,
  revokeInvite: 'Отозвать', revoked: 'Приглашение отозвано.', confirmRevokeInvite: 'Отозвать приглашение? Ссылка перестанет работать.',
  settingsHelp: 'Первое значение каждой настройки берётся из окружения; изменённое здесь хранится в базе и действует, пока его не сбросят.',
  srcEnv: 'из окружения', srcStored: 'изменено здесь', resetToEnv: 'Вернуть значение окружения',
  settingSaved: 'Настройка сохранена.', settingReset: 'Настройка возвращена к значению окружения.',
  set_registration: 'Регистрация', reg_open: 'Открыта для всех', reg_invite: 'Только по приглашению', reg_closed: 'Закрыта',
  set_approval_required: 'Новые учётные записи пользуются общим ключом только после одобрения',
  set_audit_retention_days: 'Хранить журнал аудита (дней)', set_prices: 'Цены за изображение (USD)',
  set_default_limits: 'Лимиты по умолчанию для всех', set_shared_month_cap_usd: 'Месячный предел общего ключа (USD)',
  actor: 'Кто', subject: 'Кого', action: 'Действие', anyAction: 'Любое действие', from: 'С', to: 'По', auditFilter: 'Показать',
  col_when: 'Когда', col_action: 'Действие', col_actor: 'Кто', col_subject: 'Кого', col_client: 'Адрес', col_details: 'Подробности',
};
// A name taken twice would silently change another view's text: refused at load.
for (const [dict, more] of [[en, adminEn], [ru, adminRu]]) {
  for (const [k, v] of Object.entries(more)) {
    if (k in dict) throw new Error(`i18n: "${k}" is defined twice`);
    dict[k] = v;
  }
}

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

// extend adds a view's own words ({en: {...}, ru: {...}}) to the dictionaries.
export function extend(words) {
  for (const [l, d] of Object.entries(words)) if (dicts[l]) Object.assign(dicts[l], d);
}

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
