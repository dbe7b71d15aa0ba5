package server

import (
	"net/http"
	"sync"

	"nanobanana/db"
	"nanobanana/internal/jsonenc"
)

// The status and list answers are the hottest JSON of the API: they are appended by
// hand (db.AppendGeneration, the one shape of a generation) into a pooled buffer.

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// writeJSONBytes answers with body built by fill, like writeJSON.
func writeJSONBytes(w http.ResponseWriter, status int, fill func([]byte) []byte) {
	bp := jsonBufs.Get().(*[]byte)
	b := fill((*bp)[:0])
	b = append(b, '\n') // as json.Encoder ends its output
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 1<<20 { // an outsized buffer is left to the collector
		*bp = b[:0]
		jsonBufs.Put(bp)
	}
}

// appendList appends the list answer: {"items": [...], "next_cursor": ...}, next ""
// being a null cursor.
func (s *Server) appendList(b []byte, items []db.Generation, next string) []byte {
	b = append(b, `{"items":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		v := s.view(&items[i])
		b = db.AppendGeneration(b, &items[i], &v)
	}
	b = append(b, `],"next_cursor":`...)
	if next == "" {
		return append(b, "null}"...)
	}
	b = jsonenc.AppendString(b, next)
	return append(b, '}')
}

// appendOptString appends s as a JSON string, or null when it is empty.
func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jsonenc.AppendString(b, s)
}
