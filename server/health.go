package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// healthz says the process is up. Demo mode is announced here too, so a monitor sees it.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": s.version, "demo": s.cfg.Demo})
	return nil
}

// health is the original service's health check, kept for its monitors.
func (s *Server) health(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz says the database answers and can write: after a write refused for want of
// space it says not ready for a while (db.Store.Ping), so traffic goes elsewhere.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "readiness check failed", "err", err)
		detail := "The database is not answering."
		if errors.Is(err, db.ErrStorageFull) {
			detail = "The database cannot save anything: its storage is full. Free some space on the server."
		}
		return &apiError{Code: db.CodeUnavailable, Detail: detail, RetryAfter: 5 * time.Second}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	return nil
}

// meta tells clients (the frontend) what this server offers: prices per resolution, the
// model's choices, whether sign-up is open, and whether it runs in demo mode.
func (s *Server) meta(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	prices := s.prices(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"version":              s.version,
		"demo":                 s.cfg.Demo,
		"registration_open":    s.cfg.AllowRegistration,
		"has_global_api_key":   s.cfg.ReplicateAPIToken != "",
		"model":                s.cfg.ReplicateModel,
		"prices_usd":           map[string]float64{"1K": prices.P1K, "2K": prices.P2K, "4K": prices.P4K},
		"resolutions":          resolutions,
		"aspect_ratios":        aspectRatios,
		"output_formats":       outputFormats,
		"safety_filter_levels": safetyLevels,
		"generation_modes":     generationModes,
		"max_reference_images": maxReferenceImages,
		"max_prompt_length":    maxPromptChars,
		"max_upload_bytes":     s.cfg.MaxUploadBytes,
	})
	return nil
}
