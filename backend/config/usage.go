package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/backend/redact"
)

// UsageSource is one entry of registry.policy.usage: exactly one of
//
//   - events: /var/log/binderhub/events-*.jsonl         # a file or a glob
//   - events: https://archive.example.org/events-{date}.jsonl  # a file per day
//     allow_empty: true                                # optional, events only
//   - kubernetes: {namespace: binderhub, selector: component=singleuser-server}
type UsageSource struct {
	// Events is a file glob of BinderHub event logs (JSON lines, gzipped
	// or not), or an http(s) URL with {date} (YYYY-MM-DD), fetched for each
	// day of keep_launched_within.
	Events string `yaml:"events"`
	// AllowEmpty trusts an events source that holds no launch event in
	// the window as "nobody launched anything". Without it such a source
	// (an emptied, rotated or stale log) makes the usage unknown, and
	// nothing is deleted. Events sources only.
	AllowEmpty bool `yaml:"allow_empty"`
	// Kubernetes reads the images of the running pods of a namespace.
	Kubernetes *KubernetesSource `yaml:"kubernetes"`
}

// KubernetesSource selects running pods whose images are in use.
type KubernetesSource struct {
	// Namespace; empty: the in-cluster pod's own, or the kubeconfig
	// context's, else default.
	Namespace string `yaml:"namespace"`
	// Selector is a label selector; empty: component=singleuser-server.
	Selector string `yaml:"selector"`
	// Kubeconfig is a kubeconfig file; empty: the in-cluster service
	// account in a pod, else $KUBECONFIG or ~/.kube/config.
	Kubeconfig string `yaml:"kubeconfig"`
	// Context is the kubeconfig's context; empty: its current-context.
	Context string `yaml:"context"`
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// validateUsage checks keep_launched_within and the usage sources.
func (p *Policy) validateUsage(bad func(path, format string, args ...any)) {
	const at = "registry.policy.usage"
	events := false
	for i := range p.Usage {
		u := &p.Usage[i]
		key := fmt.Sprintf("%s[%d]", at, i)
		switch {
		case u.Events != "" && u.Kubernetes != nil:
			bad(key, "give events or kubernetes, not both, in one entry")
		case u.Events == "" && u.Kubernetes == nil:
			bad(key, "give events: (a file glob or an https URL with {date}) or kubernetes: {namespace, selector}")
		case u.Events != "":
			events = true
			validateEvents(u.Events, key+".events", bad)
		default:
			if u.AllowEmpty {
				bad(key+".allow_empty", "applies to events sources only: a namespace without running pods is read as such")
			}
			k := u.Kubernetes
			if k.Namespace != "" && !dnsLabel.MatchString(k.Namespace) {
				bad(key+".kubernetes.namespace", "%q is not a Kubernetes namespace name", k.Namespace)
			}
			if strings.ContainsAny(k.Selector, "\n\r") {
				bad(key+".kubernetes.selector", "a label selector is one line, such as component=singleuser-server")
			}
		}
	}
	switch w := p.KeepLaunchedWithin.Duration; {
	case w < 0:
		bad("registry.policy.keep_launched_within", "is negative")
	case w == 0 && events:
		bad(at, "events are read, but registry.policy.keep_launched_within is not set: give the window (e.g. 30d) whose launches hold their images")
	case w > 0 && !events:
		bad("registry.policy.keep_launched_within", "needs an events source under registry.policy.usage to read launches from")
	}
}

// validateEvents checks an events source. A URL may be authorised by its
// query string (a SAS sig=, a signed S3 or GCS URL): the messages show it
// redacted.
func validateEvents(src, key string, bad func(path, format string, args ...any)) {
	shown := redact.URL(src)
	if !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "http://") {
		if strings.Contains(src, "://") {
			bad(key, "%q: give a file path or glob, or an http(s) URL", shown)
		} else if _, err := filepath.Match(src, ""); err != nil {
			bad(key, "%q is not a valid glob: %v", shown, err)
		}
		return
	}
	if !strings.Contains(src, "{date}") {
		bad(key, "an events URL names one file per day: put {date} (YYYY-MM-DD) where the day goes, e.g. https://archive.analytics.mybinder.org/events-{date}.jsonl")
		return
	}
	u, err := url.Parse(strings.ReplaceAll(src, "{date}", "2006-01-02"))
	if err != nil || u.Host == "" {
		bad(key, "%q is not a URL", shown)
		return
	}
	if u.Scheme == "http" {
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad(key, "plain http is allowed for loopback hosts only; use https")
		}
	}
}
