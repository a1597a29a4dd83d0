package bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/bridgetest"
	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/loop"
)

// benchOpts are the options every benchmark bridge uses.
func benchOpts(tb testing.TB, node string, brokers ...string) []bridge.Option {
	return []bridge.Option{
		bridge.WithBrokers(brokers...),
		bridge.WithNode(node),
		bridge.WithStateDir(tb.TempDir()),
		bridge.WithBackoff(5*time.Millisecond, 50*time.Millisecond),
		bridge.WithShutdownTimeout(2 * time.Second),
	}
}

// waitFor waits until pred holds for the bridge's Stats.
func waitFor(tk *loop.Task, b *bridge.Bridge, pred func(bridge.Stats) bool) error {
	for !pred(b.Stats()) {
		if err := b.WaitChange(tk); err != nil {
			return err
		}
	}
	return nil
}

// echoServer is what the round trips call: a server with one method that
// returns its params.
func echoServer(bb *bridge.Bridge) (func(*loop.Task) error, error) {
	srv, err := rpc.NewServer(bb)
	if err != nil {
		return nil, err
	}
	if err := srv.Handle("echo", func(_ *loop.Task, r *rpc.Request) (any, error) { return r.Params, nil }); err != nil {
		return nil, err
	}
	return srv.Run, nil
}

// benchLoop runs a bridge on a loop of its own for a benchmark; do runs fn
// as a task on it and waits for its result.
type benchLoop struct {
	b    *bridge.Bridge
	jobs chan func(*loop.Task) error
	res  chan error
	done chan error
}

