package imagetags

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Reaching registries: an unreachable one, faults retried, plain HTTP only
// to loopback, ACR and the keychain.

// A registry that cannot be reached is an error naming its host, after
// the retry policy's attempts; the other lookups are not held up.
func TestUnreachableRegistry(t *testing.T) {
	reg, _ := startRegistry(t, 0)
	pushTags(t, reg.Host(), "a/b", "1.0.0", "1.1.0")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	var retries atomic.Int32
	p := fastRetry
	p.OnRetry = func(retry.Retry) { retries.Add(1) }
	c := New(WithRetry(p))
	content := fmt.Sprintf("a: {image: %s/a/b:1.0.0}\nb: {image: %s/c/d:1.0.0}\n", reg.Host(), dead)
	_, results, err := c.CheckFile(t.Context(), "v.yaml", []byte(content), model.ImageRules{})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, []want{
		{"a.image", "1.1.0", true, ""},
		{"b.image", "", false, "list the tags of " + dead + "/c/d on " + dead},
	})
	if !strings.Contains(results[1].Err.Error(), "3 attempts") || retries.Load() < 2 {
		t.Errorf("error %v after %d retries; want the policy's 3 attempts", results[1].Err, retries.Load())
	}
}

// Transient faults are retried by the policy.
func TestFaultsRetried(t *testing.T) {
	reg, _ := startRegistry(t, 0)
	pushTags(t, reg.Host(), "a/b", "1.0.0", "1.1.0")
	proxy, err := faulttest.Start("http://"+reg.Host(), faulttest.Options{Seed: 7, Rules: []faulttest.Rule{
		{Path: regexp.MustCompile(`/tags/list`), Rate: 1, Kinds: []faulttest.Kind{faulttest.Unavailable, faulttest.ResetBeforeHeaders}, Times: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	c := New(WithRetry(fastRetry))
	_, results, err := c.CheckFile(t.Context(), "v.yaml", []byte("image: "+proxy.Host()+"/a/b:1.0.0\n"), model.ImageRules{})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, []want{{"image", "1.1.0", true, ""}})
	if n := len(proxy.Injected()); n != 2 {
		t.Errorf("%d faults injected, want 2", n)
	}
}

// go-containerregistry falls back to plain HTTP for private addresses; the
// client never does. No packet leaves: the transport is a stub.
func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	stub := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		sent = append(sent, r.URL.String())
		mu.Unlock()
		return nil, errors.New("no network in tests")
	})
	c := New(WithTransport(stub), WithRetry(retry.Policy{MaxAttempts: 1}))
	_, err := c.Tags(t.Context(), "10.1.2.3:5000/a/b")
	if err == nil || !strings.Contains(err.Error(), "on 10.1.2.3:5000") {
		t.Fatalf("Tags = %v", err)
	}
	for _, u := range sent {
		if strings.HasPrefix(u, "http:") {
			t.Errorf("sent %s in plain HTTP", u)
		}
	}
	if len(sent) == 0 {
		t.Error("nothing sent over TLS either")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// askedKeychain records the registries it is asked about and answers
// anonymous.
type askedKeychain struct {
	mu    sync.Mutex
	asked []string
}

func (k *askedKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asked = append(k.asked, r.RegistryStr())
	return authn.Anonymous, nil
}

// An ACR is read with the managed-identity login (the stand-in refuses
// anonymous reads); other registries through the keychain.
func TestACRAndKeychain(t *testing.T) {
	azuretest.HermeticEnv(t)
	reg, _ := startRegistry(t, 0)
	pushTags(t, reg.Host(), "apps/web", "1.0.0", "1.2.0")
	id, err := azuretest.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Close() })
	acr, err := acrtest.New(t.Context(), reg, acrtest.WithIdentity(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acr.Close() })
	cred, err := id.Credential()
	if err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf("acr: {image: %s/apps/web:1.0.0}\nplain: {image: %s/apps/web:1.0.0}\n", acr.Host(), reg.Host())

	_, results, err := New(WithRetry(fastRetry)).CheckFile(t.Context(), "v.yaml", []byte(content), model.ImageRules{})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Err == nil || !strings.Contains(results[0].Err.Error(), "UNAUTHORIZED") {
		t.Errorf("anonymous read of the ACR: %v", results[0].Err)
	}

	keys := &askedKeychain{}
	c := New(WithRetry(fastRetry), WithKeychain(keys), WithAzureCredential(cred, acr.Host()))
	_, results, err = c.CheckFile(t.Context(), "v.yaml", []byte(content), model.ImageRules{})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, []want{{"acr.image", "1.2.0", true, ""}, {"plain.image", "1.2.0", true, ""}})
	if !slices.Equal(slices.Compact(keys.asked), []string{reg.Host()}) {
		t.Errorf("keychain asked about %v, want only %s", keys.asked, reg.Host())
	}
}
