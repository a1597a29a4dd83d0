package proc

import (
	"slices"
	"testing"
)

func TestLineWriter(t *testing.T) {
	p := &Process{changed: make(chan struct{})}
	w := &lineWriter{p: p, stream: "stdout"}
	for _, chunk := range []string{"one\ntw", "o\r\n", "", "\nthr", "ee"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	w.flush()
	var got []string
	for i, l := range p.Lines() {
		if l.N != i || l.Stream != "stdout" {
			t.Errorf("line %d: %+v", i, l)
		}
		got = append(got, l.Text)
	}
	if want := []string{"one", "two", "", "three"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}
