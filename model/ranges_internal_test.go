package model

import (
	"testing"

	"github.com/Masterminds/semver/v3"
)

// TestParseRangeRoundTrip: every form helm reads is read and printed back
// byte for byte, and read as helm reads it (the same floor).
func TestParseRangeRoundTrip(t *testing.T) {
	tests := []struct {
		in    string
		exact bool
		alts  int
	}{
		{"1.2.3", true, 1},
		{"v1.2.3", true, 1},
		{"1.2.3-beta.1+build.5", true, 1},
		{"=1.2.3", false, 1},
		{"1.x", false, 1},
		{"1.2.X", false, 1},
		{"1.*", false, 1},
		{"*", false, 1},
		{"1", false, 1},
		{"^1.2.3", false, 1},
		{"~> 1.2", false, 1},
		{">=1.2.3 <2", false, 1},
		{">= 1.2.3,  < 2.0.0", false, 1},
		{"  >=1.2.3\t<2  ", false, 1},
		{"1.2 - 1.4.5", false, 1},
		{"^1.0.0 || ^2.0.0", false, 2},
		{"^1.0.0||^2.0.0||>=4 <5", false, 3},
		{"!=1.2.3 >=1", false, 1},
	}
	for _, tt := range tests {
		r, err := parseRange(tt.in)
		if err != nil {
			t.Errorf("parseRange(%q): %v", tt.in, err)
			continue
		}
		if got := r.String(); got != tt.in || r.exact() != tt.exact || len(r.alts) != tt.alts {
			t.Errorf("parseRange(%q) = %q, exact %v, %d alternatives", tt.in, got, r.exact(), len(r.alts))
		}
		if _, err := semver.NewConstraint(tt.in); err != nil {
			t.Errorf("helm does not read %q: %v", tt.in, err)
		}
	}
	for _, bad := range []string{"", "latest", "1.2.3.4", ">=", "1.2.3 -", "1 - 2 - 3", "^1.2 - 2", "1.2.3-", "||1.0.0"} {
		if r, err := parseRange(bad); err == nil {
			t.Errorf("parseRange(%q) = %q, want an error", bad, r)
		}
	}
}
