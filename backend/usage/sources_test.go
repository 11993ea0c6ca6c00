package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/helmupgradebot/helmupgradebot/backend/usage/usagetest"
)

func TestReadGlob(t *testing.T) {
	dir := t.TempDir()
	tg := []usagetest.Target{{Provider: "GitHub", Repo: "a/b", Ref: sha1}}
	usagetest.WriteFile(t, filepath.Join(dir, "events-1.jsonl"), usagetest.Events{Targets: tg, From: now.Add(-48 * time.Hour), To: now, N: 10})
	usagetest.WriteFile(t, filepath.Join(dir, "events-2.jsonl"), usagetest.Events{Targets: tg, From: now.Add(-48 * time.Hour), To: now, N: 5, Version: 3})
	old := filepath.Join(dir, "events-0.jsonl")
	usagetest.WriteFile(t, old, usagetest.Events{Targets: tg, From: now.AddDate(0, -3, 0), To: now.AddDate(0, -2, 0), N: 7})
	if err := os.Chtimes(old, now.AddDate(0, -2, 0), now.AddDate(0, -2, 0)); err != nil {
		t.Fatal(err)
	}
	r := NewReader(Sources{Window: 30 * 24 * time.Hour, Events: []string{filepath.Join(dir, "events-*.jsonl"), filepath.Join(dir, "nothing-*.jsonl")}},
		WithClock(func() time.Time { return now }), WithCacheDir(""))
	obs := r.Read(context.Background())
	if len(obs.Sources) != 2 {
		t.Fatalf("sources %+v", obs.Sources)
	}
	s := obs.Sources[0]
	if s.Error != "" || s.Files != 3 || s.Events != 22 {
		t.Errorf("glob: %+v", s)
	}
	if obs.Launches.InWindow != 15 {
		t.Errorf("in window %d", obs.Launches.InWindow)
	}
	if e := obs.Sources[1].Error; !strings.Contains(e, "no file matches") {
		t.Errorf("a glob matching nothing is an error: %q", e)
	}
	// a file of garbage is an error, not an empty source
	if err := os.WriteFile(filepath.Join(dir, "junk.jsonl"), []byte("<html>\n<body>not found</body>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	obs = NewReader(Sources{Window: time.Hour, Events: []string{filepath.Join(dir, "junk.jsonl")}}, WithCacheDir("")).Read(context.Background())
	if e := obs.Sources[0].Error; !strings.Contains(e, "no line is an event") {
		t.Errorf("garbage: %q", e)
	}
}

// TestEventsSourceWithoutLaunchInWindowIsUnknown: an events source that
// read no launch event in the window (the empty file logrotate leaves, a
// log that stopped being written, an archive's empty days) cannot say
// that nobody launched anything: like a source that could not be read, it
// makes the usage unknown, so nothing is deleted, unless its allow_empty
// trusts it. Launches in the window, failed ones too, show it is written.
func TestEventsSourceWithoutLaunchInWindowIsUnknown(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, e usagetest.Events, extra string) string {
		var buf bytes.Buffer
		if err := usagetest.Write(&buf, e); err != nil {
			t.Fatal(err)
		}
		buf.WriteString(extra)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tg := []usagetest.Target{{Provider: "GitHub", Repo: "binder-examples/octave", Ref: sha1}}
	window := 30 * 24 * time.Hour
	old := usagetest.Events{Targets: tg, From: now.AddDate(0, -3, 0), To: now.AddDate(0, -2, 0), N: 20}
	a := &archive{files: map[string][]byte{}, hits: map[string]int{}, fail: map[string]int{}}
	for d := range 31 { // every day published, and empty
		a.files["/events-"+now.AddDate(0, 0, -d).Format(time.DateOnly)+".jsonl"] = nil
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	for _, tc := range []struct {
		name, src string
		want      string // in the error; "" for none
	}{
		{"an empty file", write("empty.jsonl", usagetest.Events{}, ""), "it is empty"},
		{"blank lines only", write("blank.jsonl", usagetest.Events{}, "\n\n  \n"), "it is empty"},
		{"launches before the window only", write("stale.jsonl", old, ""), "its launch events (20) are all older"},
		{"other events only", write("other.jsonl", usagetest.Events{}, `{"timestamp": "2026-11-26T00:00:00Z", "schema": "binderhub.jupyter.org/other", "version": 1}`+"\n"),
			"its lines (1) hold no launch event"},
		{"a glob of an empty file and a rotated one", filepath.Join(dir, "e[ms]*.jsonl"), "no launch event since 2026-10-27T12:00:00Z"},
		{"an archive of empty days", srv.URL + "/events-{date}.jsonl", "it is empty"},
		{"launches in the window", write("live.jsonl", usagetest.Events{Targets: tg, From: now.Add(-time.Hour), To: now, N: 3}, ""), ""},
		{"failed launches in the window", write("failed.jsonl", usagetest.Events{Targets: tg, From: now.Add(-time.Hour), To: now, N: 3, FailureRate: 1}, ""), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				src := Sources{Window: window, Events: []string{tc.src}}
				if allow {
					src.AllowEmpty = []string{tc.src}
				}
				obs := NewReader(src, WithClock(func() time.Time { return now }), WithCacheDir("")).Read(context.Background())
				s := obs.Sources[0]
				unknown := Match(testInventory(t), obs).Usage.Unknown
				switch {
				case tc.want == "" || allow:
					if s.Error != "" || unknown != "" {
						t.Errorf("allow_empty %v: error %q, unknown %q", allow, s.Error, unknown)
					}
				case !strings.Contains(s.Error, tc.want) || !strings.Contains(s.Error, "allow_empty") || !strings.Contains(unknown, s.Source):
					t.Errorf("error %q, want %q; unknown %q", s.Error, tc.want, unknown)
				}
			}
		})
	}
}

// archive serves events-{date}.jsonl files with ETag and Last-Modified, as
// a static bucket does, counting requests per path.
type archive struct {
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	fail  map[string]int
}

func (a *archive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hits[r.URL.Path]++
	if code := a.fail[r.URL.Path]; code != 0 {
		w.WriteHeader(code)
		return
	}
	body, ok := a.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	etag := fmt.Sprintf(`"%d"`, len(body))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(body)
}

func TestReadURL(t *testing.T) {
	a := &archive{files: map[string][]byte{}, hits: map[string]int{}, fail: map[string]int{}}
	day := func(d int) time.Time { return time.Date(2026, 11, 26-d, 0, 0, 0, 0, time.UTC) }
	for d := 1; d <= 5; d++ { // no file for today: not published yet
		var buf bytes.Buffer
		_ = usagetest.Write(&buf, usagetest.Events{Targets: []usagetest.Target{{Provider: "GitHub", Repo: "a/b", Ref: sha1}}, From: day(d), To: day(d - 1), N: 10, Seed: uint64(d)})
		a.files["/events-"+day(d).Format(time.DateOnly)+".jsonl"] = buf.Bytes()
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	cache := t.TempDir()
	read := func() *Observed {
		return NewReader(Sources{Window: 5 * 24 * time.Hour, Events: []string{srv.URL + "/events-{date}.jsonl"}},
			WithClock(func() time.Time { return now }), WithCacheDir(cache)).Read(context.Background())
	}
	obs := read()
	s := obs.Sources[0]
	if s.Error != "" || s.Files != 5 || s.Skipped != 1 || s.Events != 50 {
		t.Fatalf("first read: %+v", s)
	}
	// again: the settled days (ended 48 h ago or more) come from the
	// cache; the recent ones are revalidated
	obs = read()
	if s := obs.Sources[0]; s.Error != "" || s.Events != 50 {
		t.Fatalf("second read: %+v", s)
	}
	for d := 1; d <= 5; d++ {
		want := 1
		if d <= 2 {
			want = 2
		}
		if got := a.hits["/events-"+day(d).Format(time.DateOnly)+".jsonl"]; got != want {
			t.Errorf("day -%d fetched %d times, want %d", d, got, want)
		}
	}
	// a missing old day, or a server error, is an error of the source
	a.mu.Lock()
	delete(a.files, "/events-"+day(4).Format(time.DateOnly)+".jsonl")
	a.fail["/events-"+day(1).Format(time.DateOnly)+".jsonl"] = http.StatusBadGateway
	a.mu.Unlock()
	cache = t.TempDir()
	s = read().Sources[0]
	if !strings.Contains(s.Error, "404") || !strings.Contains(s.Error, "502") {
		t.Errorf("errors: %q", s.Error)
	}
}

// TestSignedEventsURLNeverShown: an events URL authorised by its query
// string (a SAS sig=, a signed S3 URL) or a userinfo password is shown
// redacted: in the source's name, its error (net/http's included), its
// first bad line, the unknown usage's reason and the cache's metadata.
func TestSignedEventsURLNeverShown(t *testing.T) {
	const secret = "U2lnbmF0dXJlT2ZUaGVTQVM"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path[:strings.LastIndexByte(r.URL.Path, '/')] {
		case "/forbidden":
			http.Error(w, "AuthenticationFailed", http.StatusForbidden)
		case "/garbage":
			w.Header().Set("ETag", `"1"`)
			_, _ = w.Write([]byte("<html>not events</html>\n"))
		case "/redirect":
			http.Redirect(w, r, "/hangup/x?X-Amz-Credential=AKIA"+secret+"&X-Amz-Signature="+secret, http.StatusFound)
		case "/hangup":
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct{ name, url, want string }{
		{"azure sas, 403", srv.URL + "/forbidden/events-{date}.jsonl?sv=2022-11-02&sp=r&sig=" + secret, "403"},
		{"userinfo password, 403", "http://bot:" + secret + "@" + host + "/forbidden/events-{date}.jsonl", "403"},
		{"signed s3, garbage", srv.URL + "/garbage/events-{date}.jsonl?X-Amz-Signature=" + secret + "&X-Amz-Security-Token=" + secret, "no line is an event"},
		{"redirected to another signed URL, then cut", srv.URL + "/redirect/events-{date}.jsonl?token=" + secret, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			obs := NewReader(Sources{Window: 24 * time.Hour, Events: []string{tc.url}}, WithClock(func() time.Time { return now }), WithCacheDir(cache)).Read(context.Background())
			s := obs.Sources[0]
			if !strings.Contains(s.Error, tc.want) || !strings.Contains(s.Source, "REDACTED") {
				t.Errorf("source %q, error %q, want %q", s.Source, s.Error, tc.want)
			}
			shown, _ := json.Marshal(obs.Sources)
			shown = append(shown, Match(testInventory(t), obs).Usage.Unknown...)
			_ = filepath.WalkDir(cache, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(path)
					shown = append(shown, b...)
				}
				return nil
			})
			if strings.Contains(string(shown), secret) {
				t.Errorf("the signature is shown: %s", shown)
			}
		})
	}
}

