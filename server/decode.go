package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"nanobanana/db"
)

// decodeJSON reads a JSON object body into dst. Unknown fields are ignored, as FastAPI
// (the original) did, so clients that send extra fields keep working.
func decodeJSON(r *http.Request, dst any) error {
	// The body is read whole (the route caps it) so that invalid UTF-8 can be refused:
	// encoding/json would silently replace it with U+FFFD.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	if !utf8.Valid(body) {
		return badUTF8(body)
	}
	// The Content-Type is not required to say JSON: curl -d sends a form type by default,
	// and a body that parses as JSON is what the client meant.
	dec := json.NewDecoder(bytes.NewReader(body))
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

// badUTF8 is the 400 of a body that is not UTF-8, naming the field whose value (or
// name) holds the first invalid bytes when the body is JSON enough to tell.
func badUTF8(body []byte) error {
	field := invalidUTF8Field(body)
	if field == "" {
		return badJSON("The body is not valid UTF-8; send JSON encoded as UTF-8.")
	}
	e := badJSON("The field " + field + " is not valid UTF-8; send JSON encoded as UTF-8.")
	e.Fields = []fieldError{{Field: field, Message: "not valid UTF-8"}}
	return e
}

// invalidUTF8Field walks the JSON tokens and answers the dotted path of the first token
// whose raw bytes are not UTF-8 ("" when it cannot tell).
func invalidUTF8Field(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	type level struct {
		object bool
		key    string
		index  int
		atKey  bool // in an object, the next string is a key
	}
	var stack []level
	path := func() string {
		var parts []string
		for _, l := range stack {
			if l.object {
				parts = append(parts, l.key)
			} else {
				parts = append(parts, strconv.Itoa(l.index))
			}
		}
		return strings.Join(parts, ".")
	}
	prev := int64(0)
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		off := dec.InputOffset()
		raw := body[prev:off]
		prev = off
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top >= 0 {
					if !stack[top].object {
						stack[top].index++
					}
				}
				stack = append(stack, level{object: d == '{', atKey: d == '{', index: -1})
			case '}', ']':
				stack = stack[:top]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].atKey = true
				}
			}
			continue
		}
		if top < 0 {
			return ""
		}
		l := &stack[top]
		switch {
		case l.object && l.atKey:
			l.key, _ = tok.(string)
			l.atKey = false
			if !utf8.Valid(raw) {
				return path()
			}
		case l.object:
			l.atKey = true
			if !utf8.Valid(raw) {
				return path()
			}
		default:
			l.index++
			if !utf8.Valid(raw) {
				return path()
			}
		}
	}
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
