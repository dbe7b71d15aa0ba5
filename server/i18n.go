package server

import (
	"net/http"
	"strconv"
	"strings"

	"nanobanana/db"
)

// The error sentences (detail) follow Accept-Language: English, the default, or
// Russian, the frontend's two languages. A sentence written whole in the code has its
// translation in ruDetails; one built with values (limits, names, times) gets its
// code's Russian sentence with the English one after it, so nothing specific is lost.
// Codes never change with the language: scripts and the frontend act on them.

// ruByCode is every code's Russian sentence (a test holds it to the catalogue).
var ruByCode = map[db.Code]string{
	db.CodeInternal:             "Внутренняя ошибка сервера; она записана в журнал. Попробуйте ещё раз и сообщите администратору, если ошибка повторится.",
	db.CodeInvalid:              "Некоторые поля заполнены неверно.",
	db.CodeBadJSON:              "Тело запроса — не тот JSON, который ожидался.",
	db.CodeBadRequest:           "Запрос составлен неверно.",
	db.CodeInvalidCursor:        "Этот курсор списка выдан не этим сервером; начните список заново без него.",
	db.CodeUnauthorized:         "Вы не вошли в систему, или токен недействителен либо истёк; войдите снова.",
	db.CodeSessionEnded:         "Этот сеанс завершён; войдите снова.",
	db.CodeBadCredentials:       "Неверное имя пользователя или пароль.",
	db.CodeTokenReused:          "Этот токен обновления уже использовался, поэтому сеанс завершён в целях безопасности; войдите снова.",
	db.CodeForbidden:            "Это действие вам не разрешено.",
	db.CodeRegistrationClosed:   "Регистрация на этом сервере закрыта; попросите администратора создать вам учётную запись.",
	db.CodeNotFound:             "Не найдено: такого нет или оно принадлежит не вам.",
	db.CodeNoRoute:              "Такого адреса API нет. API находится по адресу /api/v1.",
	db.CodeMethodNotAllowed:     "Этот метод не поддерживается по этому адресу.",
	db.CodeConflict:             "Изменение противоречит текущему состоянию; обновите страницу и попробуйте снова.",
	db.CodeUsernameTaken:        "Это имя пользователя занято; выберите другое.",
	db.CodeEmailTaken:           "Учётная запись с этим адресом почты уже есть; войдите в неё.",
	db.CodeAlreadyFinished:      "Эта генерация уже завершена.",
	db.CodeNotRetryable:         "Повторить можно только неудавшуюся или отменённую генерацию.",
	db.CodeStillStopping:        "Генерация ещё останавливается; повторите через несколько секунд.",
	db.CodePredictionOwned:      "Это предсказание уже принадлежит другой задаче.",
	db.CodeLeaseLost:            "Задача больше не принадлежит этому обработчику.",
	db.CodeCancelRequested:      "Генерация отменена.",
	db.CodeRateLimited:          "Слишком много запросов; подождите и попробуйте снова.",
	db.CodeTooManyAttempts:      "Слишком много неудачных попыток входа; подождите и попробуйте снова.",
	db.CodeTooLarge:             "Тело запроса или файл слишком велики.",
	db.CodeUnavailable:          "Сервер сейчас не может это выполнить; попробуйте немного позже.",
	db.CodeNoAPIKey:             "Нет ключа API Replicate: добавьте свой в настройках или попросите администратора задать REPLICATE_API_TOKEN.",
	db.CodeUpstream:             "Replicate отказал или не ответил; попробуйте позже.",
	db.CodeUnsupportedMedia:     "Этот тип данных здесь не принимается; нужны изображения JPEG, PNG или WebP.",
	db.CodeAccountDisabled:      "Эта учётная запись отключена; обратитесь к администратору.",
	db.CodeInvalidLink:          "Ссылка на изображение недействительна или устарела; обновите страницу.",
	db.CodePendingLimit:         "В очереди уже столько ваших генераций, сколько разрешено; дождитесь завершения некоторых.",
	db.CodeInsufficientScope:    "Этому персональному токену доступа это не разрешено.",
	db.CodeUploadQuota:          "Ваши загруженные изображения заняли бы больше места, чем разрешено; удалите ненужные и попробуйте снова.",
	db.CodeIdempotencyKeyReused: "Этот ключ идемпотентности (Idempotency-Key) уже использован для другого запроса; для нового запроса нужен новый ключ.",
	db.CodeSpendingLimit:        "Эта генерация превысит лимит расходов; он обновится в указанное время (см. Retry-After), либо добавьте свой ключ Replicate в настройках или попросите администратора поднять лимит.",
	db.CodeUploadInUse:          "Это изображение используется генерацией в очереди или в работе; удалите его после её завершения.",
	db.CodeRequestTimeout:       "Тело запроса не пришло вовремя; отправьте его снова (при медленной связи — файлы поменьше).",
	db.CodeTooManyStreams:       "Открыто больше живых окон, чем разрешено; это окно закрыто. Обновите его, чтобы снова следить за генерациями.",
	db.CodeStorageFull:          "На сервере закончилось место; попробуйте позже.",
	db.CodeInvitationRequired:   "Регистрация здесь только по приглашению; откройте ссылку-приглашение, которую вам прислал администратор.",
	db.CodeInvitationInvalid:    "Это приглашение неизвестно, уже использовано, отозвано или истекло; попросите администратора о новом.",
	db.CodeNotApproved:          "Администратор ещё не одобрил вашу учётную запись для общего ключа; добавьте свой ключ Replicate в настройках или дождитесь одобрения.",
	db.CodeLastAdmin:            "Это последний действующий администратор; сначала назначьте администратором кого-то ещё.",
	db.CodeNotWaiting:           "Переместить в очереди можно только генерацию, которая ещё ждёт в ней; эта уже запущена или завершена.",
}

