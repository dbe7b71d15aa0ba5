package server

import "github.com/julienschmidt/httprouter"

// imageRoutes registers the generation endpoints (filled in by the pipeline work).
func (s *Server) imageRoutes(r *httprouter.Router) {}
