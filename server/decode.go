package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"nanobanana/db"
)

// decodeJSON reads a JSON object body into dst. Unknown fields are ignored, as FastAPI
// (the original) did, so clients that send extra fields keep working.
func decodeJSON(r *http.Request, dst any) error {
	// The Content-Type is not required to say JSON: curl -d sends a form type by default,
	// and a body that parses as JSON is what the client meant.
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(dst); err != nil {
		err = jsonError(err)
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			var ae *apiError
			if errors.As(err, &ae) && ae.Code == db.CodeBadJSON {
				ae.Detail += " (the request said Content-Type: " + mt + "; send JSON with Content-Type: application/json)"
			}
		}
		return err
	}
	if dec.More() {
		return badJSON("The body must be one JSON object; remove what follows it.")
	}
	return nil
}

// slowBody is the 408 of a body that did not arrive by its deadline (limitBody), or
// nil when err is something else.
func slowBody(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return newError(db.CodeRequestTimeout, "The request body did not arrive in time; send it again (on a slow link, send smaller files).")
	}
	return nil
}

func jsonError(err error) error {
	if te := slowBody(err); te != nil {
		return te
	}
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &maxErr):
		return tooLarge(maxErr.Limit)
	case errors.Is(err, io.EOF):
		return badJSON("The request body is empty; send a JSON object.")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return badJSON("The body must be a JSON object.")
		}
		return invalid(field, "The field "+field+" must be a "+jsonKind(typeErr.Type.Kind().String())+".")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return badJSON("The body is not valid JSON; check quotes, commas and braces.")
	default:
		return badJSON("The body could not be read as JSON: " + err.Error())
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean (true or false)"
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "JSON object"
	default:
		return "number"
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " kB"
	default:
		return strconv.FormatInt(n, 10) + " bytes"
	}
}
