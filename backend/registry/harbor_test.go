package registry

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/harbortest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// harborWorld is a registry behind the Harbor stand-in: project binder
// with repositories binder/a/b (a name holding "/": an image tagged v1 and
// latest, an untagged image, an index tagged idx) and binder/c (12
// images), and project other/x; an immutable rule on tags v* of a/**, a
// retention policy on binder.
type harborWorld struct {
	srv                                 *harbortest.Server
	reg                                 *registrytest.Registry
	img, untagged, idx, amd, arm, other string
	cImages                             []string
	ruleID                              int64
}

func newHarborWorld(t *testing.T) *harborWorld {
	reg := registrytest.Serve(t)
	p := pusher{t, reg.Host()}
	w := &harborWorld{reg: reg}
	img, untagged, amd, arm := p.image(10, "amd64"), p.image(20, "amd64"), p.image(30, "amd64"), p.image(30, "arm64")
	idx := p.index("i", amd, arm)
	p.push("binder/a/b:v1", img)
	p.push("binder/a/b:latest", img)
	w.untagged = digestOf(t, untagged)
	p.push("binder/a/b@"+w.untagged, untagged)
	p.push("binder/a/b:idx", idx)
	w.img, w.idx, w.amd, w.arm = digestOf(t, img), digestOf(t, idx), digestOf(t, amd), digestOf(t, arm)
	for i := range 12 {
		im := p.image(40+i, "amd64")
		p.push("binder/c:t"+string(rune('a'+i)), im)
		w.cImages = append(w.cImages, digestOf(t, im))
	}
	o := p.image(5, "amd64")
	p.push("other/x:1", o)
	w.other = digestOf(t, o)
	w.srv = harbortest.Serve(t, reg, harbortest.WithClock(func() time.Time { return testNow }))
	w.srv.AddUser("robot$binder+cleaner", "s3cret", true)
	w.srv.AddUser("reader", "r", false)
	w.ruleID = w.srv.AddImmutableRule("binder", "a/**", "v*")
	w.srv.SetRetention("binder", "latestPushedK", 10)
	w.srv.SetPushTime("binder/a/b", w.img, testNow.AddDate(0, 0, -3))
	w.srv.SetPullTime("binder/a/b", w.img, testNow.AddDate(0, 0, -1))
	return w
}

