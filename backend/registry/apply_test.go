package registry

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// checkAfter rescans and checks that exactly the plan's images are gone
// (and, for indexes, their platform manifests), everything else intact.
func checkAfter(t *testing.T, c *Client, before *model.Inventory, gone []int) {
	t.Helper()
	after := scan(t, c)
	now := map[string]*model.Image{}
	for i := range after.Images {
		now[after.Images[i].Ref()] = &after.Images[i]
	}
	for i := range before.Images {
		im := &before.Images[i]
		got := now[im.Ref()]
		if slices.Contains(gone, i) {
			if got != nil {
				t.Errorf("%s still there after its deletion", im.Ref())
			}
			for _, ch := range im.Children {
				if _, err := remote.Head(mustRepo(t, c, im.Repository).Digest(ch.String())); err == nil {
					t.Errorf("platform manifest %s@%s still there", im.Repository, ch)
				}
			}
			continue
		}
		if got == nil {
			t.Errorf("%s (tags %v) was not to be deleted but is gone", im.Ref(), im.Tags)
		} else if !slices.Equal(got.Tags, im.Tags) {
			t.Errorf("%s: tags %v, were %v", im.Ref(), got.Tags, im.Tags)
		}
	}
	if len(after.Images) != len(before.Images)-len(gone) {
		t.Errorf("%d images after, want %d", len(after.Images), len(before.Images)-len(gone))
	}
}

func mustRepo(t *testing.T, c *Client, repo string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(c.Host() + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func planImages(p model.Plan) []int {
	var out []int
	for _, d := range p.Deletions {
		out = append(out, d.Image)
	}
	return out
}

// manualPicks: two binder images (one of them with two tags when there is
// one), the 1970 image and the multi-platform index.
func manualPicks(t *testing.T, inv *model.Inventory) []int {
	t.Helper()
	binder := findImage(inv, func(im *model.Image) bool {
		return strings.HasPrefix(im.Repository, "binder-") && len(im.Children) == 0
	})
	slices.SortStableFunc(binder, func(a, b int) int { return len(inv.Images[b].Tags) - len(inv.Images[a].Tags) })
	epoch := findImage(inv, func(im *model.Image) bool { return im.CreatedProblem == model.CreatedBogus })
	index := findImage(inv, func(im *model.Image) bool { return len(im.Children) > 0 })
	if len(binder) < 2 || len(epoch) != 1 || len(index) != 1 {
		t.Fatalf("population lacks picks: binder %v epoch %v index %v", binder, epoch, index)
	}
	return []int{binder[0], binder[len(binder)-1], epoch[0], index[0]}
}

// hubPolicy deletes every jupyterhub/k8s-hub image, the multi-platform
// index among them: all else is protected.
func hubPolicy() model.Policy {
	return model.Policy{MaxAge: time.Hour, Protect: []*regexp.Regexp{regexp.MustCompile(`^(binder-|base$)`)}}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T, inv *model.Inventory) model.Request
	}{
		{"manual picks", func(t *testing.T, inv *model.Inventory) model.Request {
			return model.Request{Now: testNow, Manual: manualPicks(t, inv)}
		}},
		{"policy with the index", func(t *testing.T, inv *model.Inventory) model.Request {
			return model.Request{Now: testNow, Policy: hubPolicy()}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := registrytest.ServeSeeded(t, population())
			c := newClient(t, reg.Host())
			inv := scan(t, c)
			plan := model.MakePlan(inv, tt.req(t, inv))
			if len(plan.Deletions) < 2 || plan.Refused != "" {
				t.Fatalf("plan: %d deletions, refused %q", len(plan.Deletions), plan.Refused)
			}
			withChildren := 0
			for _, d := range plan.Deletions {
				im := &inv.Images[d.Image]
				if len(im.Children) > 0 {
					withChildren++
					if !slices.Equal(d.Children, im.Children) {
						t.Fatalf("plan deletes index %s with children %v, want %v", im.Ref(), d.Children, im.Children)
					}
				}
			}
			if withChildren != 1 {
				t.Fatalf("plan holds %d indexes, want the multi-platform one", withChildren)
			}

			log, path := openLog(t)
			var progress [][2]int
			res, err := Apply(t.Context(), c, inv, plan, log, WithApplyConcurrency(3),
				WithProgress(func(done, total int) { progress = append(progress, [2]int{done, total}) }))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Deleted) != len(plan.Deletions) || len(res.Failed) != 0 || res.NotStarted != 0 || res.Interrupted {
				t.Fatalf("result %+v", res)
			}
			for k, d := range res.Deleted {
				del := plan.Deletions[k]
				im := &inv.Images[del.Image]
				if d.Index != k || d.Repository != im.Repository || model.ParseDigest(d.Digest) != im.Digest || d.Bytes != del.Reclaim || d.AlreadyGone {
					t.Errorf("deleted[%d] = %+v, want deletion %d of %s", k, d, k, im.Ref())
				}
			}
			if len(progress) != len(plan.Deletions) || progress[len(progress)-1] != [2]int{len(plan.Deletions), len(plan.Deletions)} {
				t.Errorf("progress calls %v", progress)
			}
			outcomes := checkAudit(t, path, inv)
			nchildren := 0
			for _, del := range plan.Deletions {
				nchildren += len(del.Children)
			}
			if len(outcomes) != len(plan.Deletions)+nchildren {
				t.Errorf("%d audited deletions, want %d and %d platform manifests", len(outcomes), len(plan.Deletions), nchildren)
			}
			for _, del := range plan.Deletions {
				im := &inv.Images[del.Image]
				e := outcomes[im.Digest.String()]
				if e.Outcome != audit.OutcomeDeleted || e.Repository != im.Repository || !slices.Equal(e.Tags, im.Tags) ||
					e.Reason != string(del.Reason) || e.Bytes != del.Reclaim || !slices.Equal(e.Children, model.DigestStrings(del.Children)) {
					t.Errorf("audit outcome for %s: %+v", im.Ref(), e)
				}
			}
			checkAfter(t, c, inv, planImages(plan))
		})
	}
}

