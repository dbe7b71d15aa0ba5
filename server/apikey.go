package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/replicate"
)

type apiKeyRequest struct {
	APIKey string `json:"api_key"`
}

type apiKeyJSON struct {
	HasAPIKey bool   `json:"has_api_key"`
	Last4     string `json:"last4,omitempty"`
	Verified  bool   `json:"verified"`
	Note      string `json:"note,omitempty"`
}

// putAPIKey checks the key with Replicate before saving it: a key Replicate rejects is
// not saved; when Replicate cannot be reached the key is saved unverified.
func (s *Server) putAPIKey(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req apiKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	key := strings.TrimSpace(req.APIKey)
	switch {
	case key == "":
		return invalid("api_key", "Send your Replicate API token as {\"api_key\": \"r8_...\"}.")
	case len(key) > 256 || strings.ContainsFunc(key, func(c rune) bool { return c <= ' ' || c > '~' }):
		return invalid("api_key", "That does not look like a Replicate API token: it must be one line of printable characters, at most 256.")
	}
	verified, note := false, ""
	if s.replicate == nil {
		note = "The key was saved but not checked: this server has no Replicate endpoint configured."
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		_, err := s.replicate.Account(ctx, key)
		cancel()
		var re *replicate.Error
		switch {
		case err == nil:
			verified = true
		case errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden):
			return invalid("api_key", "Replicate rejected this API token (it answered 401); copy the whole token from your Replicate account's API tokens page and try again. Nothing was saved.")
		default:
			s.log.WarnContext(r.Context(), "could not verify a Replicate key", "user_id", p.ID, "err", err)
			note = "Replicate could not be reached to check the key; it was saved and will be checked when it is first used."
		}
	}
	if err := s.db.SetAPIKey(r.Context(), s.sealer, p.ID, key, verified); err != nil {
		return internal(err)
	}
	u, err := s.db.UserByID(r.Context(), p.ID)
	if err != nil {
		return internal(err)
	}
	s.audit(r, auditKeySaved, p.User, p.User, map[string]any{"verified": verified})
	writeJSON(w, http.StatusOK, apiKeyJSON{HasAPIKey: true, Last4: u.APIKeyLast4, Verified: verified, Note: note})
	return nil
}

func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	writeJSON(w, http.StatusOK, apiKeyJSON{HasAPIKey: p.HasAPIKey, Last4: p.APIKeyLast4, Verified: p.APIKeyVerified})
	return nil
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	if err := s.db.ClearAPIKey(r.Context(), p.ID); err != nil {
		return internal(err)
	}
	s.audit(r, auditKeyRemoved, p.User, p.User, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
