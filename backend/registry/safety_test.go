package registry

import (
	"bytes"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// pusher writes hand-made images to a test registry.
type pusher struct {
	t    *testing.T
	host string
}

// image makes a random single-platform image created ageDays before testNow.
func (p pusher) image(ageDays int, arch string) v1.Image {
	p.t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		p.t.Fatal(err)
	}
	return stamp(p.t, img, arch, testNow.AddDate(0, 0, -ageDays))
}

// stamp gives img's config the platform linux/arch and the created time
// (none when zero).
func stamp(t testing.TB, img v1.Image, arch string, created time.Time) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: created}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// index makes a multi-platform index over imgs (amd64, arm64, ...), told
// apart from other indexes over the same images by note.
func (p pusher) index(note string, imgs ...v1.Image) v1.ImageIndex {
	var idx v1.ImageIndex = empty.Index
	for _, img := range imgs {
		cf, _ := img.ConfigFile()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: cf.Architecture}}})
	}
	return mutate.Annotations(idx, map[string]string{"note": note}).(v1.ImageIndex)
}

func (p pusher) ref(s string) name.Reference {
	p.t.Helper()
	r, err := name.ParseReference(p.host+"/"+s, name.Insecure)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// push writes an image or index under repo:tag.
func (p pusher) push(repoTag string, x remote.Taggable) {
	p.t.Helper()
	var err error
	switch v := x.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(p.ref(repoTag), v)
	case v1.Image:
		err = remote.Write(p.ref(repoTag), v)
	}
	if err != nil {
		p.t.Fatalf("push %s: %v", repoTag, err)
	}
}

// putRaw puts a manifest as is, by digest, with a plain registry API call.
func (p pusher) putRaw(repo, digest string, mt types.MediaType, body []byte) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+p.host+"/v2/"+repo+"/manifests/"+digest, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		p.t.Fatalf("put %s@%s: %s", repo, digest, resp.Status)
	}
}

// tag points repo:tag at an existing manifest (repo@digest).
func (p pusher) tag(repoTag, existing string) {
	p.t.Helper()
	desc, err := remote.Get(p.ref(existing))
	if err != nil {
		p.t.Fatalf("get %s: %v", existing, err)
	}
	tag, ok := p.ref(repoTag).(name.Tag)
	if !ok {
		p.t.Fatalf("%s is not a tag", repoTag)
	}
	if err := remote.Tag(tag, desc); err != nil {
		p.t.Fatalf("tag %s: %v", repoTag, err)
	}
}

// digest answers which digest repo:tag (or repo@digest) resolves to now,
// failing the test when it does not resolve.
func (p pusher) resolves(ref string) string {
	p.t.Helper()
	d, err := remote.Head(p.ref(ref))
	if err != nil {
		p.t.Fatalf("%s no longer resolves: %v", ref, err)
	}
	return d.Digest.String()
}

// imageAt is the inventory index of repo@digest.
func imageAt(t *testing.T, inv *model.Inventory, repo, digest string) int {
	t.Helper()
	got := findImage(inv, func(im *model.Image) bool { return im.Repository == repo && im.Digest == digest })
	if len(got) != 1 {
		t.Fatalf("%s@%s is in the inventory %d times", repo, digest, len(got))
	}
	return got[0]
}

func planned(inv *model.Inventory, p model.Plan) map[string]bool {
	out := map[string]bool{}
	for _, d := range p.Deletions {
		out[inv.Images[d.Image].Ref()] = true
		for _, c := range d.Children {
			out[inv.Images[d.Image].Repository+"@"+c] = true
		}
	}
	return out
}

