// Package metricstest finds Prometheus' promtool for the tests that check
// the metrics and the alerting rules with it.
package metricstest

import (
	"os"
	"os/exec"
	"testing"
)

// Promtool is the path of promtool: $PROMTOOL, else promtool on the PATH
// (the Debian package prometheus has it). "" when there is none: the
// caller then makes the checks promtool would make with Go alone, and
// says so in the test's log.
func Promtool(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not found ($PROMTOOL, PATH): checking with Go alone (client_golang's parser, metrics.Lint, the rules' own checks)")
		return ""
	}
	return p
}