// ruDetails translates the sentences written whole in the code.
var ruDetails = map[string]string{
	"Internal server error; the problem was logged. Try again, and tell the administrator if it persists.": ruByCode[db.CodeInternal],
	"The database is not answering.":                                                                      "База данных не отвечает.",
	"The body is not valid JSON; check quotes, commas and braces.":                                        "Тело запроса — не корректный JSON; проверьте кавычки, запятые и скобки.",
	"The body is not valid UTF-8; send JSON encoded as UTF-8.":                                            "Тело запроса — не корректный UTF-8; отправьте JSON в кодировке UTF-8.",
	"The body must be a JSON object.":                                                                     "Тело запроса должно быть объектом JSON.",
	"The body must be one JSON object; remove what follows it.":                                           "Тело запроса должно быть одним объектом JSON; удалите то, что идёт после него.",
	"The request body is empty; send a JSON object.":                                                      "Тело запроса пустое; отправьте объект JSON.",
	"Too many form fields.":                                                                               "Слишком много полей формы.",
	"Only an administrator may do this.":                                                                  "Это может сделать только администратор.",
	"The account this image belongs to is disabled.":                                                      "Учётная запись, которой принадлежит изображение, отключена.",
	"This account is disabled; contact the administrator.":                                                ruByCode[db.CodeAccountDisabled],
	"Incorrect username or password.":                                                                     ruByCode[db.CodeBadCredentials],
	"Personal access tokens cannot do this; sign in with your password.":                                  "Персональным токенам доступа это недоступно; войдите с паролем.",
	"This image link is invalid or has expired; reload the page to get a fresh one.":                      ruByCode[db.CodeInvalidLink],
	"This image link is no longer valid.":                                                                 "Эта ссылка на изображение больше не действует.",
	"Registration is closed on this server; ask an administrator to create your account.":                 ruByCode[db.CodeRegistrationClosed],
	"This session has ended (password changed or signed out everywhere); sign in again.":                  "Этот сеанс завершён (пароль изменён или выполнен выход на всех устройствах); войдите снова.",
	"This session has ended (signed out); sign in again.":                                                 "Этот сеанс завершён (выполнен выход); войдите снова.",
	"This refresh token was already used, so the session was ended for safety; sign in again.":            ruByCode[db.CodeTokenReused],
	"Send the images as multipart/form-data in a field named images.":                                     "Отправьте изображения как multipart/form-data в поле images.",
	"No such access token: it does not exist or is not yours.":                                            "Такого токена доступа нет, или он не ваш.",
	"Not signed in: send the access token as Authorization: Bearer <token>.":                              "Вы не вошли: передайте токен доступа в заголовке Authorization: Bearer <токен>.",
	"The access token is invalid or expired; sign in again or refresh it.":                                "Токен доступа недействителен или истёк; войдите снова или обновите его.",
	"The event stream's ticket is invalid or expired; ask for a new one with POST /api/v1/events/ticket.": "Билет потока событий недействителен или истёк; получите новый через POST /api/v1/events/ticket.",
	"The personal access token is invalid, expired or revoked.":                                           "Персональный токен доступа недействителен, истёк или отозван.",
	"The personal access token is invalid, expired or revoked; make a new one in Settings.":               "Персональный токен доступа недействителен, истёк или отозван; создайте новый в настройках.",
	"The refresh token is invalid or expired; sign in again.":                                             "Токен обновления недействителен или истёк; войдите снова.",
	"The refresh token is invalid; nothing to sign out.":                                                  "Токен обновления недействителен; выходить не из чего.",
	"Not found: it does not exist or is not yours.":                                                       ruByCode[db.CodeNotFound],
	"The change conflicts with the current state; reload and try again.":                                  ruByCode[db.CodeConflict],
	noKeyMessage:       ruByCode[db.CodeNoAPIKey],
	notApprovedMessage: ruByCode[db.CodeNotApproved],
	"You cannot disable your own account; another administrator can.":                                        "Нельзя отключить собственную учётную запись; это может сделать другой администратор.",
	"This is the last enabled administrator; make another account an administrator first.":                   ruByCode[db.CodeLastAdmin],
	"This invitation was used already; disable the account instead if it must not be used.":                  "Это приглашение уже использовано; если учётная запись не должна работать, отключите её.",
	"Registration on this server is by invitation only; open the invitation link an administrator sent you.": ruByCode[db.CodeInvitationRequired],
	"This invitation is unknown, used, revoked or expired; ask an administrator for a new one.":              ruByCode[db.CodeInvitationInvalid],
	"Send count (variations of one prompt) or prompts (one generation each), not both.":                      "Отправьте count (вариации одного запроса) или prompts (по генерации на запрос), но не оба.",
	"Send prompt (one generation) or prompts (one generation each), not both.":                               "Отправьте prompt (одна генерация) или prompts (по генерации на запрос), но не оба.",
}

// wantsRussian tells whether Accept-Language ranks Russian above English (and above
// having no preference).
func wantsRussian(r *http.Request) bool {
	h := r.Header.Get("Accept-Language")
	if h == "" {
		return false
	}
	ru, en := -1.0, -1.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		switch base {
		case "ru":
			ru = max(ru, q)
		case "en", "*":
			en = max(en, q)
		}
	}
	return ru > 0 && ru > en
}

// localize is the detail of ae in the caller's language.
func localize(r *http.Request, ae *apiError) string {
	if !wantsRussian(r) {
		return ae.Detail
	}
	if ru, ok := ruDetails[ae.Detail]; ok {
		return ru
	}
	ru, ok := ruByCode[ae.Code]
	if !ok || ae.Detail == "" {
		return ae.Detail
	}
	return ru + " (" + ae.Detail + ")"
}