// TestTaggedChildOfKeptIndex: base:latest is a protected multi-platform
// index and base:latest-amd64 tags its (old) amd64 child. The age step must
// not plan the child: the index that survives would lose it.
func TestTaggedChildOfKeptIndex(t *testing.T) {
	for _, tt := range []struct {
		name string
		pol  model.Policy
	}{
		{"protected index", model.Policy{MaxAge: 90 * 24 * time.Hour, Protect: []*regexp.Regexp{regexp.MustCompile(`^base:latest$`)}}},
		{"index kept by keep_latest", model.Policy{MaxAge: 90 * 24 * time.Hour, KeepLatest: 1}},
		{"index too young for age", model.Policy{MaxAge: 150 * 24 * time.Hour}},
		{"cap", model.Policy{Cap: 1, Aggressive: true, Protect: []*regexp.Regexp{regexp.MustCompile(`^base:latest$`)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg, p := startPushing(t)
			amd, arm := p.image(200, "amd64"), p.image(120, "arm64")
			idx := p.index("latest", amd, arm)
			p.push("base:latest", idx)
			p.push("base:latest-amd64", amd)
			p.push("base:old", p.image(300, "amd64"))

			c := newClient(t, reg.Host())
			inv := scan(t, c)
			plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: tt.pol})
			child := imageAt(t, inv, "base", digestOf(t, amd))
			if got := model.Holds(inv, tt.pol)[child]; got != model.HoldInIndex {
				t.Errorf("hold of the tagged child = %q, want %q", got, model.HoldInIndex)
			}
			if planned(inv, plan)["base@"+digestOf(t, amd)] {
				t.Fatalf("the plan deletes base:latest-amd64, a platform manifest of the surviving base:latest")
			}
			if plan.Held[model.HoldInIndex] == 0 {
				t.Errorf("held = %v, want an in-index count", plan.Held)
			}
			log, _ := openLog(t)
			if _, err := Apply(t.Context(), c, inv, plan, log); err != nil {
				t.Fatal(err)
			}
			p.resolves("base:latest")
			p.resolves("base@" + digestOf(t, amd))
			p.resolves("base@" + digestOf(t, arm))
		})
	}
}

// TestIndexAndItsTaggedChildGoTogether: when the index itself is planned,
// its tagged child may go too, but only after it.
func TestIndexAndItsTaggedChildGoTogether(t *testing.T) {
	reg, p := startPushing(t)
	amd, arm := p.image(200, "amd64"), p.image(190, "arm64")
	p.push("base:v1", p.index("v1", amd, arm))
	p.push("base:v1-amd64", amd)
	p.push("base:new", p.image(1, "amd64"))

	c := newClient(t, reg.Host())
	inv := scan(t, c)
	plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: model.Policy{MaxAge: 90 * 24 * time.Hour}})
	if len(plan.Deletions) != 2 {
		t.Fatalf("plan has %d deletions, want the index and its tagged child", len(plan.Deletions))
	}
	if d := plan.Deletions[1]; inv.Images[d.Image].Digest != digestOf(t, amd) || !slices.Equal(d.After, []int{0}) {
		t.Fatalf("second deletion %+v: want the amd64 child, after the index", d)
	}
	if got := plan.Deletions[0].Children; !slices.Equal(got, []string{digestOf(t, arm)}) {
		t.Errorf("index children deleted with it = %v, want only the untagged arm64 one", got)
	}
	log, _ := openLog(t)
	res, err := Apply(t.Context(), c, inv, plan, log, WithApplyConcurrency(4))
	if err != nil || len(res.Deleted) != 2 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	p.resolves("base:new")
}

