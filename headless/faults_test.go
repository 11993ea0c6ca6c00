package headless

import (
	"slices"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
)

// quickRetry gives up a stall after 300ms (the proxies stall for 1s) and
// waits milliseconds between attempts.
var quickRetry = retry.Policy{MaxAttempts: 8, MaxWait: 20 * time.Second, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, StallTimeout: 300 * time.Millisecond}

// TestDemoThroughFaults: the demo's dry run with every service (the ACR
// stand-in, the chart repositories, GitHub) behind a proxy faulting 10% of
// requests reports what a clean run reports: the same plan, sizes and
// chart rows.
func TestDemoThroughFaults(t *testing.T) {
	_, clean, code := runJSON(t, startDemo(t), false)
	if code != ExitOK {
		t.Fatalf("clean run exit %d", code)
	}
	env := startDemo(t, demo.WithFaults(faulttest.Options{Seed: 3, Rate: 0.10, Stall: time.Second, Slow: 50 * time.Millisecond}), demo.WithRetry(quickRetry))
	_, faulty, code := runJSON(t, env, false)
	if code != ExitOK {
		t.Errorf("run through faults exit %d: errors %+v", code, faulty.Registry.Errors)
	}
	n := 0
	for _, p := range env.Faults.All() {
		n += len(p.Injected())
	}
	if n < 10 {
		t.Errorf("only %d faults injected", n)
	}
	a, b := clean.Registry, faulty.Registry
	if len(a.Plan) == 0 || a.TotalBytes != b.TotalBytes || a.ReclaimBytes != b.ReclaimBytes || a.Images != b.Images || len(b.Errors) != 0 {
		t.Errorf("registry: %d images, %d bytes, reclaim %d; through faults %d, %d, %d, errors %+v", a.Images, a.TotalBytes, a.ReclaimBytes, b.Images, b.TotalBytes, b.ReclaimBytes, b.Errors)
	}
	digests := func(r *RegistryReport) []string {
		var out []string
		for _, p := range r.Plan {
			out = append(out, p.Repository+"@"+p.Digest.String()+" "+p.Reason)
		}
		return out
	}
	if !slices.Equal(digests(a), digests(b)) {
		t.Errorf("plans differ:\n%v\n%v", digests(a), digests(b))
	}
	rows := func(rs []ChartReport) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Dependency+" "+r.Current+" "+r.Latest+" "+r.Status+" "+r.Error)
		}
		return out
	}
	if len(clean.Charts) == 0 || !slices.Equal(rows(clean.Charts), rows(faulty.Charts)) {
		t.Errorf("chart rows differ:\n%v\n%v", rows(clean.Charts), rows(faulty.Charts))
	}
}

// TestFaultedRepositoryExit3: every request of one repository fails; the
// report names it, the other repositories are cleaned, and the apply exits
// 3.
func TestFaultedRepositoryExit3(t *testing.T) {
	repo, _ := firstPlannedTagged(t)
	p := quickRetry
	p.MaxAttempts = 3
	env := startDemo(t, noCharts(), demo.WithFaults(faulttest.Options{Stall: time.Second}), demo.WithRetry(p))
	if err := env.Faults.Registry.Set(0, faulttest.Rule{Path: faulttest.RepositoryPath(repo), Rate: 1, Kinds: faulttest.Transient}); err != nil {
		t.Fatal(err)
	}
	_, r := applySkipping(t, env, repo)
	named := false
	for _, e := range r.Errors {
		named = named || e.Repository == repo
		if e.Repository != repo && !e.Warning {
			t.Errorf("an error outside %s: %+v", repo, e)
		}
	}
	if !named {
		t.Errorf("no error names %s: %+v", repo, r.Errors)
	}
	if r.SkippedRepositories[0].Reason == "" {
		t.Errorf("skipped without a reason: %+v", r.SkippedRepositories[0])
	}
}
