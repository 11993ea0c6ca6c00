package imagetags

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// fastRetry retries at once: tests see the policy without its waits.
var fastRetry = retry.Policy{MaxAttempts: 3, MaxWait: 5 * time.Second, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

var day0 = time.Date(2018, 11, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return day0.AddDate(0, 0, n) }

// traffic watches a registry's requests: how many, to which paths, and
// the most in flight at once.
type traffic struct {
	mu       sync.Mutex
	paths    []string
	inFlight atomic.Int32
	peak     atomic.Int32
}

func (tr *traffic) wrap(latency time.Duration) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := tr.inFlight.Add(1)
			defer tr.inFlight.Add(-1)
			for p := tr.peak.Load(); n > p && !tr.peak.CompareAndSwap(p, n); p = tr.peak.Load() {
			}
			tr.mu.Lock()
			tr.paths = append(tr.paths, r.Method+" "+r.URL.Path)
			tr.mu.Unlock()
			time.Sleep(latency)
			h.ServeHTTP(w, r)
		})
	}
}

func (tr *traffic) count(re string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, p := range tr.paths {
		if regexp.MustCompile(re).MatchString(p) {
			n++
		}
	}
	return n
}

// startRegistry runs the embedded registry, latency away, with its
// traffic watched.
func startRegistry(t testing.TB, latency time.Duration) (*registrytest.Registry, *traffic) {
	t.Helper()
	tr := &traffic{}
	reg, err := registrytest.Start(context.Background(), registrytest.WithHandler(tr.wrap(latency)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg, tr
}

// image is a small image created at created, with labels, for arch.
func image(t testing.TB, created time.Time, labels map[string]string, arch string) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Created: v1.Time{Time: created}, OS: "linux", Architecture: arch,
		Config: v1.Config{Labels: labels},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push writes img as host/repoTag.
func push(t testing.TB, host, repoTag string, img remote.Taggable) {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	switch x := img.(type) {
	case v1.Image:
		err = remote.Write(ref, x)
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, x)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// pushTags pushes one image per tag of repo, tag i created on day i.
func pushTags(t testing.TB, host, repo string, tags ...string) {
	t.Helper()
	for i, tag := range tags {
		push(t, host, repo+":"+tag, image(t, day(i), map[string]string{LabelSource: "https://github.com/" + repo}, "amd64"))
	}
}

func valuesFile(host string) string {
	return fmt.Sprintf(`binderhub:
  config:
    BinderHub:
      build_image: %[1]s/jupyterhub/repo2docker:2021.08.0-136.g47ea95a # henchbot's
  old_image: %[1]s/jupyter/repo2docker:9f081a2
hub:
  image:
    name: %[1]s/jupyterhub/k8s-hub
    tag: "3.3.7"
analytics:
  image:
    name: %[1]s/jupyterhub/analytics
    tag: set-by-chartpress
pinned:
  image: %[1]s/jupyterhub/k8s-hub@sha256:5a642dfa4769f656efb6d3349f7ab94a4490d155773987df0aebe19a9a982efb
gone:
  image: %[1]s/nobody/here:1.0.0
unordered:
  image: %[1]s/jupyterhub/k8s-hub:main
unlisted:
  image:
    registry: %[1]s
    repository: jupyterhub/k8s-hub
    tag: 3.3.9
`, host)
}

type want struct {
	path, newest string
	listed       bool
	err          string
}

func TestCheckFile(t *testing.T) {
	reg, tr := startRegistry(t, 0)
	host := reg.Host()
	pushTags(t, host, "jupyterhub/repo2docker", "2021.08.0", "2021.08.0-136.g47ea95a", "2022.02.0", "2022.02.0-58.gae8ed29", "latest", "2022.02.0-60.g1234567.dirty")
	pushTags(t, host, "jupyter/repo2docker", "5cdd0ee", "9f081a2", "72d7634", "ff894f44", "36641f3", "0.10.0-46.g2bbd8ee")
	pushTags(t, host, "jupyterhub/k8s-hub", "3.3.7", "3.3.8", "4.0.0-beta.4.git.6831.habe06f4d", "main")

	c := New(WithRetry(fastRetry))
	f, results, err := c.CheckFile(t.Context(), "mybinder/values.yaml", []byte(valuesFile(host)), model.ImageRules{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Skipped) != 1 || f.Skipped[0].Path != "analytics.image" {
		t.Errorf("skipped %+v", f.Skipped)
	}
	wants := []want{
		{"binderhub.config.BinderHub.build_image", "2022.02.0-58.gae8ed29", true, ""},
		{"binderhub.old_image", "36641f3", true, ""},
		{"hub.image", "3.3.8", true, ""},
		{"pinned.image", "", false, ""},
		{"gone.image", "", false, "list the tags of " + host + "/nobody/here on " + host},
		{"unordered.image", "", true, `tag "main" has no order`},
		{"unlisted.image", "", false, ""},
	}
	checkResults(t, results, wants)
	// Created times were read for the 7-hex tags only: the pin and the
	// three of its shape, not ff894f44 nor the describe.
	if n := tr.count(`^GET /v2/jupyter/repo2docker/manifests/`); n != 4 {
		t.Errorf("%d manifests of jupyter/repo2docker read, want 4", n)
	}
	if n := tr.count(`^GET /v2/jupyterhub/k8s-hub/tags/list`); n != 1 {
		t.Errorf("k8s-hub's tags listed %d times, want once for its three references", n)
	}
	if n := tr.count(`/jupyterhub/k8s-hub/manifests/sha256`); n != 0 {
		t.Errorf("the reference by digest was looked up")
	}

	// Rules narrow the images and admit prereleases.
	_, results, err = c.CheckFile(t.Context(), "v.yaml", []byte(valuesFile(host)), model.ImageRules{Include: []string{"*/jupyterhub/k8s-hub"}, Prereleases: true})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, []want{
		{"hub.image", "4.0.0-beta.4.git.6831.habe06f4d", true, ""},
		{"pinned.image", "", false, ""},
		{"unordered.image", "", true, "has no order"},
		{"unlisted.image", "4.0.0-beta.4.git.6831.habe06f4d", false, ""},
	})

	if _, _, err := c.CheckFile(t.Context(), "broken.yaml", []byte("a: [\n"), model.ImageRules{}); err == nil || !strings.Contains(err.Error(), "values file broken.yaml line 1") {
		t.Errorf("a broken file: %v", err)
	}
}

func checkResults(t *testing.T, results []Result, wants []want) {
	t.Helper()
	var paths []string
	for _, r := range results {
		paths = append(paths, r.Reference.Path)
	}
	if len(results) != len(wants) {
		t.Fatalf("results for %v, want %d", paths, len(wants))
	}
	for i, w := range wants {
		r := results[i]
		if r.Reference.Path != w.path || r.Newest.Tag != w.newest || r.HasNewer() != (w.newest != "") || r.Listed != w.listed {
			t.Errorf("result %d: %s newest %q listed %v (%v); want %s newest %q listed %v", i, r.Reference.Path, r.Newest.Tag, r.Listed, r.Err, w.path, w.newest, w.listed)
		}
		if w.err == "" && r.Err != nil || w.err != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), w.err)) {
			t.Errorf("%s: error %v, want %q", w.path, r.Err, w.err)
		}
	}
}

