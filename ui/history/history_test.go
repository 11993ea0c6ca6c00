package history

import (
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

func TestCapIn(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC) // the tests' fixed clock
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Hour, "cap within a day"},
		{0, "cap within a day"},
		{23 * time.Hour, "cap within a day"},
		{25 * time.Hour, "cap in ~1 day"},
		{23 * 24 * time.Hour, "cap in ~23 days"},
	} {
		if got := capIn(c.d); got != c.want {
			t.Errorf("capIn(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	f := model.Forecast{GrowthBytesPerWeek: 1 << 20, CapReachedAt: now.Add(5 * time.Hour)}
	if got := forecastText(f, true, "", now); !strings.Contains(got, "cap within a day (2026-03-14)") {
		t.Errorf("forecastText = %q", got)
	}
}
