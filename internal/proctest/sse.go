package proctest

import (
	"bufio"
	"strings"
)

// SSEEvent is one Server-Sent Event as EventSource would dispatch it.
type SSEEvent struct {
	ID, Event, Data string
}

// NextSSEEvent reads up to the next event that carries data, skipping the retry hint
// and keep-alive comments as EventSource does. The end-to-end tests read event streams
// through nginx and Apache with it.
func NextSSEEvent(r *bufio.Reader) (SSEEvent, error) {
	var ev SSEEvent
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(data) > 0 {
				ev.Data = strings.Join(data, "\n")
				return ev, nil
			}
			ev = SSEEvent{}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		}
	}
}
