package acrtest_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
)

var synthNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func startSynthetic(t testing.TB, spec acrtest.Synthetic, opts ...acrtest.Option) *env {
	t.Helper()
	id := azuretest.ServeIdentity(t)
	return &env{id: id, srv: acrtest.ServeSynthetic(t, spec, append([]acrtest.Option{acrtest.WithIdentity(id)}, opts...)...)}
}

// listed is one manifest as the Azure SDK's listing gives it.
type listed struct {
	repo, digest string
	size         int64
	tags         []string
	created      time.Time
	mediaType    string
}

// sdkClient is the Azure SDK's own ACR client of the stand-in, logged in
// with the identity it trusts.
func sdkClient(t *testing.T, e *env) *azcontainerregistry.Client {
	t.Helper()
	cred, err := e.id.Credential()
	if err != nil {
		t.Fatal(err)
	}
	return sdkClientWith(t, e, cred)
}

// sdkClientWith is the Azure SDK's ACR client of the stand-in, logged in
// with cred.
func sdkClientWith(t *testing.T, e *env, cred azcore.TokenCredential) *azcontainerregistry.Client {
	t.Helper()
	client, err := azcontainerregistry.NewClient(e.srv.URL(), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// listAll lists every manifest of the registry through the Azure SDK.
func listAll(t *testing.T, e *env) []listed {
	t.Helper()
	client := sdkClient(t, e)
	ctx := t.Context()
	var out []listed
	repos := client.NewListRepositoriesPager(nil)
	for repos.More() {
		page, err := repos.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, repo := range page.Names {
			ms := client.NewListManifestsPager(*repo, nil)
			for ms.More() {
				mp, err := ms.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range mp.Attributes {
					l := listed{repo: *repo, digest: *m.Digest, size: *m.Size, created: *m.CreatedOn}
					if m.MediaType != nil {
						l.mediaType = *m.MediaType
					}
					for _, tag := range m.Tags {
						l.tags = append(l.tags, *tag)
					}
					out = append(out, l)
				}
			}
		}
	}
	return out
}

// TestSynthetic reads a made-up registry through the Azure SDK and
// go-containerregistry: every manifest is listed once with the size its
// content adds up to, every digest verifies, tags resolve, deletes and
// locks act, and the same spec gives the same registry.
func TestSynthetic(t *testing.T) {
	spec := acrtest.Synthetic{Repositories: 7, ManifestsPerRepository: 23, Seed: 3, Now: synthNow}
	e := startSynthetic(t, spec)
	all := listAll(t, e)
	if len(all) != 7*23 {
		t.Fatalf("listed %d manifests, want %d", len(all), 7*23)
	}
	repos := map[string]bool{}
	var untagged, indexes int
	for _, l := range all {
		repos[l.repo] = true
		if len(l.tags) == 0 {
			untagged++
		}
		if strings.Contains(l.mediaType, "index") {
			indexes++
		}
		if l.created.After(synthNow) || l.created.Before(synthNow.AddDate(-2, 0, -1)) {
			t.Errorf("%s@%s created %v, not in the two years before %v", l.repo, l.digest, l.created, synthNow)
		}
	}
	if len(repos) != 7 || indexes != 7 || untagged < 7*2 {
		t.Errorf("%d repositories, %d indexes, %d untagged; want 7, 7 and at least 14 (platform manifests and leftovers)", len(repos), indexes, untagged)
	}

	auth := authn.FromConfig(authn.AuthConfig{IdentityToken: e.refreshToken(t)})
	sizes := map[string]int64{}
	for _, l := range all {
		ref, err := name.ParseReference(e.srv.Host() + "/" + l.repo + "@" + l.digest)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(ref, remote.WithAuth(auth)) // verifies the digest
		if err != nil {
			t.Fatalf("get %s: %v", ref, err)
		}
		if desc.MediaType.IsIndex() {
			continue
		}
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := img.ConfigFile(); err != nil { // verifies the config's digest
			t.Fatalf("config of %s: %v", ref, err)
		}
		size := imageSize(t, img)
		sizes[l.digest] = size
		if size != l.size {
			t.Errorf("%s: listed imageSize %d, content adds up to %d", ref, l.size, size)
		}
	}
	for _, l := range all { // an index: the sum of its platform manifests
		if !strings.Contains(l.mediaType, "index") {
			continue
		}
		ref, _ := name.ParseReference(e.srv.Host() + "/" + l.repo + "@" + l.digest)
		idx, err := remote.Index(ref, remote.WithAuth(auth))
		if err != nil {
			t.Fatal(err)
		}
		im, _ := idx.IndexManifest()
		var sum int64
		for _, c := range im.Manifests {
			sum += sizes[c.Digest.String()]
		}
		if len(im.Manifests) != 2 || sum != l.size {
			t.Errorf("index %s: %d children adding up to %d, listed %d", ref, len(im.Manifests), sum, l.size)
		}
	}

	// Tags, through the registry API.
	repo := all[0].repo
	tags, err := remote.List(mustRepo(t, e.srv.Host()+"/"+repo), remote.WithAuth(auth))
	if err != nil || len(tags) == 0 {
		t.Fatalf("tags of %s: %v %v", repo, tags, err)
	}
	byTag, err := remote.Get(mustRef(t, e.srv.Host()+"/"+repo+":"+tags[0]), remote.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(all, func(l listed) bool { return l.digest == byTag.Digest.String() }); i < 0 || !slices.Contains(all[i].tags, tags[0]) {
		t.Errorf("tag %s resolves to %s, which the listing does not tag so", tags[0], byTag.Digest)
	}

	// Same spec, same registry; another seed, another.
	again := listAll(t, startSynthetic(t, spec))
	if !slices.EqualFunc(all, again, func(a, b listed) bool { return a.digest == b.digest && a.size == b.size && a.created.Equal(b.created) }) {
		t.Error("the same spec gave another registry")
	}
	spec.Seed++
	other := listAll(t, startSynthetic(t, spec))
	if other[0].digest == all[0].digest {
		t.Error("another seed gave the same first manifest")
	}
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSyntheticWrites: deletes act on what is served from then on, a lock
// refuses a delete as ACR does, and pushes and layer reads are refused
// with the registry's error codes.
func TestSyntheticWrites(t *testing.T) {
	e := startSynthetic(t, acrtest.Synthetic{Repositories: 2, ManifestsPerRepository: 12, Seed: 9, Now: synthNow})
	all := listAll(t, e)
	victim, locked := all[5], all[6]
	tok := e.accessToken(t, "repository:"+victim.repo+":pull,delete,push")
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"no token", "GET", "/v2/" + victim.repo + "/manifests/" + victim.digest, 401, "UNAUTHORIZED"},
		{"delete", "DELETE", "/v2/" + victim.repo + "/manifests/" + victim.digest, 202, ""},
		{"gone", "GET", "/v2/" + victim.repo + "/manifests/" + victim.digest, 404, "MANIFEST_UNKNOWN"},
		{"deleted twice", "DELETE", "/v2/" + victim.repo + "/manifests/" + victim.digest, 404, "MANIFEST_UNKNOWN"},
		{"locked", "DELETE", "/v2/" + locked.repo + "/manifests/" + locked.digest, 405, "REGISTRY_DISALLOWED_OPERATION"},
		{"push", "PUT", "/v2/" + victim.repo + "/manifests/new", 405, "UNSUPPORTED"},
		{"layer", "GET", "/v2/" + victim.repo + "/blobs/sha256:" + strings.Repeat("0", 64), 404, "BLOB_UNKNOWN"},
		{"unknown repository", "GET", "/v2/nope/manifests/" + victim.digest, 401, "UNAUTHORIZED"},
	}
	e.srv.Lock(locked.repo, locked.digest, false, true)
	for _, tc := range tests {
		h := bearer(tok)
		if tc.name == "no token" || tc.name == "unknown repository" {
			h = nil
		}
		r := e.do(t, tc.method, tc.path, h, "")
		if r.status != tc.status || r.errorCode() != tc.code {
			t.Errorf("%s: %d %q, want %d %q (%s)", tc.name, r.status, r.errorCode(), tc.status, tc.code, r.raw)
		}
	}
	after := listAll(t, e)
	if len(after) != len(all)-1 || slices.ContainsFunc(after, func(l listed) bool { return l.digest == victim.digest && l.repo == victim.repo }) {
		t.Errorf("after the delete %d listed (was %d), victim still there: %v", len(after), len(all),
			slices.ContainsFunc(after, func(l listed) bool { return l.digest == victim.digest }))
	}
}

// TestSyntheticSpec refuses a registry of nothing.
func TestSyntheticSpec(t *testing.T) {
	for _, spec := range []acrtest.Synthetic{{}, {Repositories: 1}, {ManifestsPerRepository: 1}, {Repositories: -1, ManifestsPerRepository: 5}} {
		if srv, err := acrtest.NewSynthetic(context.Background(), spec); err == nil {
			srv.Close()
			t.Errorf("%+v: no error", spec)
		}
	}
}
