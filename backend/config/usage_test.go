package config

import (
	"strings"
	"testing"
	"time"
)

func TestUsageSources(t *testing.T) {
	c, err := Parse([]byte(`registry:
  url: r.example
  policy:
    keep_launched_within: 30d
    usage:
      - events: /var/log/binderhub/events-*.jsonl
      - events: https://archive.analytics.mybinder.org/events-{date}.jsonl
      - kubernetes: {namespace: binderhub, selector: component=singleuser-server}
      - kubernetes: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Registry.Policy
	if p.KeepLaunchedWithin.Duration != 30*24*time.Hour || len(p.Usage) != 4 || p.Usage[1].Events == "" ||
		p.Usage[2].Kubernetes == nil || p.Usage[2].Kubernetes.Namespace != "binderhub" || p.Usage[3].Kubernetes == nil {
		t.Errorf("%+v", p)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"usage:\n      - events: /x/*.jsonl", "line 4: registry.policy.usage: events are read, but registry.policy.keep_launched_within is not set"},
		{"keep_launched_within: 30d", "needs an events source"},
		{"keep_launched_within: 30d\n    usage:\n      - kubernetes: {namespace: hub}", "needs an events source"},
		{"keep_launched_within: 1d\n    usage:\n      - events: https://a.example/events.jsonl", "usage[0].events: an events URL names one file per day"},
		{"keep_launched_within: 1d\n    usage:\n      - events: http://a.example/events-{date}.jsonl", "plain http is allowed for loopback hosts only"},
		{"keep_launched_within: 1d\n    usage:\n      - events: /x/[.jsonl", "not a valid glob"},
		{"keep_launched_within: 1d\n    usage:\n      - {}", "usage[0]: give events"},
		{"keep_launched_within: 1d\n    usage:\n      - events: /x\n        kubernetes: {}", "not both"},
		{"keep_launched_within: 1d\n    usage:\n      - events: /x\n      - kubernetes: {namespace: Bad_NS}", "not a Kubernetes namespace"},
		{"keep_launched_within: 1d\n    usage:\n      - events: /x\n      - kubernetes: {namspace: x}", "registry.policy.usage[1].kubernetes.namspace: unknown key; did you mean namespace?"},
		{"keep_launched_within: -1d", "negative"},
	} {
		_, err := Parse([]byte("registry:\n  url: r.example\n  policy:\n    " + tc.doc + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.doc, err, tc.want)
		}
	}
	if _, err := Parse([]byte("registry:\n  url: r.example\n  policy:\n    keep_launched_within: 7d\n    usage:\n      - events: http://127.0.0.1:8080/events-{date}.jsonl\n")); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

// TestAllowEmptyIsForEventsSources: allow_empty trusts an events source
// without launches in the window; it means nothing on a kubernetes source
// and is refused there.
func TestAllowEmptyIsForEventsSources(t *testing.T) {
	for _, tc := range []struct {
		entries string
		allow   []bool // each entry's AllowEmpty, when it parses
		err     string
	}{
		{"- events: /x/*.jsonl\n        allow_empty: true\n      - events: /y/*.jsonl", []bool{true, false}, ""},
		{"- events: /x/*.jsonl\n        allow_empty: false", []bool{false}, ""},
		{"- events: /x/*.jsonl\n      - kubernetes: {namespace: hub}\n        allow_empty: true", nil, "usage[1].allow_empty: applies to events sources only"},
		{"- events: /x/*.jsonl\n        allow_empty: maybe", nil, "allow_empty"},
	} {
		c, err := Parse([]byte("registry:\n  url: r.example\n  policy:\n    keep_launched_within: 30d\n    usage:\n      " + tc.entries + "\n"))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.entries, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.entries, err)
		default:
			for i, want := range tc.allow {
				if got := c.Registry.Policy.Usage[i].AllowEmpty; got != want {
					t.Errorf("%q: entry %d allow_empty %v, want %v", tc.entries, i, got, want)
				}
			}
		}
	}
}

// TestEventsURLErrorsHideSignatures: a configuration error about an events
// URL (which --check-config shows too) names it without its signature or
// password.
func TestEventsURLErrorsHideSignatures(t *testing.T) {
	const secret = "c2lnbmF0dXJl"
	for _, tc := range []struct{ events, want string }{
		{"https:///events-{date}.jsonl?sv=1&sig=" + secret, `"https:///events-{date}.jsonl?sv=1&sig=REDACTED" is not a URL`},
		{"s3://bucket/events-{date}.jsonl?X-Amz-Credential=" + secret + "&X-Amz-Signature=" + secret,
			`"s3://bucket/events-{date}.jsonl?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED": give a file path or glob`},
		{"gs://u:" + secret + "@bucket/events.jsonl", `"gs://u:REDACTED@bucket/events.jsonl": give a file path`},
	} {
		_, err := Parse([]byte("registry:\n  url: r.example\n  policy:\n    keep_launched_within: 30d\n    usage:\n      - events: " + tc.events + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: %v, want %q", tc.events, err, tc.want)
		}
	}
}
