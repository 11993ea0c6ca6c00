package registry

import (
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// TestRegistryTimes: the info line shows an image's push time and build
// time where it knows both and they differ, and nothing more where it
// knows one.
func TestRegistryTimes(t *testing.T) {
	inv := uitest.GenInventory(8, 3, uitest.FixedNow)
	day := func(s string) time.Time {
		t.Helper()
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name string
		set  func(im *model.Image)
		want string // "" : no times on the info line
	}{
		{"age is the push time", func(im *model.Image) { im.Created, im.Pushed = day("2025-05-01"), day("2025-05-01") }, ""},
		{"age is the build time", func(im *model.Image) { im.Created, im.Pushed = day("2025-04-20"), day("2025-05-01") }, "pushed 2025-05-01, built 2025-04-20"},
		{"a 1970 build", func(im *model.Image) {
			im.Created, im.CreatedProblem, im.Pushed = time.Unix(1, 0).UTC(), model.CreatedBogus, day("2025-05-01")
		}, "pushed 2025-05-01, built 1970-01-01"},
		{"no build time", func(im *model.Image) {
			im.Created, im.CreatedProblem, im.Pushed = time.Time{}, model.CreatedMissing, day("2025-05-01")
		}, "pushed 2025-05-01, build time unknown"},
		{"an earlier version's config time", func(im *model.Image) {
			im.Created, im.ConfigCreated = day("2025-05-01"), time.Unix(1, 0).UTC()
		}, "pushed 2025-05-01, config says 1970-01-01"},
		{"no push time (distribution)", func(im *model.Image) { im.Created = day("2025-04-20") }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := *inv
			inv.Images = append([]model.Image(nil), inv.Images...)
			im := &inv.Images[0]
			im.Created, im.CreatedProblem, im.Pushed, im.ConfigCreated = time.Time{}, model.CreatedOK, time.Time{}, time.Time{}
			tc.set(im)
			d := newConsole(t, uitest.NewRegistry(&inv, model.Policy{}), 240, 40)
			d.Settle()
			d.m.Cursor = d.m.idx.position(0)
			d.m.scroll()
			info := uitest.Line(d.Screen(), "sort: ")
			if tc.want == "" {
				uitest.MustNotContain(t, info, "pushed ", "built ", "config says")
				return
			}
			uitest.MustContain(t, info, tc.want)
		})
	}
}
