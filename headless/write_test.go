package headless

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestWriteReport: the report written an image at a time is byte for byte
// what json.Encoder writes, for empty, short and long lists, with charts
// beside them and strings JSON must escape.
func TestWriteReport(t *testing.T) {
	images := func(n int) []ImageReport {
		out := make([]ImageReport, n)
		for i := range out {
			out[i] = ImageReport{Repository: fmt.Sprintf("binder/<r2d>&%d", i), Digest: model.ParseDigest(fmt.Sprintf("sha256:%064x", i)), Tags: []string{"v\"1\""}, SizeBytes: int64(i) << 20, Reason: "age"}
		}
		return out
	}
	base := func(plan, deleted int) Report {
		return Report{
			Registry: &RegistryReport{URL: "hub.azurecr.io", Flavor: "acr", ScannedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
				Plan: images(plan), Deleted: images(deleted), Failed: []FailedReport{}, Errors: []ErrorReport{{Error: "plan: []"}},
				Held: map[string]int{"locked": 1}, SkippedRepositories: []SkippedRepository{}, Skipped: []SkippedReport{}, Recovered: []RecoveredReport{}},
			Charts: []ChartReport{{}},
		}
	}
	tests := []struct {
		name string
		rep  Report
	}{
		{"no registry", Report{Charts: []ChartReport{{}}}},
		{"nothing planned", base(0, 0)},
		{"one planned", base(1, 0)},
		{"planned and deleted", base(3, 2)},
		{"only deleted", base(0, 4)},
		{"many", base(2500, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(tc.rep); err != nil {
				t.Fatal(err)
			}
			if err := writeReport(&got, tc.rep); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				i := 0
				for i < min(got.Len(), want.Len()) && got.Bytes()[i] == want.Bytes()[i] {
					i++
				}
				t.Errorf("differs at byte %d of %d:\n got …%s\nwant …%s", i, want.Len(), got.Bytes()[max(0, i-80):min(got.Len(), i+80)], want.Bytes()[max(0, i-80):min(want.Len(), i+80)])
			}
			if tc.rep.Registry != nil && len(tc.rep.Registry.Plan) != 0 && tc.rep.Registry.Plan[0].Repository == "" {
				t.Error("writeReport changed the report")
			}
		})
	}
}
