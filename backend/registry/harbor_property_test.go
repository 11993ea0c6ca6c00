package registry

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/harbortest"
)

// The property on Harbor: the population in project testProject,
// pushed into the embedded registry, the Harbor stand-in in front of it,
// immutable-tag rules made before the scan and between scan and apply.

// testProject is the Harbor project the property's repositories are in.
const testProject = "binder"

// The robot account the property's Harbor client logs in with.
const (
	harborRobot  = "robot$binder+cleaner"
	harborSecret = "robot-secret"
)

// onHarbor starts the Harbor stand-in in front of the world's registry,
// with its push times, some pull times and immutable-tag rules, and a
// client of it through a fault proxy.
func (w *world) onHarbor() (*Harbor, *faulttest.Proxy) {
	w.logf("on Harbor")
	w.harbor = harbortest.Serve(w.t, w.reg, harbortest.WithClock(func() time.Time { return testNow }))
	w.harbor.AddUser(harborRobot, harborSecret, true)
	for k, age := range w.ages {
		w.harbor.SetPushTime(k.repo, k.digest, testNow.AddDate(0, 0, -age))
		if w.rnd.IntN(3) == 0 {
			w.harbor.SetPullTime(k.repo, k.digest, testNow.AddDate(0, 0, -w.rnd.IntN(age+1)))
		}
	}
	w.lockSome(nil, "")
	proxy := faulttest.Serve(w.t, w.harbor.URL(), faultOptions)
	opts := []Option{WithAuthenticator(&authn.Basic{Username: harborRobot, Password: harborSecret}),
		WithClock(func() time.Time { return testNow }), WithRetry(faultRetry)}
	if w.rnd.IntN(2) == 0 { // reads and assembly interleaved (scanListed)
		n := 1 + w.rnd.IntN(5)
		w.logf("batches of %d manifests", n)
		opts = append(opts, withBatch(n))
	}
	h, err := NewHarbor(proxy.Host(), nil, opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	return h, proxy
}

// immutableSome makes Harbor immutable-tag rules at random: a tag by name,
// or a pattern over tags, in one repository or all. Before the scan
// (planned nil) over any tag; after it, mostly over the tags of the
// repositories the plan deletes in.
func (w *world) immutableSome(planned []repoDigest, when string) []step {
	var steps []step
	for range w.rnd.IntN(3) {
		if len(w.tags) == 0 {
			break
		}
		rt := w.tags[w.rnd.IntN(len(w.tags))]
		if planned != nil && len(planned) > 0 {
			in := planned[w.rnd.IntN(len(planned))].repo + ":"
			for _, t := range w.tags {
				if strings.HasPrefix(t, in) && w.rnd.IntN(2) == 0 {
					rt = t
				}
			}
		}
		repo, tag, _ := strings.Cut(rt, ":")
		repoPat, tagPat := strings.TrimPrefix(repo, testProject+"/"), tag
		if w.rnd.IntN(3) == 0 {
			repoPat = "**"
		}
		switch w.rnd.IntN(4) {
		case 0:
			tagPat = tag + "*" // t1 and t10...
		case 1:
			tagPat = "{" + tag + ",keep" + tag + "}"
		}
		what := fmt.Sprintf("immutable rule: repositories %s, tags %s%s", repoPat, tagPat, when)
		do := func() { w.harbor.AddImmutableRule(testProject, repoPat, tagPat) }
		if planned == nil {
			w.logf("%s", what)
			do()
			continue
		}
		steps = append(steps, step{what, func(context.Context) error { do(); return nil }})
	}
	return steps
}

// deletePath is the path of the request that deletes repo@digest: the
// distribution API's, or Harbor's artifact API.
func (w *world) deletePath(repo, digest string) string {
	if w.harbor != nil {
		_, name, _ := strings.Cut(repo, "/")
		return "/api/v2.0/projects/" + testProject + "/repositories/" + name + "/artifacts/" + digest
	}
	return "/v2/" + repo + "/manifests/" + digest
}
