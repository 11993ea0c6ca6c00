package usage

import (
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const (
	sha1 = "1479e0252b2e648bb755ee913292b79495931717"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
)

func testInventory(t *testing.T) *model.Inventory {
	t.Helper()
	b := model.NewInventoryBuilder("r.example", now)
	add := func(repo, digest string, tags []string, children ...string) {
		if err := b.AddImage(model.Image{Repository: repo, Digest: model.ParseDigest(digest), Tags: tags, Children: model.ParseDigests(children), Created: now.AddDate(0, -6, 0)},
			[]model.Blob{{Digest: digest, Size: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	add("prod/r2d-g5b5b759-binder-2dexamples-2doctave-03025a", "sha256:a1", []string{sha1})         // 0: the derived name
	add("prod/r2d-g5b5b759-binder-2dexamples-2doctave-03025a", "sha256:a2", []string{sha2})         // 1
	add("prod/r2d-g5b5b759-someone-2doctave-fork-0a0a0a", "sha256:b1", []string{sha1})              // 2: a fork, same commit
	add("binder-custom-naming-abc123", "sha256:c1", []string{sha3})                                 // 3: a naming the derivation misses
	add("prod/r2d-g5b5b759-binder-2dexamples-2doctave-03025a", "sha256:a3", []string{"1234567abc"}) // 4: a short tag
	add("base", "sha256:idx", []string{"latest"}, "sha256:amd", "sha256:arm")                       // 5: an index
	add("base", "sha256:amd", []string{"latest-amd64"})                                             // 6: its platform manifest
	return b.Inventory()
}

func tallyOf(lines ...string) *Tally {
	t := NewTally(now.AddDate(0, 0, -30))
	_, _ = ReadEvents(strings.NewReader(strings.Join(lines, "\n")), "t", t.Add)
	return t
}

func ev(ts time.Time, version int, provider, spec, ref, status string) string {
	s := `{"timestamp": "` + ts.Format(time.RFC3339Nano) + `", "schema": "binderhub.jupyter.org/launch", "version": ` + string(rune('0'+version)) +
		`, "provider": "` + provider + `", "spec": "` + spec + `"`
	if ref != "" {
		s += `, "ref": "` + ref + `"`
	}
	return s + `, "status": "` + status + `"}`
}

func TestMatchLaunches(t *testing.T) {
	inv := testInventory(t)
	in, before := now.Add(-24*time.Hour), now.AddDate(0, -3, 0)
	obs := &Observed{Window: 30 * 24 * time.Hour, Since: now.AddDate(0, 0, -30), Launches: tallyOf(
		ev(in, 5, "GitHub", "binder-examples/octave/HEAD", sha1, "success"), // the derived repository only, not the fork
		ev(in.Add(time.Hour), 5, "GitHub", "binder-examples/octave/HEAD", sha1, "success"),
		ev(before, 5, "GitHub", "binder-examples/octave/main", sha2, "success"), // only before the window
		ev(in, 5, "GitHub", "custom/naming/HEAD", sha3, "success"),              // no derived repository has the tag: the ref alone
		ev(in, 5, "GitHub", "binder-examples/octave/HEAD", sha2, "failure"),     // a failure holds nothing
		ev(in, 3, "GitHub", "binder-examples/octave/1234567", "", "success"),    // v3: spec's short sha in the derived repository
		ev(in, 2, "GitHub", "nobody/nothing/master", "", "success"),             // v2: no ref, unmatched
		ev(in, 5, "Zenodo", "10.5281/zenodo.1", "10.5281/zenodo.1", "success"),  // no such tag
	)}
	res := Match(inv, obs)
	u := res.Usage.Images
	if u[0].Launches != 2 || !u[0].LastLaunch.Equal(in.Add(time.Hour)) {
		t.Errorf("derived repository: %+v", u[0])
	}
	if u[2].Launches != 0 {
		t.Errorf("the fork's image with the same commit was credited: %+v", u[2])
	}
	if u[1].Launches != 0 || !u[1].LastLaunch.Equal(before) {
		t.Errorf("launched before the window: %+v", u[1])
	}
	if u[3].Launches != 1 {
		t.Errorf("ref alone: %+v", u[3])
	}
	if u[4].Launches != 1 {
		t.Errorf("v3 short sha: %+v", u[4])
	}
	if res.Matched != 4 || res.Unmatched != 2 || res.Launched != 3 {
		t.Errorf("matched %d unmatched %d launched %d", res.Matched, res.Unmatched, res.Launched)
	}
	if res.Launches.Failed != 1 || res.Launches.InWindow != 6 {
		t.Errorf("tally: failed %d in window %d", res.Launches.Failed, res.Launches.InWindow)
	}
	if res.Usage.Unknown != "" {
		t.Errorf("unknown %q", res.Usage.Unknown)
	}
}

func TestMatchPods(t *testing.T) {
	inv := testInventory(t)
	obs := &Observed{Pods: []PodImage{
		{Image: "r.example/prod/r2d-g5b5b759-binder-2dexamples-2doctave-03025a:" + sha2},           // by tag
		{Image: "r.example/base:whatever", ImageID: "docker-pullable://r.example/base@sha256:amd"}, // by digest: a platform manifest marks its index
		{Image: "docker.io/library/busybox:1", ImageID: "docker://sha256:deadbeef"},                // not ours
	}}
	res := Match(inv, obs)
	for i, want := range []bool{false, true, false, false, false, true, true} {
		if res.Usage.Images[i].InUse != want {
			t.Errorf("image %d in use %v, want %v", i, res.Usage.Images[i].InUse, want)
		}
	}
	if res.InUse != 3 || res.PodImagesUnmatched != 1 {
		t.Errorf("in use %d, unmatched %d", res.InUse, res.PodImagesUnmatched)
	}
}

func TestMatchFailedSourceMakesUsageUnknown(t *testing.T) {
	res := Match(testInventory(t), &Observed{Sources: []SourceReport{{Source: "events: /x/*.jsonl", Error: "no file matches /x/*.jsonl"}}})
	if !strings.Contains(res.Usage.Unknown, "no file matches") {
		t.Errorf("unknown %q", res.Usage.Unknown)
	}
}

// TestPodImageDefaultsAsKubernetesPulls: a pod's image is read as the
// runtime pulls it: no tag (and no digest) is latest, a Docker Hub name is
// docker.io/library/NAME or docker.io/USER/NAME (index.docker.io and
// registry-1.docker.io are docker.io), and the registry host is dropped.
func TestPodImageDefaultsAsKubernetesPulls(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ image, repo, tag, digest string }{
		{"myacr.azurecr.io/binder/foo", "binder/foo", "latest", ""},
		{"myhub.azurecr.io/binder-x:abc", "binder-x", "abc", ""},
		{"foo", "library/foo", "latest", ""},
		{"busybox:1", "library/busybox", "1", ""},
		{"user/foo", "user/foo", "latest", ""},
		{"user/repo:1.0", "user/repo", "1.0", ""},
		{"docker.io/foo", "library/foo", "latest", ""},
		{"index.docker.io/user/foo:2", "user/foo", "2", ""},
		{"registry-1.docker.io/foo", "library/foo", "latest", ""},
		{"registry-1.docker.io/user/foo@" + dg, "user/foo", "", dg},
		{"localhost:5000/a/b@" + dg, "a/b", "", dg},
		{"127.0.0.1:5000/x:y@" + dg, "x", "y", dg},
		{"localhost/a", "a", "latest", ""},
		// not a reference the library takes: split as written, still defaulted
		{"r.example/Upper/Case", "Upper/Case", "latest", ""},
		{"localhost:5000/a/b@sha256:00", "a/b", "", "sha256:00"},
	} {
		r, tag, d := parseImageRef(c.image)
		if r != c.repo || tag != c.tag || d != c.digest {
			t.Errorf("%s: %q %q %q, want %q %q %q", c.image, r, tag, d, c.repo, c.tag, c.digest)
		}
	}
}

// TestStartingPodHoldsItsDefaultedImage: a Pending pod whose spec names
// myacr.azurecr.io/binder/foo, without an imageID yet, uses
// binder/foo:latest, which the age plan must then leave alone; so do Docker
// Hub names in a registry that mirrors them.
func TestStartingPodHoldsItsDefaultedImage(t *testing.T) {
	b := model.NewInventoryBuilder("myacr.azurecr.io", now)
	for _, im := range []model.Image{
		{Repository: "binder/foo", Digest: model.ParseDigest("sha256:f1"), Tags: []string{"latest"}},
		{Repository: "binder/foo", Digest: model.ParseDigest("sha256:f0"), Tags: []string{"old"}},
		{Repository: "library/busybox", Digest: model.ParseDigest("sha256:b1"), Tags: []string{"latest"}},
		{Repository: "user/tool", Digest: model.ParseDigest("sha256:t1"), Tags: []string{"latest"}},
	} {
		im.Created = now.AddDate(-1, 0, 0)
		if err := b.AddImage(im, []model.Blob{{Digest: im.Digest.String(), Size: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	inv := b.Inventory()
	for _, tc := range []struct {
		name  string
		image string
		used  int // the image in use, -1 for none
	}{
		{"no tag is latest", "myacr.azurecr.io/binder/foo", 0},
		{"a bare name is docker.io/library", "busybox", 2},
		{"user/name is docker.io/user/name", "index.docker.io/user/tool", 3},
		{"a tag names itself", "myacr.azurecr.io/binder/foo:old", 1},
		{"another repository", "myacr.azurecr.io/binder/bar", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Match(inv, &Observed{Pods: []PodImage{{Namespace: "binderhub", Pod: "jupyter-x", Container: "notebook", Image: tc.image}}, PodsSeen: 1})
			unmatched := 0
			if tc.used < 0 {
				unmatched = 1
			}
			if res.PodImagesUnmatched != unmatched {
				t.Errorf("pod_images_unmatched %d, want %d", res.PodImagesUnmatched, unmatched)
			}
			p := model.MakePlan(inv, model.Request{Policy: model.Policy{MaxAge: 90 * 24 * time.Hour}, Now: now, Usage: &res.Usage})
			planned := map[int]bool{}
			for _, d := range p.Deletions {
				planned[d.Image] = true
			}
			for i := range inv.Images {
				if in := res.Usage.Images[i].InUse; in != (i == tc.used) || planned[i] == (i == tc.used) {
					t.Errorf("image %d (%s): in use %v, planned %v", i, inv.Images[i].Repository, in, planned[i])
				}
			}
		})
	}
}
