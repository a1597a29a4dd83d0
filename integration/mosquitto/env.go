package mosquitto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

const (
	// RequireEnv, when set to 1 (as .ci/run does), turns a missing Docker
	// engine or image into a failure; otherwise the tests that need them
	// skip with a one-line reason.
	RequireEnv = "EDGEAGENT_REQUIRE_DOCKER"

	// scopeLabel marks every container and network of one test package;
	// ownerLabel names the process that made it (host/pid/start time).
	scopeLabel = "io.edgeagent.integration.scope"
	ownerLabel = "io.edgeagent.integration.owner"
)

// Required reports whether $EDGEAGENT_REQUIRE_DOCKER asks for missing
// Docker support to fail the tests rather than skip them.
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0" && v != "false"
}

// SetTestcontainersDefaults sets TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
// (testcontainers would otherwise dial the default gateway on a machine
// that looks like a container) and TESTCONTAINERS_RYUK_DISABLED=true (the
// reaper image cannot be pulled; the label sweep replaces it), each only
// when unset. testcontainers reads them once, so call this first.
func SetTestcontainersDefaults() {
	for k, v := range map[string]string{
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
		"TESTCONTAINERS_RYUK_DISABLED": "true",
	} {
		if _, ok := os.LookupEnv(k); !ok {
			os.Setenv(k, v)
		}
	}
}

// Env is one test binary's access to Docker: the engine, the image the
// brokers run, and the labels its containers carry. A test package makes
// one in TestMain with Prepare and closes it after m.Run.
type Env struct {
	cli   *testcontainers.DockerClient
	image string
	scope string
	owner string
	err   error // why brokers cannot run here; nil when they can
	logw  io.Writer
}

// Prepare connects to Docker, removes what crashed runs of the same scope
// left behind, and resolves the image (building it when missing). scope
// names the test package (its import path); containers of other scopes
// and of live processes are never touched. Progress and problems go to
// logw. Prepare does not fail: Err reports why brokers cannot run.
func Prepare(ctx context.Context, scope string, logw io.Writer) *Env {
	SetTestcontainersDefaults()
	e := &Env{scope: scope, owner: processOwner(os.Getpid()), logw: logw}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		e.err = fmt.Errorf("no Docker engine: %w", err)
		return e
	}
	e.cli = cli
	if n, err := e.sweep(ctx, false); err != nil {
		fmt.Fprintf(logw, "mosquitto: sweep of leftovers: %v\n", err)
	} else if n > 0 {
		fmt.Fprintf(logw, "mosquitto: removed %d containers/networks left by crashed runs of %s\n", n, scope)
	}
	e.image, e.err = ResolveImage(ctx, cli, logw)
	return e
}

// Err reports why brokers cannot run (no engine, no image), or nil.
func (e *Env) Err() error { return e.err }

// Image is the image the brokers run.
func (e *Env) Image() string { return e.image }

// Require skips the test (one line) when brokers cannot run, or fails it
// when $EDGEAGENT_REQUIRE_DOCKER is set. It skips under -short, which
// promises no containers. A nil Env is one TestMain did not prepare.
func (e *Env) Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Docker: skipped under -short")
	}
	var err error
	switch {
	case e == nil:
		err = errors.New("no Docker environment: TestMain did not call mosquitto.Prepare")
	case e.err != nil:
		err = e.err
	default:
		return
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	if Required() {
		t.Fatalf("%s=1 and %v", RequireEnv, err)
	}
	t.Skipf("%s (set %s=1 to fail instead)", first, RequireEnv)
}

// Close removes whatever this process's tests left (a broker whose
// cleanup never ran) and closes the Docker client.
func (e *Env) Close() error {
	if e == nil || e.cli == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := e.sweep(ctx, true)
	if n > 0 {
		fmt.Fprintf(e.logw, "mosquitto: removed %d containers/networks the tests left behind\n", n)
	}
	return errors.Join(err, e.cli.Close())
}

// labels are the labels of everything this process creates.
func (e *Env) labels() map[string]string {
	return map[string]string{scopeLabel: e.scope, ownerLabel: e.owner}
}

// sweep removes the containers and networks of this scope whose owner
// process is gone, or (own) this process's own.
func (e *Env) sweep(ctx context.Context, own bool) (int, error) {
	filter := client.Filters{}.Add("label", scopeLabel+"="+e.scope)
	stale := func(labels map[string]string) bool {
		o := labels[ownerLabel]
		if own {
			return o == e.owner
		}
		return o != e.owner && !ownerAlive(o)
	}
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return 0, err
	}
	var n int
	var errs []error
	for _, c := range list.Items {
		if !stale(c.Labels) {
			continue
		}
		if _, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	nets, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return n, errors.Join(append(errs, err)...)
	}
	for _, nw := range nets.Items {
		if !stale(nw.Labels) {
			continue
		}
		if _, err := e.cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// processOwner names a process by host, pid and start time, so a reused
// pid does not pass for the process that made a container.
func processOwner(pid int) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, pid, processStart(pid))
}

// processStart is the start time of pid (field 22 of /proc/pid/stat, in
// clock ticks since boot), or "" when there is no such process.
func processStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// fields after its closing parenthesis.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// ownerAlive reports whether the owner process still runs. Owners on other
// hosts (another machine or container sharing the engine) count as alive:
// this process cannot tell, so it leaves their containers alone.
func ownerAlive(owner string) bool {
	parts := strings.Split(owner, "/")
	host, _ := os.Hostname()
	if len(parts) != 3 || parts[0] != host {
		return true
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return true
	}
	start := processStart(pid)
	return start != "" && start == parts[2]
}
