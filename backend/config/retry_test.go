package config

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/retry"
)

func TestRetryKeys(t *testing.T) {
	tests := []struct {
		name     string
		retry    string // the retry section, "" for none
		attempts int
		wait     time.Duration
		errWant  []string
	}{
		{name: "defaults", attempts: retry.DefaultMaxAttempts, wait: retry.DefaultMaxWait},
		{name: "both", retry: "retry:\n  max_attempts: 8\n  max_wait: 30s\n", attempts: 8, wait: 30 * time.Second},
		{name: "one attempt: no retry", retry: "retry:\n  max_attempts: 1\n", attempts: 1, wait: retry.DefaultMaxWait},
		{name: "wait in minutes", retry: "retry: {max_wait: 10m}\n", attempts: retry.DefaultMaxAttempts, wait: 10 * time.Minute},
		{name: "wait of an hour", retry: "retry: {max_wait: 1h}\n", attempts: retry.DefaultMaxAttempts, wait: time.Hour},
		{name: "attempts negative", retry: "retry:\n  max_attempts: -1\n", errWant: []string{"line 4", "retry.max_attempts", "-1", "1..20"}},
		{name: "attempts too many", retry: "retry:\n  max_attempts: 21\n", errWant: []string{"line 4", "retry.max_attempts", "21"}},
		{name: "attempts not a number", retry: "retry:\n  max_attempts: many\n", errWant: []string{"line 4", "retry.max_attempts"}},
		{name: "wait negative", retry: "retry:\n  max_wait: -5s\n", errWant: []string{"line 4", "retry.max_wait"}},
		{name: "wait too short", retry: "retry:\n  max_wait: 100ms\n", errWant: []string{"line 4", "retry.max_wait", "1s..1h"}},
		{name: "wait too long", retry: "retry:\n  max_wait: 2d\n", errWant: []string{"line 4", "retry.max_wait", "1s..1h"}},
		{name: "wait not a duration", retry: "retry:\n  max_wait: soon\n", errWant: []string{"line 4", "retry.max_wait"}},
		{name: "unknown key", retry: "retry:\n  backoff: 3\n", errWant: []string{"line 4", "backoff"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("registry:\n  url: r.io\n" + tc.retry))
			if tc.errWant != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.errWant {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := c.Retry.Policy()
			if p.MaxAttempts != tc.attempts || p.MaxWait != tc.wait {
				t.Errorf("policy %+v, want %d attempts within %s", p, tc.attempts, tc.wait)
			}
			if p.StallTimeout <= 0 || p.StallTimeout > p.MaxWait {
				t.Errorf("stall timeout %s", p.StallTimeout)
			}
		})
	}
}

var lineNumber = regexp.MustCompile(`line (\d+)`)

// FuzzParse: the decoder never panics; what it accepts has every value in
// range and defaults filled in; what it refuses names lines that exist.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		full,
		"registry:\n  url: r.io\nretry:\n  max_attempts: 8\n  max_wait: 30s\n",
		"registry:\n  url: r.io\nretry: {max_attempts: 0, max_wait: 1h}\n",
		"registry:\n  url: r.io\nretry:\n  max_wait: -1s\n",
		"registry:\n  url: myhub.azurecr.io\n  policy:\n    untagged_max_age: 7d\n",
		"registry:\n  url: r.io\n  policy: {max_age: 1.5w, cap: 1.5 GB, keep_latest: 2, max_delete_fraction: .nan}\n",
		"github:\n  app_id: 1\n  installation_id: 2\n  private_key: file:/k.pem\ncharts:\n  - {repository: a/b, file: C.yaml}\n",
		"registry: &r\n  url: r.io\nother: *r\n",
		"registry:\n  url: r.io\n  <<: {insecure: true}\n",
		"",
		"registry: [\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			// YAML breaks lines at \n, \r and (yaml.v3) NEL, LS and PS.
			lines := 2
			for _, sep := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
				lines += strings.Count(string(doc), sep)
			}
			for _, m := range lineNumber.FindAllStringSubmatch(err.Error(), -1) {
				if n, _ := strconv.Atoi(m[1]); n > lines {
					t.Errorf("error names line %d of a %d-line document: %v", n, lines, err)
				}
			}
			return
		}
		p := c.Retry.Policy()
		if p.MaxAttempts < 1 || p.MaxAttempts > retry.MaxAttemptsLimit || p.MaxWait < retry.MinMaxWait || p.MaxWait > retry.MaxMaxWait {
			t.Errorf("accepted retry %+v", c.Retry)
		}
		r := c.Registry
		if r.URL != "" {
			if r.Concurrency < 1 || r.Concurrency > 64 {
				t.Errorf("accepted concurrency %d", r.Concurrency)
			}
			if r.Flavor != FlavorACR && r.Flavor != FlavorDistribution {
				t.Errorf("accepted flavor %q", r.Flavor)
			}
		}
		if f := r.Policy.MaxDeleteFraction; f == nil || !(*f >= 0 && *f <= 1) {
			t.Errorf("accepted max_delete_fraction %v", f)
		}
		if r.Policy.MaxAge.Duration < 0 || r.Policy.UntaggedMaxAge.Duration < 0 || r.Policy.Cap.Bytes < 0 || r.Policy.KeepLatest < 0 {
			t.Errorf("accepted a negative policy value: %+v", r.Policy)
		}
		if !strings.HasSuffix(c.GitHub.APIURL, "/") || (c.GitHub.Mode != ModeBranch && c.GitHub.Mode != ModeFork) {
			t.Errorf("accepted github %+v", c.GitHub)
		}
		if r.URL == "" && len(c.Charts) == 0 {
			t.Error("accepted a configuration with nothing to do")
		}
	})
}
