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

// TestWritePlannedLazily: a report whose plan's images are made as they
// are written (RegistryReport.planned) writes the same bytes as one
// holding them all, and counts them the same.
func TestWritePlannedLazily(t *testing.T) {
	for _, n := range []int{1, 3, 1200} {
		b := model.NewInventoryBuilder("hub.azurecr.io", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		for i := range n {
			im := model.Image{Repository: fmt.Sprint("binder/r", i%9), Digest: model.ParseDigest(fmt.Sprintf("sha256:%064x", i+1)),
				Tags: []string{fmt.Sprint("t", i)}, Created: time.Date(2025, 1, 1+i%300, 0, 0, 0, 0, time.UTC), Pushed: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}
			if err := b.AddImage(im, []model.Blob{{Digest: fmt.Sprint("sha256:l", i%40), Size: int64(i%40) << 20}, {Digest: fmt.Sprint("sha256:c", i), Size: 700}}); err != nil {
				t.Fatal(err)
			}
		}
		inv := b.Inventory()
		dels := make([]model.Deletion, n)
		for i := range dels {
			dels[i] = model.Deletion{Image: n - 1 - i, Reason: "age", Reclaim: int64(i) * 1000}
		}
		lazy := &RegistryReport{URL: "hub.azurecr.io", Plan: []ImageReport{}, Deleted: []ImageReport{}, planned: &plannedImages{inv: inv, dels: dels}}
		held := *lazy
		held.planned = nil
		for k := range dels {
			held.Plan = append(held.Plan, lazy.plannedAt(k))
		}
		if lazy.plannedCount() != n || held.plannedCount() != n {
			t.Fatalf("%d planned: counted %d and %d", n, lazy.plannedCount(), held.plannedCount())
		}
		if d := held.Plan[0]; d.Digest != inv.Images[n-1].Digest || d.Tags[0] != inv.Images[n-1].Tags[0] || d.SizeBytes != inv.ImageSize(n-1) {
			t.Fatalf("%d planned: the first is %+v", n, d)
		}
		var got, want, std bytes.Buffer
		if err := writeReport(&got, Report{Registry: lazy}); err != nil {
			t.Fatal(err)
		}
		if err := writeReport(&want, Report{Registry: &held}); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&std)
		enc.SetIndent("", "  ")
		if err := enc.Encode(Report{Registry: &held}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) || !bytes.Equal(want.Bytes(), std.Bytes()) {
			t.Errorf("%d planned: the plan made as written differs (%d bytes, %d held, %d encoded)", n, got.Len(), want.Len(), std.Len())
		}
	}
}
