package clients

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSubLine(t *testing.T) {
	cases := []struct {
		line string
		want Message
	}{
		{"0 1 68656c6c6f a/b", Message{Topic: "a/b", Payload: []byte("hello"), QoS: 1}},
		{"1 0 6f6e a/c d", Message{Topic: "a/c d", Payload: []byte("on"), Retained: true}},
		{"0 2  empty/payload\r", Message{Topic: "empty/payload", Payload: []byte{}, QoS: 2}},
		{"0 0 0a00ff bin", Message{Topic: "bin", Payload: []byte{'\n', 0, 0xff}}},
	}
	for _, c := range cases {
		m, err := ParseSubLine(c.line)
		if err != nil || m.Topic != c.want.Topic || string(m.Payload) != string(c.want.Payload) || m.QoS != c.want.QoS || m.Retained != c.want.Retained {
			t.Errorf("ParseSubLine(%q) = %v, %v; want %v", c.line, m, err, c.want)
		}
	}
	for _, bad := range []string{"", "0 1 68", "2 1 68 t", "0 3 68 t", "0 1 6 t", "0 1 zz t", "Client null received PUBLISH"} {
		if m, err := ParseSubLine(bad); err == nil {
			t.Errorf("ParseSubLine(%q) = %v without an error", bad, m)
		}
	}
}

func FuzzParseSubLine(f *testing.F) {
	f.Add("0 1 68656c6c6f a/b")
	f.Add("1 0  t")
	f.Add("Subscribed (mid: 1): 0")
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseSubLine(line)
		if err != nil {
			return
		}
		// What parses prints back to the same line.
		r := "0"
		if m.Retained {
			r = "1"
		}
		if back := fmt.Sprintf("%s %d %x %s", r, m.QoS, m.Payload, m.Topic); back != strings.TrimRight(line, "\r\n") {
			t.Errorf("%q parsed to %v, which prints as %q", line, m, back)
		}
	})
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/c", false}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false},
		{"a/#", "a", true}, {"a/#", "a/b/c", true}, {"#", "a/b", true}, {"+/b", "a/b", true},
		{"#", "$SYS/x", false}, {"+/x", "$SYS/x", false}, {"$SYS/#", "$SYS/x", true}, {"a/b", "a/b/c", false},
		{"a/+/c", "a//c", true},
	} {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %t", c.filter, c.topic, got)
		}
	}
}

// fakeTB records a failure instead of ending the test.
type fakeTB struct{ failed string }

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f)
}

func catch(f *fakeTB, fn func()) {
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
	}()
	fn()
}

func TestCollector(t *testing.T) {
	c := NewCollector()
	go func() {
		for i := range 5 {
			c.Add(Message{Topic: "t", Payload: []byte(fmt.Sprint(i))})
		}
	}()
	got := c.WaitCount(t, 5, 10*time.Second)
	if len(got) != 5 || string(got[4].Payload) != "4" {
		t.Errorf("WaitCount = %v", got)
	}
	m := c.WaitFor(t, "payload 3", time.Second, func(m Message) bool { return string(m.Payload) == "3" })
	if string(m.Payload) != "3" {
		t.Errorf("WaitFor = %v", m)
	}

	// A wait that cannot be met reports a timeout and what did arrive.
	f := &fakeTB{}
	catch(f, func() { c.WaitCount(f, 6, 20*time.Millisecond) })
	if !strings.Contains(f.failed, "deadline passed") || !strings.Contains(f.failed, `t q0 "4"`) {
		t.Errorf("failure report: %q", f.failed)
	}
	if _, err := c.Await(20*time.Millisecond, func(m []Message) bool { return false }); !errors.Is(err, ErrTimeout) {
		t.Errorf("Await past its deadline: %v", err)
	}

	// Once the source ended, a wait fails at once with the reason.
	c.End(errors.New("subscriber exited"))
	start := time.Now()
	_, err := c.Await(time.Minute, func(m []Message) bool { return len(m) > 5 })
	if err == nil || !strings.Contains(err.Error(), "subscriber exited") || time.Since(start) > 10*time.Second {
		t.Errorf("Await on an ended source: %v after %v", err, time.Since(start))
	}
}

