package docs

import (
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
)

// TestMetricsReference: docs/metrics.md's metric table (first header cell
// "metric") names every metric the program emits, and nothing else.
func TestMetricsReference(t *testing.T) {
	var want []string
	for name := range metrics.Help {
		want = append(want, metrics.FullName(name))
	}
	compare(t, "metrics.md", "metric", want, tableKeys(t, "metrics.md", "metric"))
}
