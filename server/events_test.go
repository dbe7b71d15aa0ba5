package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"nanobanana/replicate/replicatetest"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	ID    int64
	Event string
	Data  map[string]any
}

// sseStream is an open event stream read in the background.
type sseStream struct {
	Header http.Header
	Events chan sseEvent
	Pings  chan struct{}
}

// openEvents connects to /api/v1/events; path may carry a query. The stream closes when
// the test ends.
func (p *pipeline) openEvents(t *testing.T, pathAndQuery string, h http.Header) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", p.URL+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("events: %d", resp.StatusCode)
	}
	s := &sseStream{Header: resp.Header, Events: make(chan sseEvent, 100), Pings: make(chan struct{}, 100)}
	go func() {
		defer resp.Body.Close()
		defer close(s.Events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" {
					s.Events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ": ping"):
				select {
				case s.Pings <- struct{}{}:
				default:
				}
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.Data)
			}
		}
	}()
	return s
}

// until reads events until one for id has status want, and returns all read.
func (s *sseStream) until(t *testing.T, id, want string) []sseEvent {
	t.Helper()
	var got []sseEvent
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events:
			if !ok {
				t.Fatalf("stream ended before %s reached %s; got %v", id, want, got)
			}
			got = append(got, ev)
			if ev.Data["id"] == id && ev.Data["status"] == want {
				return got
			}
		case <-timeout:
			t.Fatalf("no %s event for %s; got %v", want, id, got)
		}
	}
}

