package option_test

import (
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/option"
)

type config struct {
	size  int
	d     time.Duration
	first time.Duration
	max   time.Duration
}

type opt func(*config) error

// Apply runs every option in order, skips nil ones and joins every error.
func TestApply(t *testing.T) {
	var c config
	err := option.Apply(&c, []opt{
		func(c *config) error { return option.QueueSize("drv", &c.size, 4) },
		nil,
		func(c *config) error { return option.QueueSize("drv", &c.size, 0) },
		func(c *config) error { return option.Positive("drv", "WithPeriod", &c.d, 0) },
		func(c *config) error { return option.NonNegative("drv", "WithDebounce", &c.d, -time.Second) },
		func(c *config) error { return option.Backoff("drv", &c.first, &c.max, 2*time.Second, time.Second) },
		func(c *config) error { return option.Set(&c.d, time.Minute) },
	})
	want := "drv: WithQueueSize(0): must be at least 1\n" +
		"drv: WithPeriod(0s): must be positive\n" +
		"drv: WithDebounce(-1s): must not be negative\n" +
		"drv: WithBackoff(2s, 1s): want 0 < first ≤ max"
	if err == nil || err.Error() != want || c.size != 4 || c.d != time.Minute {
		t.Errorf("Apply: %v (config %+v)\nwant %s", err, c, want)
	}
	if err := option.Apply[config, opt](&c, nil); err != nil {
		t.Errorf("no options: %v", err)
	}
	if err := option.Backoff("drv", &c.first, &c.max, time.Second, time.Second); err != nil || c.first != time.Second {
		t.Errorf("Backoff(1s, 1s): %v", err)
	}
	if got := option.Errorf("drv", "WithX(1)", "bad %d", 2).Error(); got != "drv: WithX(1): bad 2" {
		t.Errorf("Errorf: %q", got)
	}
}
