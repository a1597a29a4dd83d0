package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/demobroker"
	"github.com/edgeagent/edgeagent/agent/sdnotify"
)

// roundTrips publishes on topic and waits for each answer on the channel,
// n times, and returns the durations sorted.
func roundTrips(b *testing.B, c mqtt.Client, topic string, answers <-chan string, n int, payload func(i int) string) []time.Duration {
	var ds []time.Duration
	for i := range n {
		p := payload(i)
		t0 := time.Now()
		if tok := c.Publish(topic, 1, false, p); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		for {
			select {
			case got := <-answers:
				if got != p {
					continue
				}
			case <-time.After(waitLimit):
				b.Fatalf("no answer to %s", p)
			}
			break
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds
}

func quantile(ds []time.Duration, q float64) float64 {
	return float64(ds[int(q*float64(len(ds)-1))].Microseconds())
}

// BenchmarkSetToState: a set command to a relay → the pin switched → its
// new state received, through a broker on loopback (mochi, in the
// benchmark's process), by a plain paho client. The baseline in the same
// run is a paho client echoing a message through the same broker: what the
// broker and two hops cost without the agent.
func BenchmarkSetToState(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	br, err := demobroker.Serve(ln, demobroker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	cfg, err := config.Parse("bench.yaml", testConfig(br.URL(), b.TempDir(), `
mqtt:
  brokers: [BROKER]
  node_id: bench
  status_interval: 0s
state_dir: STATE_DIR
devices:
  - {name: relay, type: relay, pin: GPIO23, simulate: true}
`))
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)), WithNotifier(&sdnotify.Notifier{}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	connect := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(br.URL()).SetClientID(id).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		b.Cleanup(func() { c.Disconnect(0) })
		return c
	}
	client := connect("bench-client")
	states := make(chan string, 16)
	client.Subscribe("edgeagent/bench/relay/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s statePayload
		if json.Unmarshal(m.Payload(), &s) == nil && !m.Retained() {
			states <- s.Value.(string)
		}
	}).Wait()
	echoes := make(chan string, 16)
	client.Subscribe("echo/out", 1, func(_ mqtt.Client, m mqtt.Message) { echoes <- string(m.Payload()) }).Wait()
	echo := connect("bench-echo")
	echo.Subscribe("echo/in", 1, func(c mqtt.Client, m mqtt.Message) {
		c.Publish("echo/out", 1, false, m.Payload())
	}).Wait()

	onOff := func(i int) string { return onOff(i%2 == 0) }
	roundTrips(b, client, "edgeagent/bench/relay/set", states, 10, onOff) // warm up, and the agent is connected
	b.ResetTimer()
	var agent, base []time.Duration
	for b.Loop() {
		agent = append(agent, roundTrips(b, client, "edgeagent/bench/relay/set", states, 200, onOff)...)
		base = append(base, roundTrips(b, client, "echo/in", echoes, 200, func(i int) string { return "e" + onOff(i) })...)
	}
	slices.Sort(agent)
	slices.Sort(base)
	b.ReportMetric(quantile(agent, 0.5), "set-state-p50-µs")
	b.ReportMetric(quantile(agent, 0.99), "set-state-p99-µs")
	b.ReportMetric(quantile(base, 0.5), "paho-echo-p50-µs")
	b.ReportMetric(quantile(base, 0.99), "paho-echo-p99-µs")
}
