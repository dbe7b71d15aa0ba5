package server

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The document and the route table describe the same operations, both ways, and every
// route has its entry in apiDocs (and apiDocs no entry of a route that is gone).
func TestOpenAPIMatchesTheRouteTable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	r := ts.do(t, call{Method: "GET", Path: "/api/v1/openapi.json"})
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil || r.Status != 200 || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: %d %v %.200s", r.Status, err, r.Body)
	}
	inDoc := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			inDoc[strings.ToUpper(m)+" "+p] = true
			if op["summary"] == "" || op["responses"] == nil || op["operationId"] == "" {
				t.Errorf("%s %s: no summary, operationId or responses", m, p)
			}
		}
	}
	inTable := map[string]bool{}
	for _, rt := range ts.routeTable() {
		key := rt.method + " " + openAPIPath(rt.path)
		inTable[key] = true
		if !inDoc[key] {
			t.Errorf("%s is in the route table, not in the document", key)
		}
		if _, ok := apiDocs[rt.method+" "+rt.path]; !ok {
			t.Errorf("%s %s has no entry in apiDocs", rt.method, rt.path)
		}
	}
	for key := range inDoc {
		if !inTable[key] {
			t.Errorf("%s is in the document, not in the route table", key)
		}
	}
	for key := range apiDocs {
		m, p, _ := strings.Cut(key, " ")
		if !inTable[m+" "+openAPIPath(p)] {
			t.Errorf("apiDocs documents %s, which is not in the route table", key)
		}
	}
}

// openAPIValidator checks answers against the document's schemas; every answer the
// suite's testServer.do receives goes through it.
type openAPIValidator struct {
	routes  []route
	doc     map[string]any
	c       *jsonschema.Compiler
	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
}

var (
	validatorOnce sync.Once
	validator     *openAPIValidator
	validatorErr  error
)

func answerValidator(ts *testServer) (*openAPIValidator, error) {
	validatorOnce.Do(func() {
		raw, err := json.Marshal(ts.openAPIDocument())
		if err != nil {
			validatorErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			validatorErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource("mem:///openapi.json", doc); err != nil {
			validatorErr = err
			return
		}
		validator = &openAPIValidator{routes: ts.routeTable(), doc: doc.(map[string]any), c: c, schemas: map[string]*jsonschema.Schema{}}
	})
	return validator, validatorErr
}

func pointerEscape(s string) string {
	return url.PathEscape(strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1"))
}

// check validates one answer: its route is found in the table (a static path before a
// parameter), its status must be documented, and a JSON body must match the schema.
func (v *openAPIValidator) check(method, rawPath string, status int, contentType string, body []byte) string {
	path, _, _ := strings.Cut(rawPath, "?")
	var best *route
	for i := range v.routes {
		rt := &v.routes[i]
		if rt.method == method && matches(rt.path, path) && (best == nil || strings.Count(rt.path, ":") < strings.Count(best.path, ":")) {
			best = rt
		}
	}
	if best == nil {
		if status < 400 {
			return "" // OPTIONS and the frontend's pages are not the API's
		}
		// No route: the answer is still an error of the documented shape.
		return v.validate("#/components/schemas/Error", body)
	}
	p := openAPIPath(best.path)
	op, _ := v.doc["paths"].(map[string]any)[p].(map[string]any)[strings.ToLower(method)].(map[string]any)
	responses, _ := op["responses"].(map[string]any)
	key := strconv.Itoa(status)
	if _, ok := responses[key]; !ok {
		key = strconv.Itoa(status/100) + "XX"
		if _, ok := responses[key]; !ok {
			return "status " + strconv.Itoa(status) + " is not documented"
		}
	}
	content, _ := responses[key].(map[string]any)["content"].(map[string]any)
	if !strings.HasPrefix(contentType, "application/json") || method == "HEAD" {
		if content != nil && content["application/json"] != nil && method != "HEAD" {
			return "the document says JSON; the answer is " + contentType
		}
		return ""
	}
	if content == nil || content["application/json"] == nil {
		return "a JSON answer where the document says none"
	}
	return v.validate("#/paths/"+pointerEscape(p)+"/"+strings.ToLower(method)+"/responses/"+key+"/content/application~1json/schema", body)
}

func (v *openAPIValidator) validate(ptr string, body []byte) string {
	v.mu.Lock()
	sch, ok := v.schemas[ptr]
	if !ok {
		var err error
		if sch, err = v.c.Compile("mem:///openapi.json" + ptr); err != nil {
			v.mu.Unlock()
			return "compile " + ptr + ": " + err.Error()
		}
		v.schemas[ptr] = sch
	}
	v.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return "not JSON: " + err.Error()
	}
	if err := sch.Validate(inst); err != nil {
		return err.Error()
	}
	return ""
}

// checkAnswerSchema holds one answer to the document (called by testServer.do).
func checkAnswerSchema(t testing.TB, ts *testServer, c call, r reply) {
	t.Helper()
	v, err := answerValidator(ts)
	if err != nil {
		t.Fatalf("the OpenAPI document does not load: %v", err)
	}
	if msg := v.check(c.Method, c.Path, r.Status, r.Header.Get("Content-Type"), r.Body); msg != "" {
		t.Errorf("%s %s answered %d, not as the OpenAPI document says: %s\n%.300s", c.Method, c.Path, r.Status, msg, r.Body)
	}
}

// The validator refuses what the document does not allow, so a pass above means
// something.
func TestOpenAPIValidatorRefusesWrongAnswers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	v, err := answerValidator(ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/api/v1/auth/me", 200, `{"id":"1","username":"a"}`},
		{"GET", "/api/v1/images/status/abc", 200, `{"id":"abc","status":"lost"}`},
		{"GET", "/api/v1/images/list", 201, `{"items":[],"next_cursor":null}`},
		{"POST", "/api/v1/auth/login", 401, `{"detail":"no","code":"no_such_code"}`},
		{"GET", "/api/v1/nope", 404, `{"code":"no_route"}`},
	} {
		if msg := v.check(c.method, c.path, c.status, "application/json", []byte(c.body)); msg == "" {
			t.Errorf("%s %s %d %s passed", c.method, c.path, c.status, c.body)
		}
	}
	if msg := v.check("GET", "/api/v1/auth/me", 200, "application/json", []byte(`{"id":1,"username":"a","email":"a@example.com","is_admin":false,"has_api_key":false,"api_key_verified":false,"created_at":"2026-01-01T00:00:00Z"}`)); msg != "" {
		t.Errorf("a good answer failed: %s", msg)
	}
}
