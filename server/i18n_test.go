package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"nanobanana/db"
)

// Every code of the catalogue has its Russian sentence.
func TestRussianSentenceForEveryCode(t *testing.T) {
	for _, c := range db.Codes() {
		if s := ruByCode[c]; !strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) {
			t.Errorf("code %s has no Russian sentence", c)
		}
	}
	for en, ru := range ruDetails {
		if ru == "" {
			t.Errorf("%q has an empty translation", en)
		}
	}
}

func TestWantsRussian(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "ru": true, "ru-RU,ru;q=0.9,en;q=0.8": true, "en-US,en;q=0.9,ru;q=0.8": false,
		"de,ru;q=0.5": true, "*;q=0.9,ru;q=0.5": false, "ru;q=0": false, "EN, RU": false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", h)
		if got := wantsRussian(r); got != want {
			t.Errorf("Accept-Language %q: Russian %v, want %v", h, got, want)
		}
	}
}

// The detail follows Accept-Language; the code does not.
func TestErrorDetailFollowsAcceptLanguage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.register(t, "alice")
	ru := http.Header{"Accept-Language": {"ru-RU,ru;q=0.9,en;q=0.5"}}
	for _, c := range []struct {
		call call
		want string
		code db.Code
	}{
		{call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "wrong-password"}, Header: ru}, "Неверное имя пользователя или пароль.", db.CodeBadCredentials},
		{call{Method: "GET", Path: "/api/v1/auth/me", Header: ru}, "Вы не вошли", db.CodeUnauthorized},
		{call{Method: "GET", Path: "/api/v1/nope", Header: ru}, "Такого адреса API нет.", db.CodeNoRoute},
		{call{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]string{"username": "x"}, Header: ru}, "Некоторые поля заполнены неверно. (", db.CodeInvalid},
		{call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "wrong-password"}}, "Incorrect username or password.", db.CodeBadCredentials},
	} {
		r := ts.do(t, c.call)
		if !strings.HasPrefix(r.Detail(t), c.want) || r.Code(t) != c.code {
			t.Errorf("%s %s (%v): %s; want detail %q, code %s", c.call.Method, c.call.Path, c.call.Header, r.Body, c.want, c.code)
		}
		if c.call.Header != nil && r.Header.Get("Content-Language") != "ru" {
			t.Errorf("%s %s: Content-Language %q", c.call.Method, c.call.Path, r.Header.Get("Content-Language"))
		}
	}
}