func TestApplyAlreadyGone(t *testing.T) {
	reg, _ := registrytest.ServeSeeded(t, population())
	c := newClient(t, reg.Host())
	inv := scan(t, c)
	plan := model.MakePlan(inv, model.Request{Now: testNow, Manual: manualPicks(t, inv)})
	// Someone else deletes the second image, and the index's first
	// platform manifest, first.
	gone := &inv.Images[plan.Deletions[1].Image]
	if err := c.DeleteManifest(t.Context(), gone.Repository, gone.Digest.String()); err != nil {
		t.Fatal(err)
	}
	index := &inv.Images[plan.Deletions[3].Image]
	if err := c.DeleteManifest(t.Context(), index.Repository, index.Children[0].String()); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteManifest(t.Context(), gone.Repository, gone.Digest.String()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete of %s: %v, want ErrNotFound", gone.Ref(), err)
	}

	log, path := openLog(t)
	res, err := Apply(t.Context(), c, inv, plan, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != len(plan.Deletions) || len(res.Failed) != 0 {
		t.Fatalf("result %+v", res)
	}
	for k, d := range res.Deleted {
		if d.AlreadyGone != (k == 1) {
			t.Errorf("deleted[%d] already gone = %v", k, d.AlreadyGone)
		}
	}
	outcomes := checkAudit(t, path, inv)
	if e := outcomes[gone.Digest.String()]; e.Outcome != audit.OutcomeAlreadyGone {
		t.Errorf("audit outcome of %s: %q, want already-gone", gone.Ref(), e.Outcome)
	}
	if e := outcomes[index.Digest.String()]; e.Outcome != audit.OutcomeDeleted {
		t.Errorf("audit outcome of index %s (one child gone): %q, want deleted", index.Ref(), e.Outcome)
	}
	checkAfter(t, c, inv, planImages(plan))
}

func TestApplyDeleteDisabled(t *testing.T) {
	isDelete := func(r *http.Request) bool { return r.Method == http.MethodDelete }
	reg, _ := registrytest.ServeSeeded(t, population(), registrytest.WithHandler(fault(isDelete, http.StatusMethodNotAllowed, "UNSUPPORTED")))
	c := newClient(t, reg.Host())
	inv := scan(t, c)
	plan := model.MakePlan(inv, model.Request{Now: testNow, Manual: manualPicks(t, inv)})
	for _, conc := range []int{1, 3} {
		log, path := openLog(t)
		res, err := Apply(t.Context(), c, inv, plan, log, WithApplyConcurrency(conc))
		if !errors.Is(err, ErrDeleteDisabled) {
			t.Fatalf("concurrency %d: err = %v, want ErrDeleteDisabled", conc, err)
		}
		t.Logf("concurrency %d: %v", conc, err)
		if n := strings.Count(err.Error(), "storage.delete.enabled"); n != 1 {
			t.Errorf("error %q mentions storage.delete.enabled %d times, want once", err, n)
		}
		if len(res.Deleted) != 0 || len(res.Failed) < 1 || len(res.Failed) > conc ||
			len(res.Failed)+res.NotStarted != len(plan.Deletions) || res.Interrupted {
			t.Errorf("concurrency %d: result %+v", conc, res)
		}
		if conc == 1 && (res.Failed[0].Index != 0 || res.NotStarted != len(plan.Deletions)-1) {
			t.Errorf("concurrency 1: result %+v: want the first failed and the rest not started", res)
		}
		outcomes := checkAudit(t, path, inv)
		if len(outcomes) != len(res.Failed) {
			t.Errorf("concurrency %d: %d audited deletions, %d failed", conc, len(outcomes), len(res.Failed))
		}
		for _, e := range outcomes {
			if e.Outcome != audit.OutcomeFailed || !strings.Contains(e.Error, "405") {
				t.Errorf("audit outcome %+v, want failed with 405", e)
			}
		}
	}
	checkAfter(t, c, inv, nil)
}

func TestApplyInterrupted(t *testing.T) {
	arrived := make(chan string, 100)
	release := make(chan struct{})
	block := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				arrived <- r.URL.Path
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}
	reg, _ := registrytest.ServeSeeded(t, population(), registrytest.WithHandler(block))
	c := newClient(t, reg.Host())
	inv := scan(t, c)
	// Images without platform manifests: one DELETE each.
	picks := findImage(inv, func(im *model.Image) bool { return len(im.Children) == 0 })[:7]
	plan := model.MakePlan(inv, model.Request{Now: testNow, Manual: picks})
	log, path := openLog(t)

	ctx, cancel := context.WithCancel(t.Context())
	var res ApplyResult
	var err error
	var wg sync.WaitGroup
	wg.Go(func() { res, err = Apply(ctx, c, inv, plan, log, WithApplyConcurrency(2)) })
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("deletions did not start")
		}
	}
	cancel() // Ctrl-C while two deletions are in flight
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()

	if !errors.Is(err, context.Canceled) || !res.Interrupted {
		t.Fatalf("err = %v, interrupted = %v; want context.Canceled and interrupted", err, res.Interrupted)
	}
	if len(res.Deleted) != 2 || len(res.Failed) != 0 || res.NotStarted != len(plan.Deletions)-2 {
		t.Fatalf("result %+v: want the 2 in-flight deletions done and %d not started", res, len(plan.Deletions)-2)
	}
	if len(arrived) != 0 {
		t.Errorf("%d more deletions reached the registry after cancel", len(arrived))
	}
	outcomes := checkAudit(t, path, inv)
	if len(outcomes) != 2 {
		t.Errorf("%d audited deletions, want 2", len(outcomes))
	}
	var gone []int
	for _, d := range res.Deleted {
		gone = append(gone, plan.Deletions[d.Index].Image)
		if outcomes[d.Digest].Outcome != audit.OutcomeDeleted {
			t.Errorf("audit outcome of %s: %+v", d.Digest, outcomes[d.Digest])
		}
	}
	checkAfter(t, c, inv, gone)
}

