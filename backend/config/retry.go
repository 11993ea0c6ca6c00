package config

import (
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/retry"
)

// Retry bounds how every registry, chart repository and GitHub call is
// retried (see package retry for the rules).
type Retry struct {
	// MaxAttempts is the most attempts one call makes, the first included
	// (default 5; 1 to 20).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxWait is the longest one call takes, its attempts and waits
	// included (default 2m; 1s to 1h). A stalled connection is given up
	// after 30s, or half of this when that is shorter.
	MaxWait Age `yaml:"max_wait"`
}

// Policy is the retry policy for the clients.
func (r Retry) Policy() retry.Policy {
	return retry.Policy{MaxAttempts: r.MaxAttempts, MaxWait: r.MaxWait.Duration}.WithDefaults()
}

func (r *Retry) validate(bad func(path, format string, args ...any)) {
	switch n := r.MaxAttempts; {
	case n == 0:
		r.MaxAttempts = retry.DefaultMaxAttempts
	case n < 1 || n > retry.MaxAttemptsLimit:
		bad("retry.max_attempts", "%d is out of range 1..%d (1: no retry)", n, retry.MaxAttemptsLimit)
	}
	switch w := r.MaxWait.Duration; {
	case w == 0:
		r.MaxWait.Duration = retry.DefaultMaxWait
	case w < retry.MinMaxWait || w > retry.MaxMaxWait:
		bad("retry.max_wait", "%s is out of range %s..%s", shortDuration(w), shortDuration(retry.MinMaxWait), shortDuration(retry.MaxMaxWait))
	}
}

// shortDuration writes 1h for 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