func TestEventsStreamReplayAndIsolation(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	alice := p.register(t, "alice")
	bob := p.register(t, "bob")

	// EventSource cannot send headers: a ticket goes in the query on this endpoint.
	as := p.openEvents(t, "/api/v1/events?ticket="+url.QueryEscape(p.ticket(t, alice.Access)), nil)
	if as.Header.Get("Content-Type") != "text/event-stream" || as.Header.Get("Cache-Control") != "no-store" ||
		as.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("stream headers: %v", as.Header)
	}
	bs := p.openEvents(t, "/api/v1/events", http.Header{"Authorization": {"Bearer " + bob.Access}})

	aid := p.generate(t, alice.Access, map[string]any{"prompt": "alice's", "resolution": "1K"})["id"].(string)
	evs := as.until(t, aid, "completed")
	var statuses []string
	for i, ev := range evs {
		if ev.Event != "generation" || ev.Data["image_id"] != aid {
			t.Errorf("alice's stream: %+v", ev)
		}
		if i > 0 && ev.ID <= evs[i-1].ID {
			t.Errorf("event ids not increasing: %d after %d", ev.ID, evs[i-1].ID)
		}
		statuses = append(statuses, ev.Data["status"].(string))
	}
	if statuses[0] != "pending" || !strings.Contains(strings.Join(statuses, ","), "running") {
		t.Errorf("statuses %v", statuses)
	}
	last := evs[len(evs)-1]
	if u, _ := last.Data["image_url"].(string); !strings.Contains(u, "sig=") || p.get(t, u, "", nil).Status != 200 {
		t.Errorf("completed event's image_url %q does not serve", u)
	}

	// Bob's generation shows on his stream only.
	bid := p.generate(t, bob.Access, map[string]any{"prompt": "bob's", "resolution": "1K"})["id"].(string)
	for _, ev := range bs.until(t, bid, "completed") {
		if ev.Data["id"] != bid {
			t.Errorf("bob's stream carried %v", ev.Data["id"])
		}
	}
	aid2 := p.generate(t, alice.Access, map[string]any{"prompt": "alice's second", "resolution": "1K"})["id"].(string)
	for _, ev := range as.until(t, aid2, "completed") {
		if ev.Data["id"] != aid2 {
			t.Errorf("alice's stream carried %v (bob's is %s)", ev.Data["id"], bid)
		}
	}

	// A reconnect with Last-Event-ID gets only what came after it, from the log.
	first := evs[0].ID
	re := p.openEvents(t, "/api/v1/events", http.Header{"Authorization": {"Bearer " + alice.Access},
		"Last-Event-ID": {strconv.FormatInt(first, 10)}})
	replay := re.until(t, aid2, "completed")
	if replay[0].ID <= first || replay[0].ID != evs[1].ID {
		t.Errorf("replay starts at %d, want %d (the one after %d)", replay[0].ID, evs[1].ID, first)
	}
	for _, ev := range replay {
		if ev.Data["id"] == bid {
			t.Errorf("replay carried bob's generation")
		}
	}
	// The query fallback does the same.
	q := p.openEvents(t, "/api/v1/events?last_event_id="+strconv.FormatInt(last.ID, 10)+"&ticket="+url.QueryEscape(p.ticket(t, alice.Access)), nil)
	if got := q.until(t, aid2, "completed"); got[0].Data["id"] != aid2 {
		t.Errorf("last_event_id replay starts with %v", got[0].Data)
	}

	// A delete is an event too.
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/images/" + aid, Token: alice.Access}); r.Status != 204 {
		t.Fatal(r.Status)
	}
	select {
	case ev := <-as.Events:
		if ev.Event != "deleted" || ev.Data["id"] != aid {
			t.Errorf("after delete: %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Error("no deleted event")
	}
}

func TestEventsEndOnShutdown(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "closer")
	s := p.openEvents(t, "/api/v1/events?ticket="+url.QueryEscape(p.ticket(t, u.Access)), nil)
	p.Server.Close()
	select {
	case _, ok := <-s.Events:
		if ok {
			t.Error("an event instead of the end of the stream")
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream did not end when the server closed")
	}
	if r := p.get(t, "/api/v1/events?last_event_id=x", u.Access, nil); r.Status != 422 {
		t.Errorf("bad last_event_id: %d", r.Status)
	}
}

// An event carries the same object as the status answer: the same keys, the same
// values (signed URLs compared without their signature, which is made per answer), for
// a completed generation, a pending one (with its queue position) and a failed one.
func TestEventsCarryTheStatusAnswer(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	alice := p.register(t, "alice")
	s := p.openEvents(t, "/api/v1/events", http.Header{"Authorization": {"Bearer " + alice.Access}})

	same := func(ev sseEvent) {
		t.Helper()
		id := ev.Data["id"].(string)
		status := p.do(t, call{Method: "GET", Path: "/api/v1/images/status/" + id, Token: alice.Access}).JSON(t)
		if status["status"] != ev.Data["status"] {
			return // it moved on since; compared at its next event
		}
		strip := func(m map[string]any) map[string]any {
			out := map[string]any{}
			for k, v := range m {
				if u, ok := v.(string); ok && strings.HasSuffix(k, "_url") {
					v, _, _ = strings.Cut(u, "?")
				}
				out[k] = v
			}
			return out
		}
		got, want := strip(ev.Data), strip(status)
		if len(got) != len(want) {
			t.Errorf("%s event has %d keys, the status answer %d:\nevent  %v\nstatus %v", ev.Data["status"], len(got), len(want), got, want)
		}
		for k, v := range want {
			if gv, ok := got[k]; !ok || !reflect.DeepEqual(gv, v) {
				t.Errorf("%s event: %s = %v, status answer %v", ev.Data["status"], k, gv, v)
			}
		}
	}

	id := p.generate(t, alice.Access, map[string]any{"prompt": "same shape", "resolution": "2K"})["id"].(string)
	evs := s.until(t, id, "completed")
	same(evs[len(evs)-1])
	if evs[len(evs)-1].Data["thumbnail_url"] == nil || evs[len(evs)-1].Data["width"] == nil {
		t.Errorf("completed event lacks its image: %v", evs[len(evs)-1].Data)
	}

	// A failed generation: "error" is its sentence, and no image.
	p.Fake.Configure(func(c *replicatetest.Config) { c.SafetyRate = 1 })
	fid := p.generate(t, alice.Access, map[string]any{"prompt": "fails", "resolution": "1K"})["id"].(string)
	evs = s.until(t, fid, "failed")
	same(evs[len(evs)-1])
	if evs[len(evs)-1].Data["error"] == nil || evs[len(evs)-1].Data["image_url"] != nil {
		t.Errorf("failed event: %v", evs[len(evs)-1].Data)
	}
}
