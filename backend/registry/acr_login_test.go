package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ACRLogin gives any go-containerregistry client the login NewACR uses:
// the stand-in refuses an anonymous tag list and serves it to the
// exchanged token.
func TestACRLogin(t *testing.T) {
	e := startACR(t)
	e.p.push("apps/web:1.0", e.p.image(3, "amd64"))
	e.p.push("apps/web:1.1", e.p.image(1, "amd64"))
	repo, err := name.NewRepository(e.srv.Host()+"/apps/web", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.List(repo); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous list = %v, want UNAUTHORIZED", err)
	}
	cred, err := e.id.Credential()
	if err != nil {
		t.Fatal(err)
	}
	login, err := ACRLogin(e.srv.Host(), cred, WithRetryBackoff(fastRetry))
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(repo, remote.WithAuth(login), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags, []string{"1.0", "1.1"}) {
		t.Errorf("tags %v", tags)
	}
	if _, err := ACRLogin(e.srv.Host(), nil); err == nil || !strings.Contains(err.Error(), "needs an Azure credential") {
		t.Errorf("ACRLogin without a credential = %v", err)
	}
	if _, err := ACRLogin(e.srv.Host(), cred, WithConcurrency(0)); err == nil || !strings.Contains(err.Error(), e.srv.Host()) {
		t.Errorf("ACRLogin with a bad option = %v", err)
	}
}
