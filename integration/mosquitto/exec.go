package mosquitto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/moby/moby/client"
)

// Exec runs a command inside the broker's container and returns its exit
// code and combined output; it fails the test if the command cannot be run
// or does not finish within timeout.
func (b *Broker) Exec(t testing.TB, timeout time.Duration, cmd ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	code, err := b.exec(ctx, cmd, &out, &out)
	if err != nil {
		t.Fatalf("broker %s: exec %s: %v\n%s", b.name, strings.Join(cmd, " "), err, out.String())
	}
	return code, out.String()
}

// exec runs cmd in the container, copying its output until it ends.
func (b *Broker) exec(ctx context.Context, cmd []string, stdout, stderr io.Writer) (int, error) {
	id, hijack, err := b.execStart(ctx, cmd, false)
	if err != nil {
		return -1, err
	}
	defer hijack.Close()
	copied := make(chan error, 1)
	go func() { copied <- demux(stdout, stderr, hijack.Reader) }()
	select {
	case err = <-copied:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	if err != nil {
		return -1, err
	}
	return b.execExit(ctx, id)
}

// execStart creates and attaches to an exec of cmd, on a TTY or with
// stdout and stderr multiplexed.
func (b *Broker) execStart(ctx context.Context, cmd []string, tty bool) (string, client.HijackedResponse, error) {
	cr, err := b.env.cli.ExecCreate(ctx, b.ContainerID(), client.ExecCreateOptions{
		AttachStdout: true, AttachStderr: true, TTY: tty, Cmd: cmd,
	})
	if err != nil {
		return "", client.HijackedResponse{}, err
	}
	at, err := b.env.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{TTY: tty})
	if err != nil {
		return "", client.HijackedResponse{}, err
	}
	return cr.ID, at.HijackedResponse, nil
}

// execExit waits for the engine to mark the exec finished (it does so a
// moment after the output ends) and returns its exit code.
func (b *Broker) execExit(ctx context.Context, id string) (int, error) {
	for {
		r, err := b.env.cli.ExecInspect(ctx, id, client.ExecInspectOptions{})
		if err != nil {
			return -1, err
		}
		if !r.Running {
			return r.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// cliDefaults puts the harness's account first, so callers' options
// (clients.Auth) override it.
func (b *Broker) cliDefaults(opts []clients.CLIOption) []clients.CLIOption {
	if b.user == "" {
		return opts
	}
	return append([]clients.CLIOption{clients.Auth(b.user, b.pw)}, opts...)
}

// Pub runs mosquitto_pub inside the container against the broker's plain
// listener and fails the test unless it succeeds within 30 s. It connects
// as the harness's account unless clients.Auth says otherwise.
func (b *Broker) Pub(t testing.TB, topic string, payload []byte, opts ...clients.CLIOption) {
	t.Helper()
	if out, err := b.PubErr(t, topic, payload, opts...); err != nil {
		t.Fatalf("broker %s: mosquitto_pub to %s: %v\n%s", b.name, topic, err, out)
	}
}

// PubErr is Pub returning mosquitto_pub's failure and output instead.
func (b *Broker) PubErr(t testing.TB, topic string, payload []byte, opts ...clients.CLIOption) (string, error) {
	t.Helper()
	args := clients.PubArgs("127.0.0.1", PlainPort, topic, payload, b.cliDefaults(opts)...)
	code, out := b.Exec(t, 30*time.Second, append([]string{pubBinary}, args...)...)
	if code != 0 {
		return out, fmt.Errorf("exit code %d", code)
	}
	return out, nil
}

// Sub runs mosquitto_sub inside the container, returns once the broker
// answered the subscription (Stream.WaitSubscribed has the codes), and
// collects what it receives. It ends after clients.Count messages, after clients.Timeout
// (default: 5 minutes) or when the container stops: the engine cannot
// signal an exec, so Stop only stops collecting. For a subscriber that
// must outlive a broker restart use clients.HostSub or a paho client.
func (b *Broker) Sub(t testing.TB, filter string, opts ...clients.CLIOption) *clients.Stream {
	t.Helper()
	opts = append([]clients.CLIOption{clients.Timeout(5 * time.Minute)}, b.cliDefaults(opts)...)
	args := clients.SubArgs("127.0.0.1", PlainPort, filter, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	// On a TTY: mosquitto_sub's -d lines (the SUBACK) are line-buffered
	// there, and the stream is raw, stdout and stderr together.
	id, hijack, err := b.execStart(ctx, append([]string{subBinary}, args...), true)
	if err != nil {
		cancel()
		t.Fatalf("broker %s: start mosquitto_sub %s: %v", b.name, filter, err)
	}
	stop := func() {
		cancel()
		hijack.Close()
	}
	wait := func() (int, error) {
		hijack.Close()
		if ctx.Err() != nil {
			return -1, errors.New("stopped by the test")
		}
		ictx, icancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer icancel()
		return b.execExit(ictx, id)
	}
	stream := clients.NewStream(hijack.Reader, stop, wait)
	t.Cleanup(func() {
		stop()
		_, _ = stream.Wait(10 * time.Second)
	})
	// A message published right after Sub returns must not be missed.
	if _, err := stream.WaitSubscribed(30 * time.Second); err != nil {
		t.Fatalf("broker %s: mosquitto_sub %s: %v", b.name, filter, err)
	}
	return stream
}
