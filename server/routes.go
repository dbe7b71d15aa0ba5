package server

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// Body limits: JSON bodies are small; uploads are checked per file by their handler.
const jsonBodyLimit = 64 << 10

// route is one line of the route table: what a request must be, who may send it, and
// who answers it. The table is the only place routes are registered and the only place
// authentication is decided; handlers never authenticate.
type route struct {
	method string
	path   string // httprouter syntax: :id is one segment
	who    who
	// scope is the word a personal access token needs to call the route ("read",
	// "generate", "admin"); "" is a route for signed-in sessions only.
	scope string
	// limit caps the body; 0 is jsonBodyLimit for methods with a body and none for GET
	// and HEAD (their bodies are never read).
	limit int64
	// creds is where a user's credentials come from; nil is the Authorization header only.
	creds credentials
	// upload: the body may be large (files), so it gets UPLOAD_TIMEOUT_SECONDS to arrive
	// instead of REQUEST_TIMEOUT_SECONDS.
	upload bool
	// fallback: httprouter refuses the path beside the others (a parameter where another
	// route of the method has a static segment), so it is served from the router's
	// 404/405 fallback, matched against the table (see fallbacks).
	fallback bool
	handle   handler
}

// who may call a route.
type who int

const (
	whoPublic who = iota // anyone: no credentials are read
	whoUser              // a signed-in user: the handler gets the principal
	whoAdmin             // a signed-in administrator; anyone else signed in gets 403
)

