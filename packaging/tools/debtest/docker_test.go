package debtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pidLabel marks every container a test process starts with that
// process's id, so a later run can remove what a killed run left behind
// without touching a container of a run still going.
const pidLabel = "edgeagent.debtest.pid"

// needDocker fails or skips (see need) unless a Docker engine answers.
func needDocker(t *testing.T) {
	t.Helper()
	need(t, "docker", "docker.io")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := runCmd(ctx, "docker", "version", "--format", "{{.Server.Version}}"); err != nil || res.code != 0 {
		missing(t, "the Docker engine does not answer: "+strings.TrimSpace(res.out))
	}
}

// sweepContainers removes containers left by test processes that no
// longer run (killed, or timed out before their cleanup).
func sweepContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := runCmd(ctx, "docker", "ps", "-a", "--filter", "label="+pidLabel, "--format", `{{.ID}} {{.Label "`+pidLabel+`"}}`)
	if err != nil || res.code != 0 {
		return // no Docker here: nothing to sweep
	}
	for _, line := range strings.Split(strings.TrimSpace(res.out), "\n") {
		id, pidText, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its test process is alive (or unknown): not ours to remove
		}
		fmt.Fprintf(os.Stderr, "debtest: removing container %s left by test process %d\n", id, pid)
		_, _ = runCmd(ctx, "docker", "rm", "-f", id)
	}
}

var nameRE = regexp.MustCompile(`[^a-z0-9]+`)

// container is a running container that the test removes when it ends,
// whether it passed or failed.
type container struct {
	id   string
	name string
}

// startContainer runs `docker run -d` with args (options, image, command);
// the container's name joins role, the test's name and the process id.
func startContainer(t *testing.T, role string, args ...string) *container {
	t.Helper()
	needDocker(t)
	full := fmt.Sprintf("edgeagent-debtest-%s-%s-%d", role, nameRE.ReplaceAllString(strings.ToLower(t.Name()), "-"), os.Getpid())
	runArgs := append([]string{"run", "-d", "--name", full, "--label", fmt.Sprintf("%s=%d", pidLabel, os.Getpid())}, args...)
	id := strings.TrimSpace(mustRun(t, 2*time.Minute, "docker", runArgs...))
	c := &container{id: id, name: full}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if res, err := runCmd(ctx, "docker", "rm", "-f", "-v", c.id); err != nil || res.code != 0 {
			t.Errorf("removing container %s: %v %s", c.name, err, res.out)
		}
	})
	return c
}

// try runs a shell command in the container and returns its output and
// exit status.
func (c *container) try(t *testing.T, script string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := runCmd(ctx, "docker", "exec", c.id, "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sh runs a shell command in the container and fails the test unless it
// exits 0; it returns the output without the final newline.
func (c *container) sh(t *testing.T, script string) string {
	t.Helper()
	res := c.try(t, script)
	if res.code != 0 {
		t.Fatalf("in %s: %s: exit %d\n%s", c.name, script, res.code, res.out)
	}
	return strings.TrimRight(res.out, "\n")
}

// copyIn copies a file from this machine into the container.
func (c *container) copyIn(t *testing.T, src, dst string) {
	t.Helper()
	mustRun(t, time.Minute, "docker", "cp", src, c.id+":"+dst)
}