// startBenchBridge starts a bridge on a loop of its own; setup may return
// a task to run beside it (a server's Run).
func startBenchBridge(tb testing.TB, opts []bridge.Option, setup func(*bridge.Bridge) (func(*loop.Task) error, error)) *benchLoop {
	tb.Helper()
	quiet := slog.New(slog.DiscardHandler)
	l := loop.New(loop.WithLogger(quiet))
	br, err := bridge.New(l, append([]bridge.Option{bridge.WithLogger(quiet)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	var extra func(*loop.Task) error
	if setup != nil {
		if extra, err = setup(br); err != nil {
			tb.Fatal(err)
		}
	}
	bl := &benchLoop{b: br, jobs: make(chan func(*loop.Task) error), res: make(chan error), done: make(chan error, 1)}
	go func() {
		bl.done <- l.Run(context.Background(), func(tk *loop.Task) error {
			g := loop.NewGroup(tk)
			g.Go("bridge", br.Run)
			if extra != nil {
				g.Go("extra", extra)
			}
			for {
				job, err := loop.Offload(tk, func(context.Context) (func(*loop.Task) error, error) {
					return <-bl.jobs, nil
				})
				if err != nil {
					return err
				}
				if job == nil {
					g.Cancel()
					return g.Wait(tk)
				}
				err = job(tk)
				if _, oerr := loop.Offload(tk, func(context.Context) (struct{}, error) {
					bl.res <- err
					return struct{}{}, nil
				}); oerr != nil {
					return oerr
				}
			}
		})
	}()
	if err := bl.do(func(tk *loop.Task) error { return br.WaitConnected(tk) }); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(bl.stop)
	return bl
}

func (bl *benchLoop) do(fn func(*loop.Task) error) error {
	bl.jobs <- fn
	return <-bl.res
}

func (bl *benchLoop) stop() {
	if bl.jobs == nil {
		return
	}
	bl.jobs <- nil
	<-bl.done
	bl.jobs = nil
}

// latencies collects round-trip times.
type latencies []time.Duration

func (ls latencies) pct(p float64) time.Duration {
	if len(ls) == 0 {
		return 0
	}
	s := slices.Clone(ls)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (ls latencies) report(b *testing.B, name string) {
	b.ReportMetric(float64(ls.pct(0.5).Microseconds()), name+"-p50-µs")
	b.ReportMetric(float64(ls.pct(0.99).Microseconds()), name+"-p99-µs")
}

func (ls latencies) sum() time.Duration {
	var t time.Duration
	for _, d := range ls {
		t += d
	}
	return t
}

// pingPong is a plain paho requester: it publishes on req and waits for
// the next message on res.
type pingPong struct {
	c   mqtt.Client
	res chan []byte
}

func newPingPong(tb testing.TB, url, id, resTopic string, qos byte) *pingPong {
	pp := &pingPong{res: make(chan []byte, 16)}
	pp.c = bridgetest.NewClient(tb, url, id).C
	tok := pp.c.Subscribe(resTopic, qos, func(_ mqtt.Client, m mqtt.Message) { pp.res <- m.Payload() })
	if !tok.WaitTimeout(bridgetest.Timeout) || tok.Error() != nil {
		tb.Fatal(tok.Error())
	}
	return pp
}

func (pp *pingPong) trip(tb testing.TB, topic string, qos byte, payload []byte) time.Duration {
	start := time.Now()
	pp.c.Publish(topic, qos, false, payload)
	select {
	case <-pp.res:
	case <-time.After(bridgetest.Timeout):
		tb.Fatalf("no reply on %s", topic)
	}
	return time.Since(start)
}

// echoResponder is the raw-paho baseline of a node: it answers on res what
// it receives on req, from paho's callback.
func echoResponder(tb testing.TB, url, id, req, res string, qos byte) {
	c := bridgetest.NewClient(tb, url, id).C
	tok := c.Subscribe(req, qos, func(c mqtt.Client, m mqtt.Message) { c.Publish(res, qos, false, m.Payload()) })
	if !tok.WaitTimeout(bridgetest.Timeout) || tok.Error() != nil {
		tb.Fatal(tok.Error())
	}
}

// BenchmarkRoundTrip: a command and its reply through one loopback mochi
// broker, the requester a plain paho client in both cases. Baseline: a
// raw paho responder echoing from its callback. Bridge: a node answering a
// Handle method (queue, task, JSON decode and encode, reply through the
// outbox for QoS 1). Each iteration does one trip of each, interleaved;
// the ratio is bridge/paho (target ≤ 1.2).
func BenchmarkRoundTrip(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run(fmt.Sprintf("qos=%d", qos), func(b *testing.B) {
			br := bridgetest.StartBroker(b, bridgetest.BrokerOptions{})
			echoResponder(b, br.URL(), "raw-echo", "bench/req", "bench/res", qos)
			raw := newPingPong(b, br.URL(), "raw-req", "bench/res", qos)
			startBenchBridge(b, benchOpts(b, "bench", br.URL()), echoServer)
			viaBridge := newPingPong(b, br.URL(), "bridge-req", "edgeagent/bench/res/echo", qos)
			payload := []byte(`{"id":"1","params":{"on":true}}`)
			for range 200 { // warm up both paths
				raw.trip(b, "bench/req", qos, payload)
				viaBridge.trip(b, "edgeagent/bench/req/echo", qos, payload)
			}
			var lp, lb latencies
			b.ResetTimer()
			for b.Loop() {
				lp = append(lp, raw.trip(b, "bench/req", qos, payload))
				lb = append(lb, viaBridge.trip(b, "edgeagent/bench/req/echo", qos, payload))
			}
			lp.report(b, "paho")
			lb.report(b, "bridge")
			b.ReportMetric(float64(lb.sum())/float64(lp.sum()), "bridge/paho")
		})
	}
}

// BenchmarkPublish: publication throughput to a loopback mochi broker, 64
// bytes a message, in batches of 2000; each iteration publishes a batch
// through each path, interleaved, and waits until the broker has it all
// (every PUBACK for QoS ≥ 1; every message handed to the socket for QoS 0).
// Baseline: raw paho publishing without waiting per message. Bridge:
// Publish from one task (QoS ≥ 1: each message appended to the persistent
// outbox before Publish returns), and TryPublish (no wait per message).
// Ratios are bridge/paho throughput (target ≥ 0.9).
func BenchmarkPublish(b *testing.B) {
	const batch = 2000
	payload := make([]byte, 64)
	for _, qos := range []byte{0, 1} {
		b.Run(fmt.Sprintf("qos=%d", qos), func(b *testing.B) {
			br := bridgetest.StartBroker(b, bridgetest.BrokerOptions{})
			raw := bridgetest.NewClient(b, br.URL(), "raw").C
			bl := startBenchBridge(b, benchOpts(b, "bench", br.URL()), nil)
			bb := bl.b
			var published uint64
			viaBridge := func(try bool) time.Duration {
				start := time.Now()
				err := bl.do(func(tk *loop.Task) error {
					for range batch {
						var err error
						if try {
							err = bb.TryPublish("bench/data", payload, bridge.Pub{QoS: qos})
						} else {
							err = bb.Publish(tk, "bench/data", payload, bridge.Pub{QoS: qos})
						}
						if err != nil {
							return err
						}
					}
					published += batch
					return waitFor(tk, bb, func(s bridge.Stats) bool {
						if qos == 0 {
							return s.PublishedQoS0 >= published
						}
						return s.Delivered >= published
					})
				})
				if err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			viaPaho := func() time.Duration {
				start := time.Now()
				toks := make([]mqtt.Token, 0, batch)
				for range batch {
					toks = append(toks, raw.Publish("bench/data", qos, false, payload))
				}
				for _, tok := range toks {
					if !tok.WaitTimeout(bridgetest.Timeout) || tok.Error() != nil {
						b.Fatal("paho publish:", tok.Error())
					}
				}
				return time.Since(start)
			}
			viaPaho()
			viaBridge(false)
			var tp, tb, tt time.Duration
			b.ResetTimer()
			for b.Loop() {
				tp += viaPaho()
				tb += viaBridge(false)
				tt += viaBridge(true)
			}
			n := float64(b.N * batch)
			b.ReportMetric(n/tp.Seconds(), "paho-msg/s")
			b.ReportMetric(n/tb.Seconds(), "bridge-msg/s")
			b.ReportMetric(n/tt.Seconds(), "bridge-try-msg/s")
			b.ReportMetric(float64(tp)/float64(tb), "bridge/paho")
			b.ReportMetric(float64(tp)/float64(tt), "bridge-try/paho")
		})
	}
}

// startMosquitto runs the Debian mosquitto with its default configuration
// (no -c: Nagle's algorithm on, set_tcp_nodelay false) on a free loopback
// port, or skips.
func startMosquitto(b *testing.B) string {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		b.Skip("mosquitto not on PATH (apt-get install -y mosquitto)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			break
		}
		if i == 100 {
			b.Fatal("mosquitto does not listen:", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "tcp://" + addr
}

// BenchmarkMosquittoRequestReply: QoS 1 request/reply against a stock
// Mosquitto. paho: two plain paho clients (requester and echoing
// responder), which pay the 44 ms delayed-ACK stall. bridge: a node's
// Request to another node's Handle method, both bridges arming
// TCP_QUICKACK (target p50 ≤ 1 ms). bridge-noquickack: the same without it.
func BenchmarkMosquittoRequestReply(b *testing.B) {
	url := startMosquitto(b)
	b.Run("paho", func(b *testing.B) {
		echoResponder(b, url, "mq-echo", "bench/req", "bench/res", 1)
		pp := newPingPong(b, url, "mq-req", "bench/res", 1)
		pp.trip(b, "bench/req", 1, []byte("warm-up"))
		var ls latencies
		for b.Loop() {
			ls = append(ls, pp.trip(b, "bench/req", 1, []byte("ping")))
		}
		ls.report(b, "rtt")
	})
	for _, quick := range []bool{true, false} {
		name := "bridge"
		var extra []bridge.Option
		if !quick {
			name += "-noquickack"
			extra = append(extra, bridge.WithoutQuickAck())
		}
		b.Run(name, func(b *testing.B) {
			startBenchBridge(b, append(benchOpts(b, "srv", url), extra...), echoServer)
			var client *rpc.Client
			cli := startBenchBridge(b, append(benchOpts(b, "cli", url), extra...), func(bb *bridge.Bridge) (func(*loop.Task) error, error) {
				var err error
				client, err = rpc.NewClient(bb)
				return nil, err
			})
			var ls latencies
			err := cli.do(func(tk *loop.Task) error {
				if _, err := client.Call(tk, "srv", "echo", "warm-up", bridgetest.Timeout); err != nil {
					return err
				}
				for b.Loop() {
					start := time.Now()
					if _, err := client.Call(tk, "srv", "echo", "ping", bridgetest.Timeout); err != nil {
						return err
					}
					ls = append(ls, time.Since(start))
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			ls.report(b, "rtt")
		})
	}
}
