// What the page says when the server refuses something, worded by the error's code (the
// catalogue in db/errors.go): a sentence for a person, in English and Russian, with the
// next step. The server's own sentence (detail) stays in the error for scripts and logs;
// the page shows these. One line per code: frontend/messages_test.go reads this file and
// fails when a catalogue code has no text in either language.
//
// A text is a string, or a function of the wait (a duration already worded, '' when the
// server named none). `settings` marks the codes whose next step is on the Settings page.
// `detail` marks the codes whose server sentence carries values the page cannot know
// (a limit's amount, when it resets): the page shows that sentence (in the page's
// language) and the text here only when the server sent none.

export const byCode = {
  internal: { en: 'Something went wrong on the server. Try again; if it keeps happening, tell the administrator.', ru: 'На сервере что-то пошло не так. Попробуйте ещё раз; если ошибка повторяется, сообщите администратору.' },
  invalid: { en: 'Some fields need fixing: see the marked ones.', ru: 'Некоторые поля нужно исправить: они отмечены.' },
  bad_json: { en: 'The page sent something the server could not read. Reload the page and try again.', ru: 'Страница отправила то, что сервер не смог прочитать. Обновите страницу и попробуйте снова.' },
  bad_request: { en: 'The server could not understand this request. Reload the page and try again.', ru: 'Сервер не понял этот запрос. Обновите страницу и попробуйте снова.' },
  invalid_cursor: { en: 'The list is out of date. Reload the page to start it again.', ru: 'Список устарел. Обновите страницу, чтобы загрузить его заново.' },
  unauthorized: { en: 'You are not signed in, or your sign-in has expired. Sign in again.', ru: 'Вы не вошли или срок входа истёк. Войдите снова.' },
  session_ended: { en: 'Your session ended (the password was changed, or you signed out everywhere). Sign in again.', ru: 'Сеанс завершён (пароль изменён или выполнен выход на всех устройствах). Войдите снова.' },
  bad_credentials: { en: 'Incorrect username or password. Check both and try again.', ru: 'Неверное имя пользователя или пароль. Проверьте оба поля и попробуйте снова.' },
  refresh_token_reused: { en: 'For your safety this session was ended: it was used from two places at once. Sign in again.', ru: 'Ради безопасности сеанс завершён: он использовался из двух мест сразу. Войдите снова.' },
  forbidden: { en: 'Your account is not allowed to do this. Ask the administrator if you need it.', ru: 'Вашей учётной записи это не разрешено. Если это нужно, обратитесь к администратору.' },
  registration_closed: { en: 'New accounts cannot be created on this server. Ask the administrator for one.', ru: 'Новые учётные записи на этом сервере не создаются. Попросите администратора создать вам учётную запись.' },
  not_found: { en: 'It is no longer there: it was deleted, or it is not yours. Reload the page.', ru: 'Этого больше нет: оно удалено или принадлежит не вам. Обновите страницу.' },
  no_route: { en: 'The page asked the server for something it does not offer. Reload the page; the app may have been updated.', ru: 'Страница запросила у сервера то, чего он не умеет. Обновите страницу: возможно, приложение обновилось.' },
  method_not_allowed: { en: 'The page asked the server for something it does not offer. Reload the page; the app may have been updated.', ru: 'Страница запросила у сервера то, чего он не умеет. Обновите страницу: возможно, приложение обновилось.' },
  conflict: { en: 'Something changed meanwhile. Reload the page and try again.', ru: 'Пока вы смотрели, что-то изменилось. Обновите страницу и попробуйте снова.' },
  username_taken: { en: 'This username is taken. Choose another one.', ru: 'Это имя пользователя занято. Выберите другое.' },
  email_taken: { en: 'There is already an account with this email. Sign in instead.', ru: 'С этим адресом почты уже есть учётная запись. Войдите в неё.' },
  generation_finished: { en: 'This generation has already finished; there is nothing to cancel.', ru: 'Эта генерация уже завершена; отменять нечего.' },
  generation_not_retryable: { en: 'Only a failed or canceled generation can be tried again.', ru: 'Повторить можно только неудавшуюся или отменённую генерацию.' },
  generation_stopping: { en: 'The generation is still stopping. Try again in a few seconds.', ru: 'Генерация ещё останавливается. Повторите через несколько секунд.' },
  prediction_owned: { en: 'Something went wrong on the server. Try again; if it keeps happening, tell the administrator.', ru: 'На сервере что-то пошло не так. Попробуйте ещё раз; если ошибка повторяется, сообщите администратору.' },
  lease_lost: { en: 'Something went wrong on the server. Try again; if it keeps happening, tell the administrator.', ru: 'На сервере что-то пошло не так. Попробуйте ещё раз; если ошибка повторяется, сообщите администратору.' },
  cancel_requested: { en: 'The generation was canceled.', ru: 'Генерация отменена.' },
  rate_limited: { en: (w) => `Too many requests in a short time. Wait ${w || 'a moment'} and try again.`, ru: (w) => `Слишком много запросов за короткое время. Подождите и попробуйте снова${w ? ` (ждать: ${w})` : ''}.` },
  too_many_attempts: { en: (w) => `Too many wrong passwords. Wait ${w || 'a minute'} and try again.`, ru: (w) => `Слишком много неверных паролей. Подождите и попробуйте снова${w ? ` (ждать: ${w})` : ''}.` },
  too_large: { en: 'That is too large for the server. Use smaller images or a shorter text.', ru: 'Это слишком велико для сервера. Возьмите изображения поменьше или текст покороче.' },
  unavailable: { en: (w) => `The server is busy right now. Try again in ${w || 'a moment'}.`, ru: (w) => `Сервер сейчас занят. Попробуйте чуть позже${w ? ` (ждать: ${w})` : ''}.` },
  no_api_key: { en: 'Add your Replicate key in Settings to generate images.', ru: 'Чтобы создавать изображения, добавьте свой ключ Replicate в настройках.', settings: true },
  upstream_error: { en: 'Replicate, which runs the model, did not answer as expected. Try again in a few minutes.', ru: 'Replicate, где работает модель, ответил не так, как ожидалось. Попробуйте снова через несколько минут.' },
  unsupported_media_type: { en: 'Only JPEG, PNG and WebP images can be used. Choose another file.', ru: 'Подходят только изображения JPEG, PNG и WebP. Выберите другой файл.' },
  account_disabled: { en: 'This account is disabled. Contact the administrator.', ru: 'Эта учётная запись отключена. Обратитесь к администратору.' },
  invalid_link: { en: 'This image link has expired. Reload the page to see the image.', ru: 'Ссылка на изображение устарела. Обновите страницу, чтобы увидеть его.' },
  pending_limit: { en: 'You have as many generations waiting as allowed. Wait until some finish, then generate again.', ru: 'У вас в очереди столько генераций, сколько разрешено. Дождитесь, пока часть завершится, и запустите снова.' },
  upload_quota_exceeded: { en: 'Your reference images take all the space you have. Remove some you no longer use and try again.', ru: 'Ваши образцы заняли всё отведённое место. Удалите ненужные и попробуйте снова.' },
  upload_in_use: { en: 'This image is used by a generation that has not finished. Delete it after that generation ends.', ru: 'Это изображение нужно незавершённой генерации. Удалите его, когда она закончится.' },
  request_timeout: { en: 'The upload took too long. Try again, with smaller files on a slow connection.', ru: 'Загрузка длилась слишком долго. Попробуйте снова; при медленной связи — с файлами поменьше.' },
  too_many_streams: { en: 'Live updates are open in too many tabs. Close some tabs, then reload this one.', ru: 'Живые обновления открыты в слишком многих вкладках. Закройте лишние и обновите эту.' },
  storage_full: { en: 'The server has run out of space, so nothing was saved. Try again later; the administrator has been told.', ru: 'На сервере закончилось место, поэтому ничего не сохранено. Попробуйте позже: администратор уже знает.' },
  insufficient_scope: { en: 'This access token is not allowed to do this. Make a token with the needed scope in Settings.', ru: 'Этому токену доступа это не разрешено. Создайте в настройках токен с нужными правами.', settings: true },
  // Codes the other branches of issue 11 and 13 add (money, admin, batches): written here
  // ahead, so the merge needs no new line.
  spending_limit: { en: (w) => `This would go over a spending limit. Add your own Replicate key in Settings, ask the administrator to raise the limit, or wait${w ? ` ${w}` : ' until it resets'}.`, ru: (w) => `Это превысит лимит расходов. Добавьте свой ключ Replicate в настройках, попросите администратора поднять лимит или подождите, пока он обновится${w ? ` (ждать: ${w})` : ''}.`, settings: true, detail: true },
  invitation_required: { en: 'Sign-up here is by invitation only. Open the invitation link the administrator sent you.', ru: 'Регистрация здесь только по приглашению. Откройте ссылку-приглашение от администратора.' },
  invitation_invalid: { en: 'This invitation cannot be used any more (used, revoked or expired). Ask the administrator for a new one.', ru: 'Это приглашение больше не действует (использовано, отозвано или истекло). Попросите у администратора новое.' },
  not_approved: { en: 'The administrator has not approved your account for the shared key yet. Add your own Replicate key in Settings, or wait for approval.', ru: 'Администратор ещё не одобрил вашу учётную запись для общего ключа. Добавьте свой ключ Replicate в настройках или дождитесь одобрения.', settings: true },
  last_admin: { en: 'This is the last administrator. Make someone else an administrator first.', ru: 'Это последний администратор. Сначала назначьте администратором кого-то ещё.' },
  generation_not_waiting: { en: 'This generation is no longer waiting (it has started or finished), so it cannot be moved.', ru: 'Эта генерация больше не ждёт в очереди (она запущена или завершена), переместить её нельзя.' },
  idempotency_key_reused: { en: 'The form changed while it was being sent. Press Generate again.', ru: 'Форма изменилась во время отправки. Нажмите «Сгенерировать» ещё раз.' },
};

