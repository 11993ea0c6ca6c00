// This file is a little over 500 lines: one table of the vendor clients
// (the Azure SDK, go-containerregistry) that check the stand-in, over
// fixtures they share.

package acrtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// requestsSince returns the stand-in's requests after the first n.
func requestsSince(srv *acrtest.Server, n int) []acrtest.Request { return srv.Requests()[n:] }

// kinds lists "KIND STATUS" of requests, for readable comparisons.
func kinds(reqs []acrtest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Kind+" "+http.StatusText(r.Status))
	}
	return out
}

func isManifestBlob(mediaType string) bool {
	return strings.Contains(mediaType, "manifest") || strings.Contains(mediaType, "index")
}

// TestAzureSDKClient drives the stand-in with the Azure SDK's own ACR
// client and managed-identity credential (IMDS, through the identity's
// transport), over plain http.
func TestAzureSDKClient(t *testing.T) {
	azuretest.HermeticEnv(t)
	e := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seeded, err := e.reg.Populate(ctx, registrytest.Population{Repositories: 1, TagsPerRepository: 110, MultiPlatform: true, Seed: 7, Scale: 16})
	if err != nil {
		t.Fatal(err)
	}
	repo := seeded.Repositories[0]
	untagged := e.push(t, repo, "amd64")
	for _, tag := range []string{"x", "y", "z"} {
		e.push(t, "other/one", "arm64", tag)
	}
	e.push(t, "zeta", "amd64", "latest")

	// the truth: every manifest of repo, with its tags and ACR's imageSize
	wantTags := map[string][]string{untagged.digest: nil}
	wantSize := map[string]int64{untagged.digest: untagged.imageSize}
	var index *registrytest.SeededImage
	for i, im := range seeded.Images {
		wantTags[im.Digest] = slices.Sorted(slices.Values(im.Tags))
		var size int64
		for _, b := range im.Blobs {
			if !isManifestBlob(b.MediaType) {
				size += b.Size
			}
		}
		if len(im.Children) == 0 {
			// an index's platform images share layers, which Blobs counts
			// once and ACR once per platform manifest: checked below
			wantSize[im.Digest] = size
		}
		for _, c := range im.Children {
			wantTags[c] = nil
			index = &seeded.Images[i]
		}
	}
	if index == nil || len(wantTags) <= acrtest.DefaultPageSize {
		t.Fatalf("population has %d manifests (index %v), want over %d with an index", len(wantTags), index != nil, acrtest.DefaultPageSize)
	}

	co := azcore.ClientOptions{Transport: e.id.Transport(), Retry: policy.RetryOptions{MaxRetries: -1}}
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: co})
	if err != nil {
		t.Fatal(err)
	}
	client, err := azcontainerregistry.NewClient(e.srv.URL(), cred, &azcontainerregistry.ClientOptions{ClientOptions: co})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("repositories", func(t *testing.T) {
		var names []string
		pages := 0
		pager := client.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](2)})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, n := range page.Repositories.Names {
				names = append(names, *n)
			}
		}
		want := []string{"other/one", repo, "zeta"}
		slices.Sort(want)
		if !slices.Equal(names, want) || pages != 2 {
			t.Errorf("repositories %v in %d pages, want %v in 2", names, pages, want)
		}
	})

	t.Run("manifests", func(t *testing.T) {
		var sizes []int
		got := map[string]*azcontainerregistry.ManifestAttributes{}
		var order []string
		pager := client.NewListManifestsPager(repo, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(page.Attributes))
			for _, m := range page.Attributes {
				got[*m.Digest] = m
				order = append(order, *m.Digest)
			}
		}
		if wantSizes := []int{100, len(wantTags) - 100}; !slices.Equal(sizes, wantSizes) || !slices.IsSorted(order) {
			t.Errorf("pages of %v, sorted %v; want %v by digest", sizes, slices.IsSorted(order), wantSizes)
		}
		if len(got) != len(wantTags) {
			t.Fatalf("%d manifests, want %d", len(got), len(wantTags))
		}
		var childSizes int64
		for d, tags := range wantTags {
			m := got[d]
			if m == nil {
				t.Errorf("%s not listed", d)
				continue
			}
			var gotTags []string
			for _, tag := range m.Tags {
				gotTags = append(gotTags, *tag)
			}
			if !slices.Equal(gotTags, tags) {
				t.Errorf("%s tags %v, want %v", d, gotTags, tags)
			}
			if m.CreatedOn == nil || m.LastUpdatedOn == nil || time.Since(*m.CreatedOn) > time.Hour || m.ChangeableAttributes == nil || !*m.ChangeableAttributes.CanDelete {
				t.Errorf("%s attributes %+v", d, m)
			}
			if want, ok := wantSize[d]; ok && (m.Size == nil || *m.Size != want) {
				t.Errorf("%s imageSize %d, want %d (tags %v)", d, *m.Size, want, tags)
			}
			if slices.Contains(index.Children, d) {
				childSizes += *m.Size
				if m.Architecture == nil || m.OperatingSystem == nil {
					t.Errorf("platform manifest %s without architecture/os", d)
				}
			}
		}
		if *got[index.Digest].Size != childSizes {
			t.Errorf("index imageSize %d, want the sum of its platform manifests' %d", *got[index.Digest].Size, childSizes)
		}

		var last time.Time
		n := 0
		byTime := client.NewListManifestsPager(repo, &azcontainerregistry.ClientListManifestsOptions{OrderBy: to.Ptr(azcontainerregistry.ArtifactManifestOrderByLastUpdatedOnDescending), MaxNum: to.Ptr[int32](500)})
		for byTime.More() {
			page, err := byTime.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Attributes) > 500 || (byTime.More() && len(page.Attributes) != 500) {
				t.Errorf("a page of %d with n=500", len(page.Attributes))
			}
			for _, m := range page.Attributes {
				if n > 0 && m.LastUpdatedOn.After(last) {
					t.Errorf("timedesc: %v after %v", *m.LastUpdatedOn, last)
				}
				last = *m.LastUpdatedOn
				n++
			}
		}
		if n != len(wantTags) {
			t.Errorf("timedesc listed %d, want %d", n, len(wantTags))
		}

		var slashed []string
		other := client.NewListManifestsPager("other/one", &azcontainerregistry.ClientListManifestsOptions{MaxNum: to.Ptr[int32](1)})
		for other.More() {
			page, err := other.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Attributes {
				slashed = append(slashed, *m.Digest)
			}
		}
		if len(slashed) != 3 {
			t.Errorf("other/one paged through %d manifests, want 3", len(slashed))
		}
	})

	t.Run("properties, locks and deletes", func(t *testing.T) {
		props, err := client.GetManifestProperties(ctx, repo, index.Digest, nil)
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, r := range props.Manifest.RelatedArtifacts {
			refs = append(refs, *r.Digest+" "+string(*r.OperatingSystem)+"/"+string(*r.Architecture))
		}
		if len(refs) != 2 || !strings.HasPrefix(refs[0], index.Children[0]) || *props.RepositoryName != repo || *props.RegistryLoginServer != e.srv.Host() {
			t.Errorf("index properties: %v %+v", refs, props)
		}

		child := index.Children[0]
		upd, err := client.UpdateManifestProperties(ctx, repo, child, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{
			Value: &azcontainerregistry.ManifestWriteableProperties{CanDelete: to.Ptr(false)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if *upd.Manifest.ChangeableAttributes.CanDelete || !*upd.Manifest.ChangeableAttributes.CanWrite {
			t.Errorf("after the update: %+v", *upd.Manifest.ChangeableAttributes)
		}
		_, err = client.DeleteManifest(ctx, repo, child, nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 405 || !strings.Contains(err.Error(), "REGISTRY_DISALLOWED_OPERATION") {
			t.Fatalf("delete of a locked manifest: %v", err)
		}
		// azcore finds no code in ACR's {"errors":[...]}: read the body
		body, perr := runtime.Payload(re.RawResponse)
		var acrErr struct{ Errors []struct{ Code string } }
		if re.ErrorCode != "" || perr != nil || json.Unmarshal(body, &acrErr) != nil || len(acrErr.Errors) != 1 || acrErr.Errors[0].Code != "REGISTRY_DISALLOWED_OPERATION" {
			t.Errorf("ErrorCode %q, body %s (%v)", re.ErrorCode, body, perr)
		}
		if _, err := client.DeleteManifest(ctx, repo, untagged.digest, nil); err != nil {
			t.Errorf("delete: %v", err)
		}
		if _, err := client.GetManifestProperties(ctx, repo, untagged.digest, nil); !errors.As(err, &re) || re.StatusCode != 404 {
			t.Errorf("properties of a deleted manifest: %v", err)
		}
		_, err = client.DeleteManifest(ctx, repo, wantTags[seeded.Images[0].Digest][0], nil)
		if !errors.As(err, &re) || re.StatusCode != 405 || !strings.Contains(err.Error(), "UNSUPPORTED") {
			t.Errorf("delete by tag: %v", err)
		}
	})

	var exchanges int
	for _, r := range e.srv.Requests() {
		switch {
		case r.Kind == acrtest.KindManifestByTag:
			t.Errorf("a manifest was read by tag: %+v", r)
		case r.Kind == acrtest.KindOAuthExchange && r.Status == 200:
			exchanges++
			if r.Principal != e.id.SystemAssignedClientID() {
				t.Errorf("exchange for %s, want the system-assigned identity", r.Principal)
			}
		case r.Kind == acrtest.KindACRManifests && r.Repository == "other/one" && !strings.Contains(r.Path, "/other%2Fone/"):
			t.Errorf("listing path %s: the SDK escapes the repository", r.Path)
		}
	}
	if exchanges != 1 {
		t.Errorf("%d exchanges, want 1: the SDK keeps its refresh token", exchanges)
	}
}

// TestAzureSDKWithAppServiceIdentity wires managed identity the way a
// subprocess gets it, through IDENTITY_ENDPOINT and IDENTITY_HEADER alone,
// and checks token renewal: an expired access token, then an expired
// refresh token.
func TestAzureSDKWithAppServiceIdentity(t *testing.T) {
	azuretest.HermeticEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// newClient is the SDK client as a program configured only by its
	// environment builds it.
	newClient := func(t *testing.T, e *env) *azcontainerregistry.Client {
		t.Helper()
		for _, kv := range e.id.AppServiceEnv() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		e.push(t, "r", "amd64", "v1")
		cred, err := azidentity.NewManagedIdentityCredential(nil)
		if err != nil {
			t.Fatal(err)
		}
		return sdkClientWith(t, e, cred)
	}
	listRepos := func(t *testing.T, client *azcontainerregistry.Client) {
		t.Helper()
		page, err := client.NewListRepositoriesPager(nil).NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Repositories.Names) != 1 || *page.Repositories.Names[0] != "r" {
			t.Fatalf("repositories %v", page.Repositories.Names)
		}
	}
	full := []string{"acr-catalog Unauthorized", "oauth-exchange OK", "oauth-token OK", "acr-catalog OK"}

	t.Run("access token", func(t *testing.T) {
		e := start(t)
		client := newClient(t, e)
		listRepos(t, client)
		if got := kinds(e.srv.Requests()); !slices.Equal(got, full) {
			t.Errorf("first call: %v, want %v", got, full)
		}
		before := len(e.srv.Requests())
		e.srv.ExpireAccessTokens()
		listRepos(t, client)
		want := []string{"acr-catalog Unauthorized", "oauth-token OK", "acr-catalog OK"}
		if got := kinds(requestsSince(e.srv, before)); !slices.Equal(got, want) {
			t.Errorf("after the access token expired: %v, want %v", got, want)
		}
		if len(e.id.Requests()) == 0 {
			t.Error("the credential never called the App Service endpoint")
		}
		for _, r := range e.id.Requests() {
			if r.Path != azuretest.AppServiceTokenPath {
				t.Errorf("the credential called %s, want the App Service endpoint", r.Path)
			}
		}
	})

	t.Run("refresh token", func(t *testing.T) {
		e := start(t, acrtest.WithRefreshTokenLifetime(time.Second))
		client := newClient(t, e)
		listRepos(t, client)
		time.Sleep(1500 * time.Millisecond) // exp has whole seconds
		before := len(e.srv.Requests())
		e.srv.ExpireAccessTokens()
		listRepos(t, client)
		if got := kinds(requestsSince(e.srv, before)); !slices.Equal(got, full) {
			t.Errorf("after both tokens expired: %v, want %v", got, full)
		}
	})
}

// TestGoContainerRegistry reads manifests by digest with
// go-containerregistry, with the refresh token as a password and as an
// identity token, and renews an expired access token.
func TestGoContainerRegistry(t *testing.T) {
	e := start(t)
	img := e.push(t, "a/b", "amd64", "v1")
	refresh := e.refreshToken(t)
	ref, err := name.ParseReference(e.srv.Host() + "/a/b@" + img.digest)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		auth      authn.Authenticator
		tokenVerb string
	}{
		{name: "basic", auth: &authn.Basic{Username: acrtest.TokenUsername, Password: refresh}, tokenVerb: "GET"},
		{name: "identity token", auth: authn.FromConfig(authn.AuthConfig{IdentityToken: refresh}), tokenVerb: "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.srv.Requests())
			desc, err := remote.Get(ref, remote.WithAuth(tc.auth))
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest.String() != img.digest {
				t.Errorf("digest %s, want %s", desc.Digest, img.digest)
			}
			i, err := desc.Image()
			if err != nil {
				t.Fatal(err)
			}
			if cf, err := i.ConfigFile(); err != nil || cf.Architecture != "amd64" {
				t.Errorf("config: %v %v", cf, err)
			}
			reads := 0
			for _, r := range requestsSince(e.srv, before) {
				switch r.Kind {
				case acrtest.KindOAuthToken:
					if r.Method != tc.tokenVerb || r.Status != 200 {
						t.Errorf("token request %s %d, want %s 200", r.Method, r.Status, tc.tokenVerb)
					}
				case acrtest.KindManifestByDigest:
					if r.Status == 200 {
						reads++
					}
				case acrtest.KindManifestByTag:
					t.Errorf("read by tag: %+v", r)
				}
			}
			if reads != 1 {
				t.Errorf("manifest read %d times, want once", reads)
			}
		})
	}

	t.Run("renewal", func(t *testing.T) {
		puller, err := remote.NewPuller(remote.WithAuth(authn.FromConfig(authn.AuthConfig{IdentityToken: refresh})))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := puller.Get(ctx, ref); err != nil {
			t.Fatal(err)
		}
		before := len(e.srv.Requests())
		e.srv.ExpireAccessTokens()
		if _, err := puller.Get(ctx, ref); err != nil {
			t.Fatal(err)
		}
		got := kinds(requestsSince(e.srv, before))
		want := []string{"manifest-by-digest Unauthorized", "oauth-token OK", "manifest-by-digest OK"}
		if !slices.Equal(got, want) {
			t.Errorf("after expiry: %v, want %v", got, want)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		_, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: acrtest.TokenUsername, Password: "not-a-token"}))
		if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Errorf("err = %v, want a 401", err)
		}
	})
}