// handler answers one route; p is the caller (nil on public routes), ps the path's
// parameters. An error is answered by fail.
type handler func(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error

// credentials finds the caller of a request (see authn.go).
type credentials func(r *http.Request, ps httprouter.Params) (*principal, error)

// routeTable is every route, top to bottom like a table of contents. The id is always
// the last segment because httprouter allows no static segment beside a parameter
// (API.md); the one route of the original service that breaks that rule is a fallback.
func (s *Server) routeTable() []route {
	return []route{
		// Health and what this server offers.
		{method: "GET", path: "/healthz", who: whoPublic, handle: s.healthz},
		{method: "GET", path: "/health", who: whoPublic, handle: s.health}, // the original's health check
		{method: "GET", path: "/readyz", who: whoPublic, handle: s.readyz},
		{method: "GET", path: "/api/v1/meta", who: whoPublic, handle: s.meta},
		{method: "GET", path: "/api/v1/openapi.json", who: whoPublic, handle: s.openAPI},

		// Accounts (seed paths first).
		{method: "POST", path: "/api/v1/auth/register", who: whoPublic, handle: s.register},
		{method: "POST", path: "/api/v1/auth/login", who: whoPublic, handle: s.login},
		{method: "GET", path: "/api/v1/auth/me", who: whoUser, scope: "read", handle: s.me},
		{method: "POST", path: "/api/v1/auth/refresh", who: whoPublic, handle: s.refresh},
		{method: "POST", path: "/api/v1/auth/logout", who: whoPublic, handle: s.logout},
		{method: "POST", path: "/api/v1/auth/logout-all", who: whoUser, handle: s.logoutAll},
		{method: "PUT", path: "/api/v1/auth/password", who: whoUser, handle: s.changePassword},

		// The user's Replicate key (seed).
		{method: "PUT", path: "/api/v1/users/api-key", who: whoUser, scope: "admin", handle: s.putAPIKey},
		{method: "GET", path: "/api/v1/users/api-key", who: whoUser, scope: "read", handle: s.getAPIKey},
		{method: "DELETE", path: "/api/v1/users/api-key", who: whoUser, scope: "admin", handle: s.deleteAPIKey},

		// Spending: what is left before the next generation, the user's own limits; an
		// admin's view and overrides of any user's, and the books per day.
		{method: "GET", path: "/api/v1/users/usage", who: whoUser, scope: "read", handle: s.getUsage},
		{method: "PUT", path: "/api/v1/users/limits", who: whoUser, scope: "admin", handle: s.putSelfLimits},
		{method: "GET", path: "/api/v1/admin/limits/:id", who: whoAdmin, scope: "admin", handle: s.getAdminLimits},
		{method: "PUT", path: "/api/v1/admin/limits/:id", who: whoAdmin, scope: "admin", handle: s.putAdminLimits},
		{method: "DELETE", path: "/api/v1/admin/limits/:id", who: whoAdmin, scope: "admin", handle: s.deleteAdminLimits},
		{method: "GET", path: "/api/v1/admin/usage", who: whoAdmin, scope: "admin", handle: s.adminUsage},
		{method: "GET", path: "/api/v1/admin/usage.csv", who: whoAdmin, scope: "admin", handle: s.adminUsageCSV},

		// Personal access tokens for scripts: made and revoked by a signed-in session only.
		{method: "POST", path: "/api/v1/tokens", who: whoUser, handle: s.createAccessToken},
		{method: "GET", path: "/api/v1/tokens", who: whoUser, scope: "admin", handle: s.listAccessTokens},
		{method: "DELETE", path: "/api/v1/tokens/:id", who: whoUser, handle: s.revokeAccessToken},

		// Generations (seed paths first). Multipart generates carry their reference
		// images, so their limit is the uploads one; a JSON generate is refused at
		// jsonBodyLimit by its decoder.
		{method: "POST", path: "/api/v1/images/generate", who: whoUser, scope: "generate", limit: s.uploadBodyLimit(), upload: true, handle: s.generate},
		{method: "GET", path: "/api/v1/images/status/:id", who: whoUser, scope: "read", handle: s.status},
		{method: "GET", path: "/api/v1/images/list", who: whoUser, scope: "read", handle: s.list},
		{method: "DELETE", path: "/api/v1/images/:id", who: whoUser, scope: "generate", handle: s.deleteGeneration},
		{method: "GET", path: "/api/v1/images/:id", who: whoUser, scope: "read", fallback: true, handle: s.statusOriginal},
		{method: "POST", path: "/api/v1/images/cancel/:id", who: whoUser, scope: "generate", handle: s.cancel},
		{method: "POST", path: "/api/v1/images/retry/:id", who: whoUser, scope: "generate", handle: s.retry},
		{method: "PUT", path: "/api/v1/images/favorite/:id", who: whoUser, scope: "generate", handle: s.setFavorite},

		// Boards and prompts (issue 13): what a user keeps of their history.
		{method: "GET", path: "/api/v1/boards", who: whoUser, scope: "read", handle: s.listBoards},
		{method: "POST", path: "/api/v1/boards", who: whoUser, scope: "generate", handle: s.createBoard},
		{method: "GET", path: "/api/v1/boards/:board_id", who: whoUser, scope: "read", handle: s.boardPage},
		{method: "PATCH", path: "/api/v1/boards/:board_id", who: whoUser, scope: "generate", handle: s.renameBoard},
		{method: "DELETE", path: "/api/v1/boards/:board_id", who: whoUser, scope: "generate", handle: s.deleteBoard},
		{method: "PUT", path: "/api/v1/boards/:board_id/images/:id", who: whoUser, scope: "generate", handle: s.addToBoard},
		{method: "DELETE", path: "/api/v1/boards/:board_id/images/:id", who: whoUser, scope: "generate", handle: s.removeFromBoard},
		{method: "GET", path: "/api/v1/prompts/history", who: whoUser, scope: "read", handle: s.promptHistory},
		{method: "GET", path: "/api/v1/prompts/saved", who: whoUser, scope: "read", handle: s.savedPrompts},
		{method: "POST", path: "/api/v1/prompts/saved", who: whoUser, scope: "generate", handle: s.savePrompt},
		{method: "DELETE", path: "/api/v1/prompts/saved/:id", who: whoUser, scope: "generate", handle: s.deleteSavedPrompt},

		// Batches (generate with count or prompts): read, canceled and retried whole.
		{method: "GET", path: "/api/v1/batches/:id", who: whoUser, scope: "read", handle: s.getBatch},
		{method: "POST", path: "/api/v1/batches/cancel/:id", who: whoUser, scope: "generate", handle: s.cancelBatch},
		{method: "POST", path: "/api/v1/batches/retry/:id", who: whoUser, scope: "generate", handle: s.retryBatch},

		// The user's own queue: paused or not, and the order of their pending generations.
		{method: "GET", path: "/api/v1/queue/state", who: whoUser, scope: "read", handle: s.queueState},
		{method: "POST", path: "/api/v1/queue/pause", who: whoUser, scope: "generate", handle: s.pauseQueue},
		{method: "POST", path: "/api/v1/queue/resume", who: whoUser, scope: "generate", handle: s.resumeQueue},
		{method: "POST", path: "/api/v1/queue/front/:id", who: whoUser, scope: "generate", handle: s.moveQueued(true)},
		{method: "POST", path: "/api/v1/queue/back/:id", who: whoUser, scope: "generate", handle: s.moveQueued(false)},

		// Reference images: stored, listed with what they hold against the quota,
		// deleted. Their first home, /images/uploads, stays for the clients that know it
		// (DELETE cannot follow there: httprouter would see /images/uploads/:id beside
		// /images/:id).
		{method: "POST", path: "/api/v1/uploads", who: whoUser, scope: "generate", limit: s.uploadBodyLimit(), upload: true, handle: s.uploads},
		{method: "GET", path: "/api/v1/uploads", who: whoUser, scope: "read", handle: s.listUploads},
		{method: "DELETE", path: "/api/v1/uploads/:id", who: whoUser, scope: "generate", handle: s.deleteUpload},
		{method: "POST", path: "/api/v1/uploads/generation/:id", who: whoUser, scope: "generate", handle: s.uploadFromGeneration},
		{method: "POST", path: "/api/v1/images/uploads", who: whoUser, scope: "generate", limit: s.uploadBodyLimit(), upload: true, handle: s.uploads},

		// The files: to their owner by token or by signed link.
		{method: "GET", path: "/api/v1/uploads/file/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindUpload), handle: s.file(kindUpload)},
		{method: "HEAD", path: "/api/v1/uploads/file/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindUpload), handle: s.file(kindUpload)},
		{method: "GET", path: "/api/v1/images/uploads/file/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindUpload), handle: s.file(kindUpload)},
		{method: "HEAD", path: "/api/v1/images/uploads/file/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindUpload), handle: s.file(kindUpload)},
		{method: "GET", path: "/api/v1/images/file/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindImage), handle: s.file(kindImage)},
		{method: "HEAD", path: "/api/v1/images/file/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindImage), handle: s.file(kindImage)},
		{method: "GET", path: "/api/v1/images/thumbnail/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindThumb), handle: s.file(kindThumb)},
		{method: "HEAD", path: "/api/v1/images/thumbnail/:id", who: whoUser, scope: "read", creds: s.bearerOrLink(kindThumb), handle: s.file(kindThumb)},

		// Many images at once, as a zip streamed as it is written: scripts POST the ids;
		// browsers get a short-lived link to hand to their download manager.
		{method: "POST", path: "/api/v1/images/zip", who: whoUser, scope: "read", handle: s.zipImages},
		{method: "POST", path: "/api/v1/zips", who: whoUser, scope: "read", handle: s.createZipLink},
		{method: "GET", path: "/api/v1/zips/:token", who: whoUser, scope: "read", creds: s.zipLink, handle: s.zipByLink},

		// Share links: made, listed and revoked by their owner; read by anyone holding one.
		{method: "POST", path: "/api/v1/shares", who: whoUser, scope: "generate", handle: s.createShare},
		{method: "GET", path: "/api/v1/shares", who: whoUser, scope: "read", handle: s.listShares},
		{method: "DELETE", path: "/api/v1/shares/:token", who: whoUser, scope: "generate", handle: s.revokeShare},
		{method: "GET", path: "/api/v1/shared/info/:token", who: whoPublic, handle: s.sharedInfo},
		{method: "GET", path: "/api/v1/shared/file/:token", who: whoPublic, handle: s.sharedFile},

		// Live changes; the browser's EventSource, which cannot send headers, opens the
		// stream with a short-lived ticket.
		{method: "GET", path: "/api/v1/events", who: whoUser, scope: "read", creds: s.bearerOrTicket, handle: s.events},
		{method: "POST", path: "/api/v1/events/ticket", who: whoUser, handle: s.issueTicket}, // browsers' only: scripts send the header

		// Administration: administrators only (users, invitations, the queue of every
		// user, settings, the audit log); each change is written to the audit log.
		{method: "GET", path: "/api/v1/admin/users", who: whoAdmin, scope: "admin", handle: s.adminUsers},
		{method: "PUT", path: "/api/v1/admin/users/disabled/:id", who: whoAdmin, scope: "admin", handle: s.adminSetDisabled},
		{method: "PUT", path: "/api/v1/admin/users/approved/:id", who: whoAdmin, scope: "admin", handle: s.adminSetApproved},
		{method: "PUT", path: "/api/v1/admin/users/admin/:id", who: whoAdmin, handle: s.adminSetAdmin},
		{method: "POST", path: "/api/v1/admin/users/password/:id", who: whoAdmin, handle: s.adminResetPassword},
		{method: "GET", path: "/api/v1/admin/invitations", who: whoAdmin, scope: "admin", handle: s.listInvitations},
		{method: "POST", path: "/api/v1/admin/invitations", who: whoAdmin, scope: "admin", handle: s.createInvitation},
		{method: "DELETE", path: "/api/v1/admin/invitations/:id", who: whoAdmin, scope: "admin", handle: s.revokeInvitation},
		{method: "GET", path: "/api/v1/admin/queue", who: whoAdmin, scope: "admin", handle: s.adminQueue},
		{method: "POST", path: "/api/v1/admin/queue/cancel/:id", who: whoAdmin, scope: "admin", handle: s.adminCancel},
		{method: "POST", path: "/api/v1/admin/queue/pause", who: whoAdmin, scope: "admin", handle: s.pauseAll(true)},
		{method: "POST", path: "/api/v1/admin/queue/resume", who: whoAdmin, scope: "admin", handle: s.pauseAll(false)},
		{method: "GET", path: "/api/v1/admin/settings", who: whoAdmin, scope: "admin", handle: s.adminSettings},
		{method: "PUT", path: "/api/v1/admin/settings", who: whoAdmin, handle: s.putSettings},
		{method: "DELETE", path: "/api/v1/admin/settings/:key", who: whoAdmin, handle: s.deleteSetting},
		{method: "GET", path: "/api/v1/admin/audit", who: whoAdmin, scope: "admin", handle: s.adminAudit},

		// Replicate's deliveries: signed by Replicate, checked by the handler.
		{method: "POST", path: "/api/v1/webhooks/replicate", who: whoPublic, limit: webhookBodyLimit, handle: s.webhook},
	}
}

// routes fills the router from the table.
func (s *Server) routes() http.Handler {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.HandleMethodNotAllowed = true
	var fb fallbacks
	for _, rt := range s.routeTable() {
		if rt.fallback {
			fb.add(rt.method, rt.path, s.handle(rt))
			continue
		}
		r.Handle(rt.method, rt.path, s.handle(rt))
	}
	// httprouter answers 405 when another method has the path, else 404; either way a
	// fallback route may be the one asked for, and adds its method to Allow.
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fb.serve(w, req) {
			return
		}
		s.methodNotAllowed(w, req, fb.allow(w.Header().Get("Allow"), req.URL.Path))
	})
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fb.serve(w, req) {
			return
		}
		if allow := fb.allow("", req.URL.Path); allow != "" {
			if req.Method == http.MethodOptions {
				w.Header().Set("Allow", allow)
				return
			}
			s.methodNotAllowed(w, req, allow)
			return
		}
		s.notFound(w, req)
	})
	r.GlobalOPTIONS = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", fb.allow(w.Header().Get("Allow"), req.URL.Path))
	})
	r.PanicHandler = nil // the middleware recovers, logs and answers
	return r
}

// handle builds rt's httprouter handle, once, at startup: per request it only
// authenticates, caps the body and calls, with nothing allocated of its own.
func (s *Server) handle(rt route) httprouter.Handle {
	limit := rt.limit
	if limit == 0 && rt.method != http.MethodGet && rt.method != http.MethodHead {
		limit = jsonBodyLimit
	}
	creds := rt.creds
	if creds == nil {
		creds = s.bearer
	}
	who, fn, scope := rt.who, rt.handle, rt.scope
	bodyTimeout := time.Duration(0)
	if rt.upload {
		bodyTimeout = s.cfg.UploadTimeout
	}
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		var p *principal
		if who != whoPublic {
			// Before any body is read, so an anonymous client cannot make the server
			// read a large one.
			var err error
			if p, err = creds(r, ps); err != nil {
				if httpStatus(answerOf(err).Code) == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="nanobanana"`)
				}
				s.fail(w, r, err)
				return
			}
			if who == whoAdmin && !p.IsAdmin {
				s.fail(w, r, forbidden("Only an administrator may do this."))
				return
			}
			if !p.allows(scope) {
				s.fail(w, r, scopeError(scope))
				return
			}
		}
		// Only a caller allowed here gets the longer time for files; anyone else's body
		// had the middleware's.
		limitBody(w, r, bodyTimeout)
		if limit > 0 {
			if r.ContentLength > limit {
				w.Header().Set("Connection", "close")
				s.fail(w, r, tooLarge(limit))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if err := fn(w, r, p, ps); err != nil {
			s.fail(w, r, err)
		}
	}
}

// scopeError refuses a personal access token a route its scopes do not cover.
func scopeError(scope string) *apiError {
	if scope == "" {
		return newError(db.CodeInsufficientScope, "Personal access tokens cannot do this; sign in with your password.")
	}
	return newError(db.CodeInsufficientScope, "This personal access token lacks the \""+scope+"\" scope; make one with it in Settings.")
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	s.fail(w, r, newError(db.CodeMethodNotAllowed, "Method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allow+"."))
}

// notFound answers JSON under /api and hands everything else to the frontend.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.frontend == nil || strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api" {
		s.fail(w, r, newError(db.CodeNoRoute, "No such endpoint: "+r.Method+" "+r.URL.Path+". The API lives under /api/v1."))
		return
	}
	s.frontend.ServeHTTP(w, r)
}

// fallbacks are the table's routes httprouter cannot hold; they are few, so a request
// that reached the fallback tries each.
type fallbacks []fallbackRoute

type fallbackRoute struct {
	method string
	segs   []string // the path's segments; ":name" matches any one non-empty segment
	handle httprouter.Handle
}

func (fb *fallbacks) add(method, path string, h httprouter.Handle) {
	*fb = append(*fb, fallbackRoute{method: method, segs: strings.Split(strings.TrimPrefix(path, "/"), "/"), handle: h})
}

// serve answers req when a fallback route is its method and path.
func (fb fallbacks) serve(w http.ResponseWriter, req *http.Request) bool {
	for _, f := range fb {
		if f.method != req.Method {
			continue
		}
		if ps, ok := f.match(req.URL.Path); ok {
			w.Header().Del("Allow") // set by httprouter for its 405
			f.handle(w, req, ps)
			return true
		}
	}
	return false
}

// allow adds the methods of the fallback routes of path to the router's Allow list.
func (fb fallbacks) allow(allow, path string) string {
	var methods []string
	if allow != "" {
		methods = strings.Split(allow, ", ")
	}
	for _, f := range fb {
		if _, ok := f.match(path); ok && !slices.Contains(methods, f.method) {
			methods = append(methods, f.method)
		}
	}
	if len(methods) == 0 {
		return ""
	}
	if !slices.Contains(methods, http.MethodOptions) {
		methods = append(methods, http.MethodOptions)
	}
	slices.Sort(methods)
	return strings.Join(methods, ", ")
}

func (f *fallbackRoute) match(path string) (httprouter.Params, bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, false
	}
	var ps httprouter.Params
	for i, seg := range f.segs {
		part, tail, more := strings.Cut(rest, "/")
		if more != (i < len(f.segs)-1) {
			return nil, false
		}
		rest = tail
		switch {
		case strings.HasPrefix(seg, ":"):
			if part == "" {
				return nil, false
			}
			ps = append(ps, httprouter.Param{Key: seg[1:], Value: part})
		case part != seg:
			return nil, false
		}
	}
	return ps, true
}