// Per field: what to write in a field the server (or the page) refused. A field missing
// here shows the server's own sentence.
export const byField = {
  username: { en: 'Use 3 to 32 letters, digits, “_”, “.” or “-”.', ru: 'Используйте от 3 до 32 латинских букв, цифр, «_», «.» или «-».' },
  email: { en: 'Enter an email address such as name@example.com.', ru: 'Введите адрес почты вида name@example.com.' },
  password: { en: 'Use 8 to 72 bytes: 8 to 72 Latin letters or digits; other letters (Cyrillic, accents) count as two bytes each.', ru: 'Нужно от 8 до 72 байт: от 8 до 72 латинских букв или цифр; прочие буквы (кириллица, с диакритикой) считаются за два байта.' },
  current_password: { en: 'The current password is not correct. Type it again.', ru: 'Текущий пароль введён неверно. Введите его ещё раз.' },
  api_key: { en: 'Replicate did not accept this token, or it is not a whole one: copy the whole token (it starts with r8_) from the API tokens page of your Replicate account and paste it again. Nothing was saved.', ru: 'Replicate не принял этот токен, или он скопирован не целиком: скопируйте весь токен (он начинается с r8_) со страницы API tokens вашего аккаунта Replicate и вставьте снова. Ничего не сохранено.' },
  name: { en: 'Name the token (up to 100 characters), for example after the script that uses it.', ru: 'Назовите токен (до 100 символов), например по скрипту, который им пользуется.' },
  scopes: { en: 'Choose at least one scope.', ru: 'Выберите хотя бы одно право.' },
  reference_image_ids: { en: 'A reference image is no longer on the server. Remove it and add it again.', ru: 'Одного из образцов больше нет на сервере. Уберите его и добавьте снова.' },
  prompt: { en: 'Describe the image to generate, within the number of characters shown above the field.', ru: 'Опишите изображение, уложившись в число символов, указанное над полем.' },
  images: { en: 'One of the images could not be used. Check that each is a whole JPEG, PNG or WebP picture.', ru: 'Одно из изображений не подошло. Проверьте, что каждое — целая картинка JPEG, PNG или WebP.' },
};
byField.new_password = byField.password;

// Codes that are about one field of the form that was sent: the field is marked with the
// code's sentence.
export const codeField = { username_taken: 'username', email_taken: 'email' };

// Failures of a generation carry a sentence, not a code; Replicate's own code (E005,
// E6716) is in it, and these word the known ones.
export const byFailure = {
  E005: { en: 'The safety filter blocked this prompt or image. Edit the prompt (describe it differently) and generate again; repeating it unchanged will be blocked again.', ru: 'Фильтр безопасности заблокировал этот запрос или изображение. Измените запрос (опишите иначе) и запустите снова: тот же запрос снова будет заблокирован.' },
  E005lower: { en: 'The safety filter blocked this prompt or image. Edit the prompt, or choose a more relaxed safety filter, and generate again.', ru: 'Фильтр безопасности заблокировал этот запрос или изображение. Измените запрос или выберите более мягкий фильтр безопасности и запустите снова.' },
  E6716: { en: 'Replicate had a temporary problem running the model. Try again in a moment.', ru: 'У Replicate временная проблема с запуском модели. Попробуйте снова чуть позже.' },
};
