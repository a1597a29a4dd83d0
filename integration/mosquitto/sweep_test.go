package mosquitto

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// The sweep removes this scope's containers whose owner process is gone,
// and nothing else: not a live owner's, not another host's, not another
// scope's. Real containers (created, not started) on the real engine.
func TestSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker: skipped under -short")
	}
	const scope = "github.com/edgeagent/edgeagent/integration/mosquitto.TestSweep"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := Prepare(ctx, scope, io.Discard)
	e.Require(t)
	t.Cleanup(func() { e.cli.Close() })

	host, _ := os.Hostname()
	dead := host + "/999999999/1" // no such pid
	create := func(scope, owner string) string {
		t.Helper()
		r, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{
			Image: e.image, Labels: map[string]string{scopeLabel: scope, ownerLabel: owner},
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = e.cli.ContainerRemove(context.Background(), r.ID, client.ContainerRemoveOptions{Force: true})
		})
		return r.ID
	}
	crashed := create(scope, dead)
	live := create(scope, e.owner)
	elsewhere := create(scope, "another-host/1/1")
	otherScope := create(scope+".other", dead)

	n, err := e.sweep(ctx, false)
	if err != nil || n != 1 {
		t.Errorf("sweep removed %d (%v), want the crashed run's container only", n, err)
	}
	exists := func(id string) bool {
		_, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		return err == nil
	}
	if exists(crashed) {
		t.Error("the crashed run's container survived the sweep")
	}
	for name, id := range map[string]string{"live owner's": live, "another host's": elsewhere, "another scope's": otherScope} {
		if !exists(id) {
			t.Errorf("the sweep removed the %s container", name)
		}
	}
	// Close removes what this process left.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(live) {
		t.Error("Close left this process's container")
	}
}

// $EDGEAGENT_MOSQUITTO_IMAGE selects a present image, and a missing one
// falls back to the Debian-built image (never a pull), saying so.
func TestResolveImageSelection(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker: skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := Prepare(ctx, "github.com/edgeagent/edgeagent/integration/mosquitto.TestResolveImageSelection", io.Discard)
	e.Require(t)
	t.Cleanup(func() { e.Close() })

	// A second name for the Debian-built image stands in for an official
	// image that is present.
	selected := "edgeagent-mosquitto-selftest:" + strconv.Itoa(os.Getpid())
	if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: e.image, Target: selected}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = e.cli.ImageRemove(context.Background(), selected, client.ImageRemoveOptions{})
	})
	t.Setenv(ImageEnv, selected)
	var log bytes.Buffer
	if got, err := ResolveImage(ctx, e.cli, &log); err != nil || got != selected {
		t.Errorf("selected a present image: got %q, %v; want %q", got, err, selected)
	}
	missing := "edgeagent-mosquitto-selftest:absent-" + strconv.Itoa(os.Getpid())
	t.Setenv(ImageEnv, missing)
	got, err := ResolveImage(ctx, e.cli, &log)
	if err != nil || got != e.image {
		t.Errorf("selected a missing image: got %q, %v; want the fallback %q", got, err, e.image)
	}
	if !strings.Contains(log.String(), missing+" is not present locally") {
		t.Errorf("the fallback was not reported: %q", log.String())
	}
}