func TestApplyRefusesBadInput(t *testing.T) {
	inv := &model.Inventory{Images: []model.Image{{Repository: "r", Digest: model.ParseDigest("sha256:aa")}}}
	log, _ := openLog(t)
	d := deleterFunc(func(context.Context, string, string) error { t.Error("deleted"); return nil })
	tests := []struct {
		name string
		plan model.Plan
		log  *audit.Log
		want string
	}{
		{"refused plan", model.Plan{Refused: "too much", Deletions: []model.Deletion{{Image: 0}}}, log, "refusing to apply the plan: too much"},
		{"bad image index", model.Plan{Deletions: []model.Deletion{{Image: 3}}}, log, "names image 3"},
		{"no audit log", model.Plan{Deletions: []model.Deletion{{Image: 0}}}, nil, "no audit log"},
		{"platform manifest waits for a later deletion", model.Plan{Deletions: []model.Deletion{
			{Image: 0, Children: model.ParseDigests([]string{"sha256:c"}), ChildAfter: [][]int{{0}}}}}, log, "waits for deletion 0"},
		{"platform manifest waits for a negative deletion", model.Plan{Deletions: []model.Deletion{
			{Image: 0, Children: model.ParseDigests([]string{"sha256:c"}), ChildAfter: [][]int{{-1}}}}}, log, "waits for deletion -1"},
		{"conditions not parallel to the platform manifests", model.Plan{Deletions: []model.Deletion{
			{Image: 0, Children: model.ParseDigests([]string{"sha256:c"}), ChildAfter: [][]int{{}, {}}}}}, log, "1 platform manifests but conditions for 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(t.Context(), d, inv, tt.plan, tt.log)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestApplyAuditFailureStops: an audit line that cannot be written stops
// the run before the deletion it would have recorded.
func TestApplyAuditFailureStops(t *testing.T) {
	inv := &model.Inventory{Images: []model.Image{{Repository: "r", Digest: model.ParseDigest("sha256:aa")}, {Repository: "r", Digest: model.ParseDigest("sha256:bb")}}}
	log, _ := openLog(t)
	log.Close()
	called := false
	d := deleterFunc(func(context.Context, string, string) error { called = true; return nil })
	res, err := Apply(t.Context(), d, inv, model.Plan{Deletions: []model.Deletion{{Image: 0}, {Image: 1}}}, log, WithApplyConcurrency(1))
	if err == nil || !strings.Contains(err.Error(), "audit") || called {
		t.Errorf("err = %v, deleted anyway = %v", err, called)
	}
	if res.NotStarted != 2 || len(res.Deleted)+len(res.Failed) != 0 {
		t.Errorf("result %+v", res)
	}
}

type deleterFunc func(ctx context.Context, repo, digest string) error

func (f deleterFunc) DeleteManifest(ctx context.Context, repo, digest string) error {
	return f(ctx, repo, digest)
}

// Exists says every manifest is there.
func (f deleterFunc) Exists(context.Context, string, string) (bool, error) { return true, nil }

// Current reports no tags: the registry still matches the scan.
func (f deleterFunc) Current(context.Context, string, func(string) bool) (Current, error) {
	return Current{}, nil
}