// TestIncompleteRepositoryIsSkipped: app:v1 and a protected app:v2 are two
// indexes over the same platform manifests, and reading app:v2 fails past
// the retries. Nothing in app may be deleted: v1's children only look
// orphaned because v2 is missing.
func TestIncompleteRepositoryIsSkipped(t *testing.T) {
	fail := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/app/manifests/v2") {
				http.Error(w, "boom", http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg, p := startPushing(t, registrytest.WithHandler(fail))
	amd, arm := p.image(200, "amd64"), p.image(200, "arm64")
	p.push("app:v1", p.index("v1", amd, arm))
	p.push("app:v2", p.index("v2", amd, arm))
	p.push("other:old", p.image(300, "amd64"))

	pol := model.Policy{MaxAge: 90 * 24 * time.Hour, Protect: []*regexp.Regexp{regexp.MustCompile(`^app:v2$`)},
		Cap: 1, Aggressive: true}
	c := newClient(t, reg.Host())
	inv := scanOrFail(t, c)
	if _, ok := inv.Incomplete()["app"]; !ok {
		t.Fatalf("app is not incomplete; errors %+v", inv.Errors)
	}
	plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: pol})
	for ref := range planned(inv, plan) {
		if strings.HasPrefix(ref, "app@") {
			t.Errorf("the plan deletes %s in the incompletely scanned repository", ref)
		}
	}
	if !planned(inv, plan)[findRef(t, inv, "other", "old")] {
		t.Errorf("the complete repository's old image is not planned")
	}
	if len(plan.Skipped) != 1 || plan.Skipped[0].Repository != "app" || !strings.Contains(plan.Skipped[0].Reason, "500") {
		t.Errorf("skipped = %+v, want app with the 500", plan.Skipped)
	}
	log, _ := openLog(t)
	if _, err := Apply(t.Context(), c, inv, plan, log); err != nil {
		t.Fatal(err)
	}
	p.resolves("app@" + digestOf(t, amd))
	p.resolves("app@" + digestOf(t, arm))
	p.resolves("app:v1")
}

func findRef(t *testing.T, inv *model.Inventory, repo, tag string) string {
	t.Helper()
	for i := range inv.Images {
		if inv.Images[i].Repository == repo && slices.Contains(inv.Images[i].Tags, tag) {
			return inv.Images[i].Ref()
		}
	}
	t.Fatalf("%s:%s is not in the inventory", repo, tag)
	return ""
}

// TestTagMovedSinceScan: after the scan and plan, hub:latest (protected) is
// pushed back onto an old, planned digest: a rollback. The apply must not
// delete that digest, nor one whose platform manifest a new index uses.
func TestTagMovedSinceScan(t *testing.T) {
	reg, p := startPushing(t)
	old, older, cur := p.image(200, "amd64"), p.image(250, "amd64"), p.image(1, "amd64")
	p.push("hub:old", old)
	p.push("hub:older", older)
	p.push("hub:latest", cur)
	amd, arm := p.image(220, "amd64"), p.image(220, "arm64")
	p.push("multi:v1", p.index("v1", amd, arm))
	p.push("multi:gone", p.image(300, "amd64"))

	pol := model.Policy{MaxAge: 90 * 24 * time.Hour, Protect: []*regexp.Regexp{regexp.MustCompile(`^hub:latest$`)}}
	c := newClient(t, reg.Host())
	inv := scan(t, c)
	plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: pol})
	if len(plan.Deletions) != 4 {
		t.Fatalf("plan has %d deletions, want hub:old, hub:older, multi:v1, multi:gone", len(plan.Deletions))
	}

	p.push("hub:latest", old)              // the rollback
	p.push("multi:v2", p.index("v2", amd)) // a new index over a planned child

	log, path := openLog(t)
	res, err := Apply(t.Context(), c, inv, plan, log, WithProtect(pol.Protect))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.resolves("hub:latest"); got != digestOf(t, old) {
		t.Fatalf("hub:latest now resolves to %s", got)
	}
	p.resolves("multi:v2")
	p.resolves("multi@" + digestOf(t, amd))
	if len(res.Skipped) != 2 || len(res.Deleted) != 2 {
		t.Fatalf("result: %d deleted, skipped %+v; want 2 and 2", len(res.Deleted), res.Skipped)
	}
	for _, s := range res.Skipped {
		if !strings.HasPrefix(s.Reason, ChangedSinceScan) {
			t.Errorf("skip reason %q", s.Reason)
		}
	}
	lines := readAudit(t, path)
	skipped := 0
	for _, e := range lines {
		if e.Outcome == audit.OutcomeSkipped {
			skipped++
		}
	}
	if skipped != 2 {
		t.Errorf("audit log has %d skipped lines, want 2", skipped)
	}
}
