package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// TestFailedScanSummary: when the headless scan fails, the text summary
// says so first, with the error, and has no plan line (no "would delete 0
// images, freeing 0 B"); a scan that succeeds still has it.
func TestFailedScanSummary(t *testing.T) {
	reg := registrytest.Serve(t)
	broken := registrytest.Serve(t, registrytest.WithHandler(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		})
	}))
	for _, tc := range []struct {
		name, host string
		code       int
		first      string // the summary's first line begins so
		plan       bool
	}{
		{"nothing listens", "127.0.0.1:1", headless.ExitFailure, "registry 127.0.0.1:1: scan failed: ", false},
		{"refused", broken.Host(), headless.ExitFailure, "registry " + broken.Host() + ": scan failed: ", false},
		{"scanned", reg.Host(), headless.ExitOK, "registry " + reg.Host() + ": 0 repositories", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runConfigHeadless(t, "registry:\n  url: "+tc.host+"\nretry: {max_attempts: 1}\n", nil)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, stderr)
			}
			if !strings.HasPrefix(out, tc.first) {
				t.Errorf("summary does not begin with %q:\n%s", tc.first, out)
			}
			if strings.Contains(out, "would delete") != tc.plan {
				t.Errorf("plan line shown: %v, want %v:\n%s", !tc.plan, tc.plan, out)
			}
			if !tc.plan && strings.Count(out, "scan failed") != 1 {
				t.Errorf("the scan's failure is not said once:\n%s", out)
			}
		})
	}
}
