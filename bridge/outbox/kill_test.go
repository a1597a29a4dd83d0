package outbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill -9 test re-executes the test binary as a child that appends and
// acknowledges as fast as it can, printing a line after every call that
// returned. The parent SIGKILLs it after a random number of lines, then
// opens the directory itself and checks that every message whose Append
// returned is there unless its Ack was called (an Ack cut short by the
// kill may or may not have hit the disk), that none whose Ack returned is,
// in order, with no duplicate and nothing the child did not write.

const (
	killDirEnv    = "OUTBOX_KILL9_DIR"
	killPolicyEnv = "OUTBOX_KILL9_SYNC"
	killSegEnv    = "OUTBOX_KILL9_SEGMENT"
	killMaxBytes  = 32 << 10
)

func killTopic(seq uint64) string { return "kill/" + strconv.FormatUint(seq%7, 10) }

func killPayload(seq uint64) []byte {
	return bytes.Repeat([]byte(strconv.FormatUint(seq, 10)+";"), 1+int(seq%9))
}

// killAcks reports whether the child acknowledges seq (two appends later).
// Every 50th stays, so the log holds old pending messages among acked ones
// and compaction has to copy them forward.
func killAcks(seq uint64) bool { return seq%50 != 0 }

func TestKill9Child(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("helper process of TestKill9")
	}
	pol, _ := strconv.ParseInt(os.Getenv(killPolicyEnv), 10, 64)
	seg, _ := strconv.ParseInt(os.Getenv(killSegEnv), 10, 64)
	say := func(format string, args ...any) {
		// One write(2) per line: a pipe write this small is atomic, so the
		// parent never reads half a line.
		if _, err := os.Stdout.WriteString(fmt.Sprintf(format, args...)); err != nil {
			os.Exit(4)
		}
	}
	ob, err := Open(dir, WithSync(SyncPolicy(pol)), WithSegmentSize(seg), WithMaxBytes(killMaxBytes))
	if err != nil {
		say("OBX E %v\n", err)
		os.Exit(3)
	}
	// Settle what earlier rounds left: acknowledge all but the oldest.
	for first := true; ; {
		ms, err := ob.Next(64)
		if err != nil {
			say("OBX E %v\n", err)
			os.Exit(3)
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if first {
				first = false
				continue
			}
			say("OBX S %d\n", m.Seq)
			if err := ob.Ack(m.Seq); err != nil {
				say("OBX E %v\n", err)
				os.Exit(3)
			}
			say("OBX K %d\n", m.Seq)
		}
	}
	for {
		seq := ob.Stats().NextSeq // one appender: this is the seq Append assigns
		got, err := ob.Append(Message{Topic: killTopic(seq), Payload: killPayload(seq), QoS: 1})
		if err != nil || got != seq {
			say("OBX E append %d: got %d, %v\n", seq, got, err)
			os.Exit(3)
		}
		say("OBX A %d\n", seq)
		if old := seq - 2; seq > 2 && killAcks(old) {
			say("OBX S %d\n", old)
			if err := ob.Ack(old); err != nil {
				say("OBX E %v\n", err)
				os.Exit(3)
			}
			say("OBX K %d\n", old)
		}
	}
}

func TestKill9(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 9))
	appended := map[uint64]bool{} // Append returned
	ackStarted := map[uint64]bool{}
	acked := map[uint64]bool{} // Ack returned
	rounds := []struct {
		policy  SyncPolicy
		seg     int64
		maxKill int // lines read before the kill
	}{
		{SyncNever, 4096, 3000},
		{SyncAlways, 4096, 40},
		{SyncNever, 4096, 3000},
		{SyncInterval(5 * time.Millisecond), 64 << 10, 1500},
		{SyncNever, 4096, 3000},
		{SyncNever, 4096, 50}, // early: during the child's start-up acks
	}
	torn := 0
	for r, round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			killDirEnv+"="+dir,
			killPolicyEnv+"="+strconv.FormatInt(int64(round.policy), 10),
			killSegEnv+"="+strconv.FormatInt(round.seg, 10))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 1 + rng.IntN(round.maxKill)
		lines, killed := 0, false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 3 || f[0] != "OBX" {
				continue // the testing package's own output
			}
			if f[1] == "E" {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("round %d: child failed: %s\n%s", r, sc.Text(), stderr.String())
			}
			seq, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatalf("round %d: bad line %q", r, sc.Text())
			}
			switch f[1] {
			case "A":
				appended[seq] = true
			case "S":
				ackStarted[seq] = true
			case "K":
				acked[seq] = true
			}
			lines++
			if lines == killAt {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
			// Lines already in the pipe after the kill are calls that
			// returned too: keep reading to the end.
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !killed || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended by itself (%v) after %d lines\n%s", r, err, lines, stderr.String())
		}

		ob, err := Open(dir, WithSync(SyncNever), WithSegmentSize(round.seg), WithMaxBytes(killMaxBytes))
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", r, err)
		}
		if errs := ob.RecoveryErrors(); len(errs) != 0 {
			t.Fatalf("round %d: a kill -9 left damage in the middle: %v", r, errs)
		}
		torn += ob.Stats().TornTails
		ms := drain(t, ob)
		present := map[uint64]bool{}
		var prev uint64
		for _, m := range ms {
			if m.Seq <= prev {
				t.Fatalf("round %d: seq %d after %d (duplicate or out of order)", r, m.Seq, prev)
			}
			prev = m.Seq
			if m.Topic != killTopic(m.Seq) || !bytes.Equal(m.Payload, killPayload(m.Seq)) || m.QoS != 1 {
				t.Fatalf("round %d: message %d is not what was appended: %q %q", r, m.Seq, m.Topic, m.Payload)
			}
			if acked[m.Seq] {
				t.Fatalf("round %d: message %d came back after its Ack returned", r, m.Seq)
			}
			present[m.Seq] = true
		}
		for s := range appended {
			if !ackStarted[s] && !present[s] {
				t.Fatalf("round %d: message %d lost: its Append returned, it was never acked", r, s)
			}
		}
		if err := ob.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d (%v): killed after %d lines; %d appended, %d acked so far; %d pending",
			r, round.policy, lines, len(appended), len(acked), len(ms))
	}
	t.Logf("torn tails truncated over all rounds: %d", torn)
}
