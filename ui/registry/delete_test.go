package registry

import "testing"

// The policy plan's shortfall is what is held; a hand-picked selection's
// is what is not selected (ui's TestShortfallText shows it in the box).
func TestShortfallText(t *testing.T) {
	if got := shortfallText(1<<20, true); got != "still 1.00 MiB over the cap: the rest is held" {
		t.Errorf("policy: %q", got)
	}
	if got := shortfallText(1<<20, false); got != "still 1.00 MiB over the cap: the rest is not selected (a selects the policy plan)" {
		t.Errorf("hand-picked: %q", got)
	}
}
