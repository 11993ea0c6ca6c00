package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Metrics says where each headless run's Prometheus metrics go (the
// --metrics-file and --metrics-push flags take precedence).
type Metrics struct {
	// File is written after each run for node_exporter's textfile
	// collector (a *.prom file).
	File string `yaml:"file"`
	// Push is a Pushgateway's URL; each run replaces its group there.
	Push string `yaml:"push"`
	// Instance names this configuration in the Pushgateway group; default
	// the registry's host, else the first chart file's repository.
	Instance string `yaml:"instance"`
	// Job is the Pushgateway job; default helmupgradebot.
	Job string `yaml:"job"`
}

// DefaultMetricsJob is metrics.job's default.
const DefaultMetricsJob = "helmupgradebot"

// InstanceName is the name the metrics carry for this configuration:
// metrics.instance, else the registry's host, else the first chart file's
// repository.
func (c *Config) InstanceName() string {
	switch {
	case c.Metrics.Instance != "":
		return c.Metrics.Instance
	case c.Registry.URL != "":
		return c.Registry.URL
	case len(c.Charts) > 0:
		return c.Charts[0].Repository
	}
	return ""
}

// validate checks the metrics keys and fills in the job.
func (m *Metrics) validate(bad func(path, format string, args ...any)) {
	if m.Job == "" {
		m.Job = DefaultMetricsJob
	}
	if m.File != "" && filepath.Ext(m.File) != ".prom" {
		bad("metrics.file", "%q: node_exporter's textfile collector reads only *.prom files", m.File)
	}
	if err := CheckPushURL(m.Push); err != nil {
		bad("metrics.push", "%v", err)
	}
	if strings.ContainsAny(m.Job, "/") || strings.TrimSpace(m.Job) != m.Job {
		bad("metrics.job", "%q: a name without slashes or surrounding spaces", m.Job)
	}
	if strings.TrimSpace(m.Instance) != m.Instance {
		bad("metrics.instance", "%q has surrounding spaces", m.Instance)
	}
}

// CheckPushURL checks a Pushgateway URL ("" is none): http or https, a
// host, no user or password (they would be written in the file or the
// command line), no query.
func CheckPushURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q: want the Pushgateway's http(s) URL, such as http://pushgateway.monitoring:9091", redactURL(raw))
	case u.User != nil:
		return fmt.Errorf("%s: no user or password in the URL", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%s: no query or fragment; the group's path is added to the URL", u.Redacted())
	}
	return nil
}

func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(an unreadable URL)"
}
