package registry

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// acrEnv is the embedded registry behind the ACR stand-in, with the
// managed identity it trusts.
type acrEnv struct {
	reg *registrytest.Registry
	id  *azuretest.Identity
	srv *acrtest.Server
	p   pusher
}

func startACR(t *testing.T, opts ...acrtest.Option) *acrEnv {
	t.Helper()
	azuretest.HermeticEnv(t)
	reg := registrytest.Serve(t)
	id := azuretest.ServeIdentity(t)
	srv := acrtest.Serve(t, reg, append([]acrtest.Option{acrtest.WithIdentity(id)}, opts...)...)
	return &acrEnv{reg: reg, id: id, srv: srv, p: pusher{t, reg.Host()}}
}

// client logs in through the stand-in's managed identity (IMDS routed to
// loopback).
func (e *acrEnv) client(t *testing.T, opts ...Option) *ACR {
	t.Helper()
	cred, err := e.id.Credential()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewACR(e.srv.Host(), cred, append([]Option{WithClock(func() time.Time { return testNow }), WithRetryBackoff(fastRetry)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushedAt pushes x as repo:tag and tells the stand-in it was pushed
// ageDays before testNow.
func (e *acrEnv) pushedAt(t *testing.T, repoTag string, x interface {
	Digest() (v1.Hash, error)
}, ageDays int) string {
	t.Helper()
	e.p.push(repoTag, x.(interface {
		Digest() (v1.Hash, error)
		RawManifest() ([]byte, error)
		MediaType() (types.MediaType, error)
	}))
	d := digestOf(t, x)
	repo, _, _ := strings.Cut(repoTag, ":")
	repo, _, _ = strings.Cut(repo, "@")
	e.srv.SetCreated(repo, d, testNow.AddDate(0, 0, -ageDays))
	return d
}

// acrScene is a registry with every case ACR adds: an untagged manifest
// left by a re-tag, an index whose platform manifests ACR lists as
// untagged entries, a signature of an image, a locked image, and an image
// whose config says 1970.
type acrScene struct {
	old, retagged, cur, idx, amd, arm, sig, locked, nix string
	// platforms are the index's platform manifests (amd, arm).
	platforms [2]v1.Image
}

func buildScene(t *testing.T, e *acrEnv) acrScene {
	var s acrScene
	s.retagged = e.pushedAt(t, "app:v1", e.p.image(40, "amd64"), 30) // then v1 moves on
	e.pushedAt(t, "app:v1", e.p.image(20, "amd64"), 20)
	s.old = e.pushedAt(t, "app:v0", e.p.image(120, "amd64"), 100)
	cur := e.p.image(1, "amd64")
	s.cur = e.pushedAt(t, "app:v2", cur, 1)
	amd, arm := e.p.image(150, "amd64"), e.p.image(150, "arm64")
	idx := e.p.index("multi", amd, arm)
	s.idx = e.pushedAt(t, "multi:latest", idx, 150)
	s.amd, s.arm = digestOf(t, amd), digestOf(t, arm)
	s.platforms = [2]v1.Image{amd, arm}
	e.srv.SetCreated("multi", s.amd, testNow.AddDate(0, 0, -150))
	e.srv.SetCreated("multi", s.arm, testNow.AddDate(0, 0, -150))
	// A signature of app:v2: an OCI manifest whose subject is it, untagged,
	// put as registries with the referrers API take it (go-containerregistry
	// would add the fallback tag scheme here).
	base := mutate.MediaType(e.p.image(1, "amd64"), types.OCIManifestSchema1)
	e.p.push("app@"+digestOf(t, base), base) // its config and layers
	sig := mutate.Subject(base, v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: must[v1.Hash](t)(cur.Digest()), Size: must[int64](t)(cur.Size())}).(v1.Image)
	s.sig = digestOf(t, sig)
	e.p.putRaw("app", s.sig, types.OCIManifestSchema1, must[[]byte](t)(sig.RawManifest()))
	e.srv.SetCreated("app", s.sig, testNow.AddDate(0, 0, -30))
	s.locked = e.pushedAt(t, "app:pinned", e.p.image(400, "amd64"), 400)
	e.srv.Lock("app", s.locked, false, true)
	nix := e.p.image(0, "amd64")
	cf := must[*v1.ConfigFile](t)(nix.ConfigFile()).DeepCopy()
	cf.Created = v1.Time{Time: time.Unix(1, 0).UTC()}
	nix = must[v1.Image](t)(mutate.ConfigFile(nix, cf))
	s.nix = e.pushedAt(t, "nix:1", nix, 5)
	return s
}

// lockScene is a registry for TestACRLocks: in app, a tagged image (v1),
// another (stable) and an untagged one; in multi, an index (latest) of an
// amd64 and an arm64 platform manifest, the arm64 one also tagged arm
// when armTagged; in free, one image. Everything is 400 days old, so an
// age policy plans every image no lock holds.
type lockScene struct {
	v1, stable, untagged, idx, amd, arm, free string
}

func buildLockScene(t *testing.T, e *acrEnv, armTagged bool) lockScene {
	t.Helper()
	var s lockScene
	s.v1 = e.pushedAt(t, "app:v1", e.p.image(400, "amd64"), 400)
	s.stable = e.pushedAt(t, "app:stable", e.p.image(400, "amd64"), 400)
	loose := e.p.image(400, "amd64")
	s.untagged = e.pushedAt(t, "app@"+digestOf(t, loose), loose, 400)
	amd, arm := e.p.image(400, "amd64"), e.p.image(400, "arm64")
	s.idx = e.pushedAt(t, "multi:latest", e.p.index("locks", amd, arm), 400)
	s.amd, s.arm = digestOf(t, amd), digestOf(t, arm)
	for _, d := range []string{s.amd, s.arm} {
		e.srv.SetCreated("multi", d, testNow.AddDate(0, 0, -400))
	}
	if armTagged {
		e.p.tag("multi:arm", "multi@"+s.arm)
	}
	s.free = e.pushedAt(t, "free:x", e.p.image(400, "amd64"), 400)
	return s
}
