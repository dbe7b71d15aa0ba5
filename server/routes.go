package server

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// Body limits: JSON bodies are small; uploads are checked per file by their handler.
const jsonBodyLimit = 64 << 10

// routes registers every route, top to bottom like a table of contents.
func (s *Server) routes() http.Handler {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.HandleMethodNotAllowed = true

	r.GET("/healthz", s.h(s.healthz))
	r.GET("/readyz", s.h(s.readyz))
	r.GET("/api/v1/meta", s.h(s.meta))

	// Accounts (seed paths first).
	r.POST("/api/v1/auth/register", s.json(s.register))
	r.POST("/api/v1/auth/login", s.json(s.login))
	r.GET("/api/v1/auth/me", s.authed(s.me))
	r.POST("/api/v1/auth/refresh", s.json(s.refresh))
	r.POST("/api/v1/auth/logout", s.json(s.logout))
	r.POST("/api/v1/auth/logout-all", s.authed(s.logoutAll))
	r.PUT("/api/v1/auth/password", s.authedJSON(s.changePassword))

	// The user's Replicate key (seed).
	r.PUT("/api/v1/users/api-key", s.authedJSON(s.putAPIKey))
	r.GET("/api/v1/users/api-key", s.authed(s.getAPIKey))
	r.DELETE("/api/v1/users/api-key", s.authed(s.deleteAPIKey))

	s.imageRoutes(r)

	r.NotFound = http.HandlerFunc(s.notFound)
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fail(w, req, newError(db.CodeMethodNotAllowed, "Method "+req.Method+" is not allowed on "+req.URL.Path+"; allowed: "+w.Header().Get("Allow")+"."))
	})
	r.PanicHandler = nil // the middleware recovers, logs and answers
	return r
}

// notFound answers JSON under /api and hands everything else to the frontend.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.frontend == nil || strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api" {
		s.fail(w, r, newError(db.CodeNoRoute, "No such endpoint: "+r.Method+" "+r.URL.Path+". The API lives under /api/v1."))
		return
	}
	s.frontend.ServeHTTP(w, r)
}

// h adapts an error-returning handler to httprouter.
func (s *Server) h(fn handlerFunc) httprouter.Handle {
	f := s.wrap(fn)
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { f(w, r) }
}

// json is h with the small JSON body limit.
func (s *Server) json(fn handlerFunc) httprouter.Handle {
	f := s.limitBody(jsonBodyLimit, s.wrap(fn))
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { f(w, r) }
}

// authedHandler is a handler for a signed-in user; ps are the route's parameters.
type authedHandler func(w http.ResponseWriter, r *http.Request, u *principal, ps httprouter.Params) error

func (s *Server) authed(fn authedHandler) httprouter.Handle {
	return s.authedLimit(0, fn)
}

func (s *Server) authedJSON(fn authedHandler) httprouter.Handle {
	return s.authedLimit(jsonBodyLimit, fn)
}

// authedLimit authenticates before reading any body, so an anonymous client cannot make
// the server read a large one.
func (s *Server) authedLimit(limit int64, fn authedHandler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nanobanana"`)
			s.fail(w, r, err)
			return
		}
		run := s.wrap(func(w http.ResponseWriter, r *http.Request) error { return fn(w, r, p, ps) })
		if limit > 0 {
			run = s.limitBody(limit, run)
		}
		run(w, r)
	}
}
