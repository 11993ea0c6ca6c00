package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// DefaultJob is the Pushgateway job when none is configured.
const DefaultJob = "helmupgradebot"

// WriteFile writes g's metrics to path in the text format, atomically (a
// temporary file beside it, renamed over it), for node_exporter's textfile
// collector, which reads the *.prom files of its directory.
func WriteFile(path string, g prometheus.Gatherer) error {
	if filepath.Ext(path) != ".prom" {
		return fmt.Errorf("metrics file %s: node_exporter's textfile collector reads only *.prom files", path)
	}
	if err := prometheus.WriteToTextfile(path, g); err != nil {
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	return nil
}

// Group is where a Pushgateway keeps a run's metrics: the job and the
// grouping labels. A push replaces the whole group.
type Group struct {
	Job string
	// Labels are the grouping labels, in the URL's order.
	Labels []Label
}

// Label is a label's name and value.
type Label struct{ Name, Value string }

// Push sends g's metrics to the Pushgateway at gateway (its base URL:
// http://pushgateway:9091) with PUT, replacing the group's metrics, over
// client (nil: http.DefaultClient).
func Push(ctx context.Context, gateway string, group Group, g prometheus.Gatherer, client *http.Client) error {
	u, err := url.Parse(gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("metrics push %q: want the Pushgateway's http(s) URL, such as http://pushgateway:9091", redact(gateway))
	}
	if group.Job == "" {
		return fmt.Errorf("metrics push %s: no job", u.Redacted())
	}
	p := push.New(strings.TrimSuffix(gateway, "/"), group.Job).Gatherer(g)
	for _, l := range group.Labels {
		p = p.Grouping(l.Name, l.Value)
	}
	if client != nil {
		p = p.Client(client)
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s (job %s%s): %s", u.Redacted(), group.Job, groupText(group.Labels), redactIn(err.Error(), u))
	}
	return nil
}

func groupText(ls []Label) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, ", %s %s", l.Name, l.Value)
	}
	return b.String()
}

// redact hides a URL's password in text that may hold it.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unreadable URL)"
}

// redactIn replaces u's password, if any, in s.
func redactIn(s string, u *url.URL) string {
	if pw, ok := u.User.Password(); ok && pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
		s = strings.ReplaceAll(s, url.QueryEscape(pw), "xxxxx")
	}
	return s
}

// ErrNoTarget: neither a file nor a Pushgateway was given.
var ErrNoTarget = errors.New("no metrics file or Pushgateway")

// Targets are where a run's metrics go; each part may be empty.
type Targets struct {
	// File is the textfile collector's file (--metrics-file).
	File string
	// Push is the Pushgateway's URL (--metrics-push), Group the group.
	Push  string
	Group Group
}

// Write builds run's metrics and writes them to every target: the file
// carries the grouping labels other than job as labels of its own (a
// Pushgateway adds them). Both are tried; the errors are joined.
func (t Targets) Write(ctx context.Context, run Run, client *http.Client) error {
	if t.File == "" && t.Push == "" {
		return ErrNoTarget
	}
	var errs []error
	if t.File != "" {
		labels := prometheus.Labels{}
		for _, l := range t.Group.Labels {
			if l.Name != "instance" { // the node_exporter's target is the instance
				labels[l.Name] = l.Value
			}
		}
		errs = append(errs, WriteFile(t.File, Build(run, labels)))
	}
	if t.Push != "" {
		errs = append(errs, Push(ctx, t.Push, t.Group, Build(run, nil), client))
	}
	return errors.Join(errs...)
}
