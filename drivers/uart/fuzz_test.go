package uart

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"8N1", "7E1", "8N2", "5O1.5", "8n1", "", "8", "8N", "9N1", "8X1", "8N3", "8N1.5x", "\xff\xff\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bits, parity, stop, err := ParseFormat(s)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Errorf("error %q does not quote the input", err)
			}
			return
		}
		if bits < 5 || bits > 8 || parity > SpaceParity || stop > TwoStopBits {
			t.Fatalf("ParseFormat(%q) = %d, %d, %d: out of range", s, bits, parity, stop)
		}
		again := fmt.Sprintf("%d%c%s", bits, "NOEMS"[parity], []string{"1", "1.5", "2"}[stop])
		if !strings.EqualFold(again, s) {
			t.Errorf("ParseFormat(%q) accepted a spelling that does not round-trip (%q)", s, again)
		}
	})
}

// FuzzFraming feeds one stream — bytes, with holes (dropped bytes) at
// fixed places and maybe a disconnect at the end — in three different
// splittings, and checks that ReadLine sees the same lines and losses
// whatever the splitting, and that the byte counts add up.
func FuzzFraming(f *testing.F) {
	for _, tc := range framingCases() {
		f.Add([]byte(strings.Join(tc.chunks, "")), []byte{3, 1, 7}, []byte{}, byte(0), byte(4))
	}
	f.Add([]byte("ok\nab\ncd\r\nef\rgh"), []byte{1, 2}, []byte{4, 3, 9, 1}, byte(3|0x80), byte(2))
	f.Add([]byte("\r\r\n\n\r"), []byte{1}, []byte{1, 1, 2, 2}, byte(2), byte(0))
	f.Fuzz(func(t *testing.T, data, splits, holes []byte, kind, maxLine byte) {
		if len(data) > 4096 {
			return
		}
		opts := []Option{WithMaxLine(1 + int(maxLine%16))}
		switch k := kind & 0x7f % 5; k {
		case 4:
			opts = append(opts, WithDelimiter(kind))
		default:
			opts = append(opts, WithLineEnding(LineEnding(k)))
		}
		cutAtEnd := kind&0x80 != 0

		// Holes: (position, bytes lost) pairs, in stream order.
		type hole struct {
			pos  int
			lost uint64
		}
		var hs []hole
		for i := 0; i+1 < len(holes); i += 2 {
			hs = append(hs, hole{int(holes[i]) % (len(data) + 1), 1 + uint64(holes[i+1]%5)})
		}
		slices.SortStableFunc(hs, func(a, b hole) int { return a.pos - b.pos })

		run := func(chunk func(seg []byte) [][]byte) []string {
			s := feedOnly(t, opts...)
			var got []string
			feed := func(lost uint64, p []byte) {
				s.used.Add(int64(len(p)))
				s.onData(nil, lost, p)
				got = append(got, drainLines(s)...)
			}
			at := 0
			for _, h := range hs {
				for _, c := range chunk(data[at:h.pos]) {
					feed(0, c)
				}
				feed(h.lost, nil)
				at = h.pos
			}
			for _, c := range chunk(data[at:]) {
				feed(0, c)
			}
			if cutAtEnd {
				s.rx.cut(ErrVanished)
				got = append(got, drainLines(s)...)
			}
			checkAccounts(t, s)
			st := s.Stats()
			if st.Received != uint64(len(data))+st.Dropped {
				t.Fatalf("received %d, want %d bytes plus %d dropped", st.Received, len(data), st.Dropped)
			}
			return got
		}
		whole := run(func(seg []byte) [][]byte { return [][]byte{seg} })
		bytewise := run(func(seg []byte) [][]byte {
			var out [][]byte
			for i := range seg {
				out = append(out, seg[i:i+1])
			}
			return out
		})
		k := 0
		pieces := run(func(seg []byte) [][]byte {
			var out [][]byte
			for len(seg) > 0 {
				n := 1
				if len(splits) > 0 {
					n = 1 + int(splits[k%len(splits)]%16)
					k++
				}
				n = min(n, len(seg))
				out = append(out, seg[:n])
				seg = seg[n:]
			}
			return out
		})
		if !slices.Equal(whole, bytewise) || !slices.Equal(whole, pieces) {
			t.Fatalf("results depend on the splitting:\nwhole     %v\nbytewise  %v\npieces    %v", whole, bytewise, pieces)
		}
	})
}
