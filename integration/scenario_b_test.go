package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
)

// Small helpers of scenarios 6, 7, 8 and 10 on top of agent_test.go.

// bStatus is the part of the agent's status the scenarios read.
type bStatus struct {
	Connected bool   `json:"connected"`
	Broker    string `json:"broker"`
	Outbox    int    `json:"outbox"`
	MQTT      struct {
		Connects       uint64 `json:"connects"`
		RequestsServed uint64 `json:"requests_served"`
		RequestErrors  uint64 `json:"request_errors"`
		Echo           string `json:"echo"`
		Refused        []struct {
			Filter   string `json:"filter"`
			Refusals uint64 `json:"refusals"`
		} `json:"refused"`
	} `json:"mqtt"`
}

// waitStatus waits until a status publication in c satisfies ok.
func waitStatus(t *testing.T, c *clients.Collector, what string, timeout time.Duration, ok func(bStatus) bool) (bStatus, clients.Message) {
	t.Helper()
	var st bStatus
	m := c.WaitFor(t, what, timeout, func(m clients.Message) bool {
		var s bStatus
		if !strings.HasSuffix(m.Topic, "/status") || json.Unmarshal(m.Payload, &s) != nil || !ok(s) {
			return false
		}
		st = s
		return true
	})
	return st, m
}

// bReply is a request's reply.
type bReply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

func parseReply(t *testing.T, m clients.Message) bReply {
	t.Helper()
	var r bReply
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("reply on %s is not JSON: %q", m.Topic, m.Payload)
	}
	return r
}

// stateValue is the value of a state payload ({"value": …, "time": …}).
func stateValue(m clients.Message) any {
	var s struct {
		Value any `json:"value"`
	}
	if json.Unmarshal(m.Payload, &s) != nil {
		return nil
	}
	return s.Value
}

// waitState waits for a state message on topic whose value is want.
func waitState(t *testing.T, c *clients.Collector, topic string, want any, timeout time.Duration) clients.Message {
	t.Helper()
	return c.WaitFor(t, fmt.Sprintf("%s = %v", topic, want), timeout, func(m clients.Message) bool {
		return m.Topic == topic && stateValue(m) == want
	})
}