func (w *harborWorld) client(t *testing.T, user, pw string, projects []string, opts ...Option) *Harbor {
	t.Helper()
	h, err := NewHarbor(w.srv.Host(), projects, append([]Option{WithAuthenticator(&authn.Basic{Username: user, Password: pw}),
		WithClock(func() time.Time { return testNow }), WithRetryBackoff(fastRetry)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.pageSize = 5 // several pages of binder/c
	return h
}

// TestHarborScan: what a scan makes of Harbor's listing.
func TestHarborScan(t *testing.T) {
	w := newHarborWorld(t)
	inv, err := w.client(t, "robot$binder+cleaner", "s3cret", []string{"binder"}).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, e := range inv.Errors {
		if !e.Warning {
			t.Errorf("scan error: %+v", e)
		}
		warnings = append(warnings, e.Error)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "retention policy") || !strings.Contains(warnings[0], "retain the 10 most recently pushed artifacts") {
		t.Errorf("warnings %q, want the retention policy's", warnings)
	}
	if len(inv.Images) != 3+12 {
		t.Errorf("%d images, want 15 (project other not configured, the index's children part of it)", len(inv.Images))
	}
	find := func(repo, d string) *model.Image {
		k := slices.IndexFunc(inv.Images, func(im model.Image) bool { return im.Repository == repo && im.Digest == model.ParseDigest(d) })
		if k < 0 {
			t.Fatalf("%s@%s not in the inventory", repo, d)
		}
		return &inv.Images[k]
	}
	im := find("binder/a/b", w.img)
	wantLock := "tag binder/a/b:v1, immutable by rule " + itoa(w.ruleID) + " (repositories a/**, tags v*)"
	if !slices.Equal(im.Tags, []string{"latest", "v1"}) || !im.Created.Equal(testNow.AddDate(0, 0, -3)) ||
		!im.LastPulled.Equal(testNow.AddDate(0, 0, -1)) || !im.Locked || im.Lock != wantLock {
		t.Errorf("image: tags %v created %v pulled %v locked %v %q\nwant lock %q", im.Tags, im.Created, im.LastPulled, im.Locked, im.Lock, wantLock)
	}
	un := find("binder/a/b", w.untagged)
	if len(un.Tags) != 0 || un.Locked || !un.LastPulled.IsZero() {
		t.Errorf("untagged: %+v", un)
	}
	ix := find("binder/a/b", w.idx)
	if !slices.Equal(ix.Children, model.ParseDigests([]string{w.amd, w.arm})) || !slices.Equal(ix.Platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("index children %v platforms %v", ix.Children, ix.Platforms)
	}
	stored, err := w.reg.BlobBytes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	all, err := w.client(t, "robot$binder+cleaner", "s3cret", nil).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Images) != 16 {
		t.Errorf("every project: %d images, want 16", len(all.Images))
	}
	if total := model.ComputeSizes(all).Total; total != stored {
		t.Errorf("deduplicated total %d, the registry stores %d", total, stored)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestHarborWarmScan: a second scan over the digest cache reads no
// manifest, so Harbor records no pull of it; the first scan's GETs are
// pulls in Harbor's eyes, read after the listing that reports pull times.
func TestHarborWarmScan(t *testing.T) {
	w := newHarborWorld(t)
	cache, err := digestcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := w.client(t, "robot$binder+cleaner", "s3cret", []string{"binder"}, WithDigestCache(cache))
	first, err := h.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	k := slices.IndexFunc(first.Images, func(im model.Image) bool { return im.Digest == model.ParseDigest(w.untagged) })
	if !first.Images[k].LastPulled.IsZero() {
		t.Errorf("the first scan reports its own read as a pull: %v", first.Images[k].LastPulled)
	}
	if got := w.srv.PullTime("binder/a/b", w.untagged); !got.Equal(testNow) {
		t.Errorf("Harbor's pull_time after the first scan %v, want the scan's read at %v", got, testNow)
	}
	before := w.srv.Requests()["v2"]
	fresh := w.client(t, "robot$binder+cleaner", "s3cret", []string{"binder"}, WithDigestCache(cache))
	if _, err := fresh.Scan(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if n := w.srv.Requests()["v2"] - before; n != 0 {
		t.Errorf("a warm scan sent %d distribution requests, want 0", n)
	}
}

// TestHarborDelete: Harbor's answers as the deleter's errors.
func TestHarborDelete(t *testing.T) {
	w := newHarborWorld(t)
	h := w.client(t, "robot$binder+cleaner", "s3cret", nil)
	reader := w.client(t, "reader", "r", nil)
	tests := []struct {
		name     string
		c        *Harbor
		repo, d  string
		sentinel error
		text     string
	}{
		{"immutable", h, "binder/a/b", w.img, ErrLocked, "immutable tag"},
		{"child of an index", h, "binder/a/b", w.amd, nil, "an index references it"},
		{"no delete right", reader, "binder/a/b", w.untagged, nil, "may not delete"},
		{"deleted", h, "binder/a/b", w.untagged, nil, ""},
		{"gone", h, "binder/a/b", w.untagged, ErrNotFound, "already gone"},
		{"not a repository of a project", h, "nope", w.untagged, nil, "not a Harbor repository"},
	}
	for _, tt := range tests {
		err := tt.c.DeleteManifest(t.Context(), tt.repo, tt.d)
		switch {
		case tt.text == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.text != "" && (err == nil || !strings.Contains(err.Error(), tt.text)):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.text)
		case tt.sentinel != nil && !errors.Is(err, tt.sentinel):
			t.Errorf("%s: %v is not %v", tt.name, err, tt.sentinel)
		}
	}
	for _, x := range []struct {
		d    string
		want bool
	}{{w.img, true}, {w.untagged, false}} {
		if got, err := h.Exists(t.Context(), "binder/a/b", x.d); err != nil || got != x.want {
			t.Errorf("Exists %s = %v %v, want %v", x.d, got, err, x.want)
		}
	}
}

// TestHarborCurrent: the re-read before deleting sees a tag rule made
// since the scan, and new tags.
func TestHarborCurrent(t *testing.T) {
	w := newHarborWorld(t)
	h := w.client(t, "robot$binder+cleaner", "s3cret", nil)
	known := func(string) bool { return true }
	cur, err := h.Current(t.Context(), "binder/c", known)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.Locked) != 0 || len(cur.Tags) != 12 {
		t.Fatalf("before the rule: locked %v, %d tagged", cur.Locked, len(cur.Tags))
	}
	id := w.srv.AddImmutableRule("binder", "c", "tb")
	cur, err = h.Current(t.Context(), "binder/c", known)
	if err != nil {
		t.Fatal(err)
	}
	want := "tag binder/c:tb, immutable by rule " + itoa(id) + " (repositories c, tags tb)"
	if len(cur.Locked) != 1 || cur.Locked[w.cImages[1]] != want {
		t.Errorf("locked %v, want %s: %q", cur.Locked, w.cImages[1], want)
	}
	unknown, err := h.Current(t.Context(), "binder/a/b", func(d string) bool { return d != w.idx })
	if err != nil {
		t.Fatal(err)
	}
	if !unknown.Referenced[w.amd] || !unknown.Referenced[w.arm] {
		t.Errorf("a new index's children are not referenced: %v", unknown.Referenced)
	}
	gone, err := h.Current(t.Context(), "binder/none", known)
	if err != nil || len(gone.Tags) != 0 {
		t.Errorf("a repository gone: %+v %v", gone, err)
	}
}

// TestHarborProbe: --check-config's answer on delete rights.
func TestHarborProbe(t *testing.T) {
	w := newHarborWorld(t)
	for _, tt := range []struct {
		user, pw, want string
	}{{"robot$binder+cleaner", "s3cret", DeleteGranted}, {"reader", "r", DeleteDenied}} {
		p, err := w.client(t, tt.user, tt.pw, []string{"binder"}).Probe(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if p.Delete != tt.want || !slices.Equal(p.Repositories, []string{"binder/a/b", "binder/c"}) {
			t.Errorf("%s: %+v, want delete %s", tt.user, p, tt.want)
		}
	}
	if _, err := w.client(t, "robot$binder+cleaner", "wrong", nil).Probe(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong secret: %v", err)
	}
}
