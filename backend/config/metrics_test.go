package config

import (
	"strings"
	"testing"
)

func TestMetricsKeys(t *testing.T) {
	for _, tc := range []struct {
		name     string
		doc      string // after a registry at r.io
		want     Metrics
		instance string
		errWant  []string
	}{
		{name: "none", want: Metrics{Job: DefaultMetricsJob}, instance: "r.io"},
		{name: "all", doc: "metrics:\n  file: /var/lib/node_exporter/textfile_collector/helmupgradebot.prom\n  push: http://pushgateway.monitoring:9091\n  instance: hub23\n  job: bots\n",
			want: Metrics{File: "/var/lib/node_exporter/textfile_collector/helmupgradebot.prom", Push: "http://pushgateway.monitoring:9091", Instance: "hub23", Job: "bots"}, instance: "hub23"},
		{name: "https push", doc: "metrics: {push: \"https://pushgateway.example.org/\"}\n", want: Metrics{Push: "https://pushgateway.example.org/", Job: DefaultMetricsJob}, instance: "r.io"},
		{name: "not .prom", doc: "metrics:\n  file: /tmp/m.txt\n", errWant: []string{"line 4", "metrics.file", "*.prom"}},
		{name: "no scheme", doc: "metrics:\n  push: pushgateway:9091\n", errWant: []string{"line 4", "metrics.push", "http(s)"}},
		{name: "password", doc: "metrics:\n  push: http://bot:s3cret@pushgateway:9091\n", errWant: []string{"line 4", "metrics.push", "no user or password"}},
		{name: "query", doc: "metrics:\n  push: http://pushgateway:9091/?x=1\n", errWant: []string{"line 4", "metrics.push", "no query"}},
		{name: "job with a slash", doc: "metrics:\n  job: a/b\n", errWant: []string{"line 4", "metrics.job"}},
		{name: "unknown key", doc: "metrics:\n  pushgateway: http://p:9091\n", errWant: []string{"line 4", "metrics.pushgateway", "unknown key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("registry:\n  url: r.io\n" + tc.doc))
			if tc.errWant != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.errWant {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Metrics != tc.want {
				t.Errorf("metrics %+v, want %+v", c.Metrics, tc.want)
			}
			if got := c.InstanceName(); got != tc.instance {
				t.Errorf("instance %q, want %q", got, tc.instance)
			}
		})
	}
	c, err := Parse([]byte("github: {token: env:T}\ncharts:\n  - {repository: o/deploy, file: Chart.yaml}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.InstanceName(); got != "o/deploy" {
		t.Errorf("charts only: instance %q, want the chart file's repository", got)
	}
}