func TestReadKubernetes(t *testing.T) {
	k := usagetest.ServeKube(t, "s3cret")
	var pods []usagetest.Pod
	for i := range 1203 { // three pages of 500
		pods = append(pods, usagetest.Pod{Name: fmt.Sprintf("jupyter-x-%d", i), Labels: map[string]string{"component": "singleuser-server"},
			Images: []string{fmt.Sprintf("r.example/binder-x:%d", i)}})
	}
	pods = append(pods,
		usagetest.Pod{Name: "done", Labels: map[string]string{"component": "singleuser-server"}, Phase: "Succeeded", Images: []string{"r.example/binder-x:old"}},
		usagetest.Pod{Name: "hub", Labels: map[string]string{"component": "hub"}, Images: []string{"r.example/hub:1"}})
	k.SetPods("binderhub", pods...)
	cfg := k.Kubeconfig(t, "binderhub")
	r := NewReader(Sources{Kubernetes: []Kube{{Kubeconfig: cfg}, {Namespace: "other", Kubeconfig: cfg}}}, WithCacheDir(""))
	obs := r.Read(context.Background())
	if s := obs.Sources[0]; s.Error != "" || s.Pods != 1203 || len(obs.Pods) != 1203 {
		t.Fatalf("pods: %+v (%d images)", s, len(obs.Pods))
	}
	if k.Requests() != 4 {
		t.Errorf("%d requests, want 3 pages + 1", k.Requests())
	}
	k.Forbid("other")
	obs = r.Read(context.Background())
	if e := obs.Sources[1].Error; !strings.Contains(e, "403") || !strings.Contains(e, "cannot list") {
		t.Errorf("forbidden: %q", e)
	}
	// the wrong token
	bad := strings.Replace(mustRead(t, cfg), "s3cret", "wrong", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if e := r.Read(context.Background()).Sources[0].Error; !strings.Contains(e, "401") {
		t.Errorf("bad token: %q", e)
	}
}

// TestPodsThatMayRunUseTheirImages: a pod uses its images while it runs,
// starts (Pending: no imageID yet) or has lost its node (Unknown), through
// its containers, init containers and ephemeral (debug) containers alike;
// a finished pod uses none.
func TestPodsThatMayRunUseTheirImages(t *testing.T) {
	k := usagetest.ServeKube(t, "t")
	sel := map[string]string{"component": "singleuser-server"}
	k.SetPods("ns",
		usagetest.Pod{Name: "running", Labels: sel, Images: []string{"r.example/a:1"}, InitImages: []string{"r.example/init:1"}, EphemeralImages: []string{"r.example/debug:1"}},
		usagetest.Pod{Name: "starting", Labels: sel, Phase: "Pending", Images: []string{"r.example/binder/foo"}},
		usagetest.Pod{Name: "lost", Labels: sel, Phase: "Unknown", Images: []string{"r.example/b:1"}},
		usagetest.Pod{Name: "done", Labels: sel, Phase: "Succeeded", Images: []string{"r.example/c:1"}},
		usagetest.Pod{Name: "failed", Labels: sel, Phase: "Failed", Images: []string{"r.example/d:1"}},
	)
	cfg := k.Kubeconfig(t, "ns")
	obs := NewReader(Sources{Kubernetes: []Kube{{Kubeconfig: cfg}}}, WithCacheDir("")).Read(context.Background())
	if s := obs.Sources[0]; s.Error != "" || s.Pods != 3 {
		t.Fatalf("pods: %+v", s)
	}
	got := map[string]string{}
	for _, p := range obs.Pods {
		got[p.Image] = p.Pod
	}
	for _, tc := range []struct{ image, pod string }{
		{"r.example/a:1", "running"},
		{"r.example/init:1", "running"},
		{"r.example/debug:1", "running"},
		{"r.example/binder/foo", "starting"},
		{"r.example/b:1", "lost"},
		{"r.example/c:1", ""},
		{"r.example/d:1", ""},
	} {
		if got[tc.image] != tc.pod {
			t.Errorf("%s: used by %q, want %q", tc.image, got[tc.image], tc.pod)
		}
	}
}

// TestKubeInCluster: in a pod, the service account's token, CA and
// namespace are used.
func TestKubeInCluster(t *testing.T) {
	k := usagetest.ServeKube(t, "pod-token")
	k.SetPods("hub-ns", usagetest.Pod{Name: "p", Labels: map[string]string{"component": "singleuser-server"}, Images: []string{"r.example/a:1"}})
	sa := t.TempDir()
	for name, data := range map[string]string{"token": "pod-token\n", "ca.crt": string(k.CAPEM()), "namespace": "hub-ns"} {
		if err := os.WriteFile(filepath.Join(sa, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := strings.Cut(strings.TrimPrefix(k.URL(), "https://"), ":")
	env := map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
	obs := NewReader(Sources{Kubernetes: []Kube{{}}}, WithGetenv(func(k string) string { return env[k] }), WithServiceAccountDir(sa), WithCacheDir("")).Read(context.Background())
	if s := obs.Sources[0]; s.Error != "" || s.Pods != 1 {
		t.Errorf("in cluster: %+v", s)
	}
}

// TestKubeStandInIsAPodList: the stand-in's answer decodes strictly into
// the real v1 PodList type, so the client reads what an API server sends.
func TestKubeStandInIsAPodList(t *testing.T) {
	k := usagetest.ServeKube(t, "t")
	k.SetPods("ns", usagetest.Pod{Name: "p", Labels: map[string]string{"component": "singleuser-server"}, Images: []string{"r/a:1"}, ImageIDs: []string{"docker-pullable://r/a@sha256:00"},
		InitImages: []string{"r/init:1"}, EphemeralImages: []string{"r/debug:1"}})
	cfg := k.Kubeconfig(t, "ns")
	kc, err := loadKubeconfig(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, k.URL()+"/api/v1/namespaces/ns/pods?labelSelector=component%3Dsingleuser-server", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := kc.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	var pl corev1.PodList
	if err := dec.Decode(&pl); err != nil {
		t.Fatal(err)
	}
	if len(pl.Items) != 1 || pl.Items[0].Status.Phase != corev1.PodRunning || pl.Items[0].Status.ContainerStatuses[0].ImageID == "" ||
		len(pl.Items[0].Spec.InitContainers) != 1 || len(pl.Items[0].Spec.EphemeralContainers) != 1 || len(pl.Items[0].Status.EphemeralContainerStatuses) != 1 {
		t.Errorf("%+v", pl.Items)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
