package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A simulated pty's port honours its read timeout: a read with nothing to
// read returns (0, nil) instead of blocking until data comes, so the
// serial stream's reader sees a stop request and the device stops at
// once. (A blocking master made every stop wait out the stream's 2.2 s
// bound and log an error.)
func TestSimPtyReadTimeout(t *testing.T) {
	link := filepath.Join(t.TempDir(), "pty")
	p, err := openSimPty(link)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer p.close()
	port, err := p.open(link, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := port.SetReadTimeout(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	read := func() result {
		done := make(chan result, 1)
		go func() {
			n, err := port.Read(make([]byte, 64))
			done <- result{n, err}
		}()
		select {
		case r := <-done:
			return r
		case <-time.After(10 * time.Second): // a failure bound, not a timing
			t.Fatal("Read blocked past its read timeout")
			return result{}
		}
	}
	if r := read(); r.n != 0 || r.err != nil {
		t.Fatalf("idle Read = %d, %v; want 0, nil after the timeout", r.n, r.err)
	}
	w, err := os.OpenFile(link, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString("x\n"); err != nil {
		t.Fatal(err)
	}
	var got int
	for got == 0 {
		r := read()
		if r.err != nil {
			t.Fatalf("Read after a write: %v", r.err)
		}
		got = r.n
	}
}
