package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestDemoReleaseNotes: the demo's ingress-nginx pull request carries the
// notes of the release it bumps to, from the GitHub stand-in.
func TestDemoReleaseNotes(t *testing.T) {
	ctx := context.Background()
	env, err := Start(ctx, WithNow(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for _, r := range env.Charts.Check(ctx) {
		if r.Dependency != "ingress-nginx" {
			continue
		}
		if r.Notes == nil || len(r.Notes.Versions) != 1 {
			t.Fatalf("ingress-nginx notes: %+v", r.Notes)
		}
		p, err := env.Charts.Preview([]model.DependencyStatus{r})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<summary>ingress-nginx 4.11.3 → 4.12.0 (GitHub releases of kubernetes/ingress-nginx)</summary>",
			"by @&#8203;a-contributor in [kubernetes/ingress-nginx#12345](https://redirect.github.com/kubernetes/ingress-nginx/issues/12345)",
			"All changes: https://github.com/kubernetes/ingress-nginx/compare/ingress-nginx-4.11.3...ingress-nginx-4.12.0"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the PR body lacks %q:\n%s", want, p.Body)
			}
		}
		return
	}
	t.Fatal("no ingress-nginx row")
}
