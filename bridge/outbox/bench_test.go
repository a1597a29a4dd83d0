package outbox

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const benchTopic = "edgeagent/dev1/sensor/temperature"

func reportMsgs(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAppend measures Append under each sync policy against two
// baselines writing the same record bytes to a plain file: through a 64 KiB
// bufio.Writer (no syscall per message, nothing on disk until a flush) and
// with one write(2) per message (what Append does, minus the outbox).
// MB/s counts record bytes (payload 128 B + topic + 29 B framing).
func BenchmarkAppend(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 128)
	rec := appendMessage(nil, 1, 0, &Message{Topic: benchTopic, Payload: payload, QoS: 1})
	size := int64(len(rec))

	b.Run("baseline=bufio", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 64<<10)
		b.SetBytes(size)
		for b.Loop() {
			if _, err := w.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		reportMsgs(b)
	})
	b.Run("baseline=write", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(size)
		for b.Loop() {
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		reportMsgs(b)
	})
	policies := []struct {
		name string
		p    SyncPolicy
	}{
		{"SyncNever", SyncNever},
		{"SyncInterval=1s", SyncInterval(time.Second)},
		{"SyncAlways", SyncAlways},
	}
	for _, pol := range policies {
		b.Run("policy="+pol.name, func(b *testing.B) {
			ob := benchOpen(b, pol.p)
			b.SetBytes(size)
			for b.Loop() {
				if _, err := ob.Append(Message{Topic: benchTopic, Payload: payload, QoS: 1}); err != nil {
					b.Fatal(err)
				}
			}
			reportMsgs(b)
		})
	}
	// Many goroutines appending at once share fsyncs (group commit).
	b.Run("policy=SyncAlways/parallel=32", func(b *testing.B) {
		ob := benchOpen(b, SyncAlways)
		b.SetBytes(size)
		b.SetParallelism(16)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ob.Append(Message{Topic: benchTopic, Payload: payload, QoS: 1}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
	// The connected steady state: each message acknowledged right after,
	// so segments rotate and get deleted as they go.
	b.Run("policy=SyncNever/append+ack", func(b *testing.B) {
		ob, err := Open(b.TempDir(), WithSync(SyncNever))
		if err != nil {
			b.Fatal(err)
		}
		defer ob.Close()
		b.SetBytes(size)
		for b.Loop() {
			seq, err := ob.Append(Message{Topic: benchTopic, Payload: payload, QoS: 1})
			if err == nil {
				err = ob.Ack(seq)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		reportMsgs(b)
	})
}

func benchOpen(b *testing.B, p SyncPolicy) *Outbox {
	b.Helper()
	ob, err := Open(b.TempDir(), WithSync(p), WithMaxBytes(1<<40), WithMaxCount(1<<40), WithSegmentSize(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ob.Close() })
	return ob
}

// BenchmarkRecover100k measures Open of a directory holding 100 000
// pending messages (128-byte payloads, every third one acknowledged), next
// to a baseline that only reads the same files.
func BenchmarkRecover100k(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	ob, err := Open(dir, WithSync(SyncNever), WithMaxCount(2*n), WithMaxBytes(1<<30))
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), 128)
	for i := range n + n/2 {
		seq, err := ob.Append(Message{Topic: benchTopic, Payload: payload, QoS: 1})
		if err == nil && i%3 == 2 {
			err = ob.Ack(seq)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := ob.Close(); err != nil {
		b.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*"))

	b.Run("baseline=readfiles", func(b *testing.B) {
		for b.Loop() {
			for _, f := range files {
				if _, err := os.ReadFile(f); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			ob, err := Open(dir, WithSync(SyncNever), WithMaxCount(2*n), WithMaxBytes(1<<30))
			if err != nil {
				b.Fatal(err)
			}
			if st := ob.Stats(); st.Recovered != n {
				b.Fatalf("recovered %d, want %d", st.Recovered, n)
			}
			if err := ob.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