// TestConcurrentClients pushes through the stand-in with
// go-containerregistry and reads, lists and locks from several goroutines
// at once (run it with -race).
func TestConcurrentClients(t *testing.T) {
	e := start(t)
	auth := authn.FromConfig(authn.AuthConfig{IdentityToken: e.refreshToken(t)})
	const n = 6
	digests := make([]string, n)
	for i := range n {
		img := platformImage(t, "amd64")
		ref, err := name.ParseReference(e.srv.Host() + "/c/r:" + string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithAuth(auth)); err != nil {
			t.Fatalf("push through the stand-in: %v", err)
		}
		digests[i] = describeImage(t, img).digest
	}
	tok := e.accessToken(t, "repository:c/r:metadata_read,metadata_write")
	errs := make(chan error, 3*n)
	for i := range n {
		go func() {
			ref, err := name.ParseReference(e.srv.Host() + "/c/r@" + digests[i])
			if err == nil {
				_, err = remote.Get(ref, remote.WithAuth(auth))
			}
			errs <- err
		}()
		go func() {
			r := e.do(t, "GET", "/acr/v1/c%2Fr/_manifests?n=2", bearer(tok), "")
			if r.status != 200 {
				errs <- errors.New(r.raw)
				return
			}
			errs <- nil
		}()
		go func() {
			e.srv.Lock("c/r", digests[i], i%2 == 0, true)
			r := e.do(t, "GET", "/acr/v1/c%2Fr/_manifests/"+digests[i], bearer(tok), "")
			if r.status != 200 {
				errs <- errors.New(r.raw)
				return
			}
			errs <- nil
		}()
	}
	for range 3 * n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	r := e.do(t, "GET", "/acr/v1/c%2Fr/_manifests", bearer(tok), "")
	var page struct {
		Manifests []struct {
			Digest               string
			Tags                 []string
			ChangeableAttributes struct{ DeleteEnabled bool }
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &page); err != nil || len(page.Manifests) != n {
		t.Fatalf("listing after the pushes: %s", r.raw)
	}
	for _, m := range page.Manifests {
		i := slices.Index(digests, m.Digest)
		if i < 0 || len(m.Tags) != 1 || m.ChangeableAttributes.DeleteEnabled != (i%2 == 0) {
			t.Errorf("entry %+v (pushed as %d)", m, i)
		}
	}
}