func TestStream(t *testing.T) {
	out := strings.Join([]string{
		"Client (null) sending CONNECT",
		"Client (null) received SUBACK",
		"Subscribed (mid: 1): 1, 128",
		"0 1 6f6b a/b",
		"Client (null) received PUBLISH (d0, q1, r0, m1, 'a/b', ... (2 bytes))\r",
		"1 0 72 a/r",
	}, "\r\n") + "\r\n"
	s := NewStream(strings.NewReader(out), func() {}, func() (int, error) { return 0, nil })
	codes, err := s.WaitSubscribed(10 * time.Second)
	if err != nil || !slices.Equal(codes, []byte{1, 128}) {
		t.Errorf("WaitSubscribed = %v, %v; want [1 128]", codes, err)
	}
	msgs := s.WaitCount(t, 2, 10*time.Second)
	if msgs[0].Topic != "a/b" || string(msgs[0].Payload) != "ok" || !msgs[1].Retained {
		t.Errorf("messages %v", msgs)
	}
	if code, err := s.Wait(10 * time.Second); code != 0 || err != nil {
		t.Errorf("Wait = %d, %v", code, err)
	}
	if !strings.Contains(s.Debug(), "received SUBACK") || strings.Contains(s.Debug(), "\r") {
		t.Errorf("debug output %q", s.Debug())
	}

	// A subscriber that ends without a SUBACK says why.
	s = NewStream(strings.NewReader("Error: Connection refused\n"), func() {}, func() (int, error) { return 1, nil })
	if _, err := s.WaitSubscribed(10 * time.Second); err == nil || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("WaitSubscribed on a failed subscriber: %v", err)
	}
}

func TestCLIArgs(t *testing.T) {
	got := SubArgs("127.0.0.1", 1883, "a/#", Auth("harness", "x"), QoS(1), ClientID("c"), Persistent(),
		Count(3), Timeout(1500*time.Millisecond), Auth("node", "pw"), TLSFiles("ca.pem", "c.pem", "c.key"))
	want := []string{"-h", "127.0.0.1", "-p", "1883", "-q", "1", "-i", "c", "-c", "-u", "node", "-P", "pw",
		"--cafile", "ca.pem", "--cert", "c.pem", "--key", "c.key", "-d", "-t", "a/#", "-F", SubFormat, "-C", "3", "-W", "2"}
	if !slices.Equal(got, want) {
		t.Errorf("SubArgs =\n%q\nwant\n%q", got, want)
	}
	// A later Auth("", "") connects anonymously.
	got = PubArgs("h", 1, "t", nil, Auth("harness", "x"), Auth("", ""), Retain())
	want = []string{"-h", "h", "-p", "1", "-q", "0", "-t", "t", "-n", "-r"}
	if !slices.Equal(got, want) {
		t.Errorf("PubArgs = %q, want %q", got, want)
	}
	if got := PubArgs("h", 1, "t", []byte("p q")); !slices.Contains(got, "p q") {
		t.Errorf("PubArgs with a payload = %q", got)
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(ds)
	if l.N != 100 || l.P50 != 50*time.Millisecond || l.P90 != 90*time.Millisecond || l.P99 != 99*time.Millisecond ||
		l.Min != time.Millisecond || l.Max != 100*time.Millisecond {
		t.Errorf("Summarize(1..100 ms) = %v", l)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("Summarize reordered its input")
	}
	if one := Summarize([]time.Duration{time.Second}); one.P50 != time.Second || one.P99 != time.Second {
		t.Errorf("Summarize of one = %v", one)
	}
	if (Summarize(nil) != Latency{}) {
		t.Error("Summarize(nil) is not zero")
	}
}
