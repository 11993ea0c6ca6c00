package demo

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// indexChart is one chart the demo repository publishes.
type indexChart struct {
	name, home, source, appVersion string
	versions                       []indexVersion
}

type indexVersion struct {
	version string
	created time.Time
}

// chartpressHash is a stable short hash for a demo build number.
func chartpressHash(chart string, n int) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", chart, n)
	return fmt.Sprintf("%08x", h.Sum32())[:8]
}

// demoCharts are chartpress-style histories: dev builds after a tag sort
// before it (X-0.dev.git.N.hHASH), as JupyterHub's repository publishes.
func demoCharts(now time.Time) []indexChart {
	day := 24 * time.Hour
	var binder []indexVersion
	for n := 3400; n <= 3506; n += 2 {
		binder = append(binder, indexVersion{
			version: fmt.Sprintf("1.0.0-0.dev.git.%d.h%s", n, chartpressHash("binderhub", n)),
			created: now.Add(-time.Duration(3506-n) * 8 * time.Hour).Add(-3 * day),
		})
	}
	var hub []indexVersion
	for i, v := range []string{"3.0.0", "3.1.0", "3.2.1", "3.3.7", "3.3.8"} {
		hub = append(hub, indexVersion{version: v, created: now.Add(-time.Duration(5-i) * 40 * day)})
	}
	for n := 6800; n <= 6831; n += 7 {
		hub = append(hub, indexVersion{
			version: fmt.Sprintf("4.0.0-beta.4.git.%d.h%s", n, chartpressHash("jupyterhub", n)),
			created: now.Add(-time.Duration(6831-n) * 12 * time.Hour).Add(-1 * day),
		})
	}
	var nginx []indexVersion
	for i, v := range []string{"4.10.0", "4.10.1", "4.11.2", "4.11.3", "4.12.0"} {
		nginx = append(nginx, indexVersion{version: v, created: now.Add(-time.Duration(5-i) * 30 * day).Add(-2 * day)})
	}
	return []indexChart{
		{name: "binderhub", home: "https://binderhub.readthedocs.io", source: "https://github.com/jupyterhub/binderhub", appVersion: "", versions: binder},
		{name: "jupyterhub", home: "https://z2jh.jupyter.org", source: "https://github.com/jupyterhub/zero-to-jupyterhub-k8s", appVersion: "5.2.1", versions: hub},
		{name: "ingress-nginx", home: "https://github.com/kubernetes/ingress-nginx", source: "https://github.com/kubernetes/ingress-nginx", appVersion: "1.12.0", versions: nginx},
	}
}

// indexYAML renders a chart repository index.yaml for charts.
func indexYAML(baseURL string, charts []indexChart, generated time.Time) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	for _, c := range charts {
		fmt.Fprintf(&b, "  %s:\n", c.name)
		for i := len(c.versions) - 1; i >= 0; i-- { // newest first, as chartpress writes
			v := c.versions[i]
			fmt.Fprintf(&b, "  - apiVersion: v2\n")
			if c.appVersion != "" {
				fmt.Fprintf(&b, "    appVersion: %s\n", c.appVersion)
			}
			fmt.Fprintf(&b, "    created: \"%s\"\n", v.created.UTC().Format(time.RFC3339Nano))
			fmt.Fprintf(&b, "    description: The %s chart (demo)\n", c.name)
			h := fnv.New64a()
			fmt.Fprintf(h, "%s-%s", c.name, v.version)
			fmt.Fprintf(&b, "    digest: %016x%016x%016x%016x\n", h.Sum64(), h.Sum64()^1, h.Sum64()^2, h.Sum64()^3)
			fmt.Fprintf(&b, "    home: %s\n", c.home)
			fmt.Fprintf(&b, "    name: %s\n", c.name)
			fmt.Fprintf(&b, "    sources:\n    - %s\n", c.source)
			fmt.Fprintf(&b, "    urls:\n    - %s%s-%s.tgz\n", baseURL, c.name, v.version)
			fmt.Fprintf(&b, "    version: %s\n", v.version)
		}
	}
	fmt.Fprintf(&b, "generated: \"%s\"\n", generated.UTC().Format(time.RFC3339Nano))
	return []byte(b.String())
}
