package registry

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	reg := startRegistry(t)
	id := startIdentity(t)
	srv := startACRServer(t, reg, id, opts...)
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

// startIdentity starts the managed identity (IMDS on loopback) that the
// ACR stand-in trusts, closed when the test ends.
func startIdentity(t testing.TB) *azuretest.Identity {
	t.Helper()
	id, err := azuretest.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Close() })
	return id
}

// startACRServer starts the ACR stand-in in front of reg, trusting id,
// closed when the test ends.
func startACRServer(t testing.TB, reg *registrytest.Registry, id *azuretest.Identity, opts ...acrtest.Option) *acrtest.Server {
	t.Helper()
	srv, err := acrtest.New(t.Context(), reg, append([]acrtest.Option{acrtest.WithIdentity(id)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}
