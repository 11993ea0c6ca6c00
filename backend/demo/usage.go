package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/backend/usage/usagetest"
)

// The demo's usage: BinderHub launch events generated into its working
// directory for its images, and a Kubernetes stand-in whose namespace runs
// two notebook servers.
const (
	// KeepLaunchedWithin is the demo's keep_launched_within.
	KeepLaunchedWithin = 30 * 24 * time.Hour
	// KubeNamespace is the stand-in's BinderHub namespace.
	KubeNamespace = "binderhub"
	kubeToken     = "demo-service-account-token"
)

// UsageEnv is the demo's usage sources and what they were given.
type UsageEnv struct {
	// EventsDir holds events-*.jsonl.
	EventsDir string
	// Kube serves the running pods; Kubeconfig reaches it.
	Kube       *usagetest.Kube
	Kubeconfig string
	// Launched are the images ("repository:tag") launched within the
	// window, the most launched first; OldLaunched those of them over 90
	// days old; BeforeWindow old images launched only before the window;
	// Running the images of the running pods.
	Launched, OldLaunched, BeforeWindow, Running []string
}

var (
	hex6      = regexp.MustCompile(`-[0-9a-f]{6}$`)
	commitTag = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
)

// guessSpec makes a GitHub spec's repository part from a demo repository
// name (binder-<org>-<repo>-<hash>). The demo's names are not BinderHub's
// derivation, so the events match by ref alone; the spec is for looks.
func guessSpec(repository string) string {
	slug := hex6.ReplaceAllString(strings.TrimPrefix(unprefixed(repository), "binder-"), "")
	org, repo, ok := strings.Cut(slug, "-")
	if !ok {
		return slug + "/" + slug
	}
	return org + "/" + repo
}

// startUsage writes the demo's launch events and starts its Kubernetes
// stand-in, and points the configuration at them: launched within 30 days
// are the newest image of every BinderHub repository and three old images
// (persistent links to an old commit); three other old images were last
// launched before the window; two notebook servers run, one on an old
// image.
func (env *Env) startUsage(now time.Time) error {
	u := &UsageEnv{EventsDir: filepath.Join(env.dir, "events")}
	env.Usage = u
	if err := os.MkdirAll(u.EventsDir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	locked, archived := lockedImage(env.Seeded), archivedRepository(env.Seeded, now)
	// BinderHub tags an image with the commit it built; images re-tagged
	// since (their first tag a branch) are left out, as is the archive
	var newest, old []registrytest.SeededImage
	byRepo := map[string][]registrytest.SeededImage{}
	var repos []string
	for _, im := range env.Seeded.Images {
		if !strings.HasPrefix(unprefixed(im.Repository), "binder-") || len(im.Tags) == 0 || !commitTag.MatchString(im.Tags[0]) ||
			len(im.Children) > 0 || (locked != nil && im.Digest == locked.Digest) || im.Repository == archived {
			continue
		}
		if _, ok := byRepo[im.Repository]; !ok {
			repos = append(repos, im.Repository)
		}
		byRepo[im.Repository] = append(byRepo[im.Repository], im)
	}
	for _, repo := range repos {
		ims := byRepo[repo]
		slices.SortStableFunc(ims, func(a, b registrytest.SeededImage) int { return pushTime(b, now).Compare(pushTime(a, now)) })
		newest = append(newest, ims[0])
		for _, im := range ims[1:] {
			if now.Sub(pushTime(im, now)) > 90*24*time.Hour && im.Created.Year() >= 2000 {
				old = append(old, im)
			}
		}
	}
	slices.SortStableFunc(old, func(a, b registrytest.SeededImage) int { return a.Created.Compare(b.Created) })
	target := func(im registrytest.SeededImage) usagetest.Target {
		return usagetest.Target{Provider: "GitHub", Repo: guessSpec(im.Repository), Ref: im.Tags[0]}
	}
	name := func(im registrytest.SeededImage) string { return im.Repository + ":" + im.Tags[0] }
	// in the window: the newest images, with the old ones people still
	// launch among them (Zipf: the k-th is launched about 1/k^1.1 as often)
	var recent []usagetest.Target
	for k, im := range newest {
		recent = append(recent, target(im))
		u.Launched = append(u.Launched, name(im))
		if k%2 == 1 && len(u.OldLaunched) < 3 && len(old) > 0 {
			recent = append(recent, target(old[0]))
			u.Launched = append(u.Launched, name(old[0]))
			u.OldLaunched = append(u.OldLaunched, name(old[0]))
			old = old[1:]
		}
	}
	var before []usagetest.Target
	for len(before) < 3 && len(old) > 1 {
		before = append(before, target(old[0]))
		u.BeforeWindow = append(u.BeforeWindow, name(old[0]))
		old = old[1:]
	}
	files := []struct {
		name string
		e    usagetest.Events
	}{
		{"events-recent.jsonl", usagetest.Events{Targets: recent, From: now.Add(-KeepLaunchedWithin).Add(time.Hour), To: now.Add(-time.Minute), N: 4000, Seed: 13, FailureRate: 0.02}},
		{"events-older.jsonl", usagetest.Events{Targets: append(slices.Clone(recent), before...), From: now.Add(-4 * KeepLaunchedWithin), To: now.Add(-KeepLaunchedWithin).Add(-time.Hour), N: 3000, Seed: 14, Version: 4}},
	}
	for _, f := range files {
		var b strings.Builder
		if err := usagetest.Write(&b, f.e); err != nil {
			return fmt.Errorf("demo: events: %w", err)
		}
		path := filepath.Join(u.EventsDir, f.name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("demo: events: %w", err)
		}
	}

	u.Kube = usagetest.NewKube(kubeToken)
	env.closers = append(env.closers, u.Kube.Close)
	var pods []usagetest.Pod
	running := []registrytest.SeededImage{}
	if len(newest) > 0 {
		running = append(running, newest[0])
	}
	if len(old) > 0 {
		running = append(running, old[len(old)-1])
	}
	for k, im := range running {
		u.Running = append(u.Running, name(im))
		pods = append(pods, usagetest.Pod{Name: fmt.Sprintf("jupyter-%s-%d", strings.TrimPrefix(hex6.ReplaceAllString(unprefixed(im.Repository), ""), "binder-"), k),
			Labels:   map[string]string{"component": "singleuser-server", "app": "jupyterhub"},
			Images:   []string{env.Config.Registry.URL + "/" + im.Repository + ":" + im.Tags[0]},
			ImageIDs: []string{"docker-pullable://" + env.Config.Registry.URL + "/" + im.Repository + "@" + im.Digest}})
	}
	pods = append(pods, usagetest.Pod{Name: "hub-0", Labels: map[string]string{"component": "hub"}, Images: []string{"quay.io/jupyterhub/k8s-hub:4.2.0"}})
	u.Kube.SetPods(KubeNamespace, pods...)
	u.Kubeconfig = filepath.Join(env.dir, "kubeconfig")
	if err := u.Kube.WriteKubeconfig(u.Kubeconfig, KubeNamespace); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	p := &env.Config.Registry.Policy
	p.KeepLaunchedWithin = config.Age{Duration: KeepLaunchedWithin}
	p.Usage = []config.UsageSource{
		{Events: filepath.Join(u.EventsDir, "events-*.jsonl")},
		{Kubernetes: &config.KubernetesSource{Namespace: KubeNamespace, Kubeconfig: u.Kubeconfig}},
	}
	return nil
}