func TestDescribe(t *testing.T) {
	reg, _ := startRegistry(t, 0)
	host := reg.Host()
	labels := map[string]string{LabelSource: "https://github.com/jupyterhub/repo2docker", LabelRevision: "47ea95a2f1b3c2d4e5f60718293a4b5c6d7e8f90"}
	push(t, host, "r2d:single", image(t, day(3), labels, "amd64"))
	amd, arm := image(t, day(5), labels, "amd64"), image(t, day(9), nil, "arm64")
	push(t, host, "r2d:multi", mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}}))
	push(t, host, "r2d:armonly", mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}}))
	annotated := mutate.Annotations(image(t, day(1), labels, "amd64"), map[string]string{LabelSource: "https://github.com/elsewhere/r2d"}).(v1.Image)
	push(t, host, "r2d:annotated", annotated)
	push(t, host, "r2d:bare", image(t, time.Time{}, nil, "amd64"))

	c := New(WithRetry(fastRetry))
	tests := []struct {
		tag              string
		created          time.Time
		source, revision string
	}{
		{"single", day(3), labels[LabelSource], labels[LabelRevision]},
		{"multi", day(5), labels[LabelSource], labels[LabelRevision]}, // linux/amd64's
		{"armonly", day(9), "", ""},                                   // the first image's
		{"annotated", day(1), "https://github.com/elsewhere/r2d", labels[LabelRevision]},
		{"bare", time.Time{}, "", ""},
	}
	for _, tt := range tests {
		d, err := c.Describe(t.Context(), host+"/r2d", tt.tag)
		if err != nil {
			t.Errorf("%s: %v", tt.tag, err)
			continue
		}
		if !d.Created.Equal(tt.created) || d.Source != tt.source || d.Revision != tt.revision || d.Tag != tt.tag || !strings.HasPrefix(d.Digest, "sha256:") {
			t.Errorf("%s: %+v, want created %s source %q revision %q", tt.tag, d, tt.created, tt.source, tt.revision)
		}
	}
	_, err := c.Describe(t.Context(), host+"/r2d", "nope")
	if err == nil || !strings.Contains(err.Error(), "describe "+host+"/r2d:nope on "+host) || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("describe a missing tag: %v", err)
	}
}

func TestSources(t *testing.T) {
	reg, _ := startRegistry(t, 0)
	host := reg.Host()
	src := map[string]string{LabelSource: "https://github.com/jupyterhub/repo2docker"}
	push(t, host, "r2d:2021.08.0-136.g47ea95a", image(t, day(1), src, "amd64"))
	push(t, host, "r2d:2022.02.0-58.gae8ed29", image(t, day(2), src, "amd64"))
	push(t, host, "r2d:2022.02.0", image(t, day(3), map[string]string{LabelSource: src[LabelSource], LabelRevision: "0123456789abcdef0123456789abcdef01234567"}, "amd64"))
	push(t, host, "r2d:nolabel", image(t, day(4), nil, "amd64"))
	c := New(WithRetry(fastRetry))
	tests := []struct {
		from, to string
		want     Source
	}{
		{"2021.08.0-136.g47ea95a", "2022.02.0-58.gae8ed29", Source{src[LabelSource], src[LabelSource] + "/compare/47ea95a...ae8ed29"}},
		{"2021.08.0-136.g47ea95a", "2022.02.0", Source{src[LabelSource], src[LabelSource] + "/compare/47ea95a...0123456789abcdef0123456789abcdef01234567"}},
		{"gone", "2022.02.0-58.gae8ed29", Source{src[LabelSource], ""}},
		{"2021.08.0-136.g47ea95a", "nolabel", Source{}},
	}
	for _, tt := range tests {
		got, err := c.Sources(t.Context(), host+"/r2d", tt.from, tt.to)
		if err != nil || got != tt.want {
			t.Errorf("Sources(%s, %s) = %+v, %v; want %+v", tt.from, tt.to, got, err, tt.want)
		}
	}
	if _, err := c.Sources(t.Context(), host+"/r2d", "nolabel", "gone"); err == nil {
		t.Error("Sources to a missing tag: no error")
	}
}
