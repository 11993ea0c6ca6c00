package demo

import (
	"fmt"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// seedReleases publishes, in the GitHub stand-in, releases of the source
// repository of the demo's ingress-nginx chart, tagged as helm's
// chart-releaser tags them: the pull request for 4.11.3 → 4.12.0 then
// carries their notes.
func seedReleases(gh *githubtest.Server, now time.Time) error {
	const owner, repo = "kubernetes", "ingress-nginx"
	gh.AddRepository(owner, repo, "main", map[string]string{"README.md": "# ingress-nginx\n"})
	day := 24 * time.Hour
	for i, r := range []githubtest.Release{
		{Tag: "ingress-nginx-4.11.3", Body: "- Update the controller image to v1.11.3."},
		{Tag: "ingress-nginx-4.12.0", Name: "ingress-nginx 4.12.0",
			Body: "## Changes\n\n- Update the controller image to v1.12.0.\n- Add `controller.metrics.serviceMonitor.annotations` by @a-contributor in #12345\n" +
				"- Drop support for Kubernetes 1.26.\n\n**Full changelog**: https://github.com/kubernetes/ingress-nginx/compare/helm-chart-4.11.3...helm-chart-4.12.0"},
	} {
		r.Created = now.Add(-time.Duration(2-i) * 30 * day).Add(-2 * day)
		r.Published = r.Created
		if _, err := gh.AddRelease(owner, repo, r); err != nil {
			return fmt.Errorf("demo: seed releases of %s/%s: %w", owner, repo, err)
		}
	}
	return nil
}
