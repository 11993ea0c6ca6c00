package gartest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/oauth2"
	googleauth "golang.org/x/oauth2/google"

	"github.com/helmupgradebot/helmupgradebot/backend/gartest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// population is what the tests push: repositories under "proj/", one of
// them an index of two platforms.
func population() registrytest.Population {
	return registrytest.Population{Repositories: 4, TagsPerRepository: 3, Seed: 7, Scale: 1,
		MultiPlatform: true, Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Prefix: "proj/"}
}

// keyFileLogin logs in as the stand-in's service account through
// golang.org/x/oauth2/google, every request through guard.
func keyFileLogin(t *testing.T, srv *gartest.Server, guard *gartest.Guard) authn.Authenticator {
	t.Helper()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: guard})
	creds, err := googleauth.CredentialsFromJSONWithType(ctx, srv.KeyFile(), googleauth.ServiceAccount, gartest.CloudPlatformScope)
	if err != nil {
		t.Fatal(err)
	}
	return google.NewTokenSourceAuthenticator(oauth2.ReuseTokenSource(nil, creds.TokenSource))
}

// TestGoogleClientReadsTheListing checks the stand-in against
// go-containerregistry's google package: List of the project root names
// the top-level repositories in child, and Walk reaches every repository
// with every manifest, its tags, push and build times, untagged platform
// manifests included; the login goes through Google's token flow from a
// key file, and nothing leaves loopback.
func TestGoogleClientReadsTheListing(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, population())
	srv := gartest.Serve(t, reg)
	uploaded := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	first := seeded.Images[0]
	srv.SetUploaded(first.Repository, first.Digest, uploaded)

	guard := gartest.NewGuard(nil)
	auth := keyFileLogin(t, srv, guard)
	opts := []google.Option{google.WithAuth(auth), google.WithTransport(guard), google.WithContext(t.Context())}
	root, err := name.NewRepository(srv.Host()+"/proj", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}

	tags, err := google.List(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var top []string
	for _, r := range seeded.Repositories {
		first, _, _ := strings.Cut(strings.TrimPrefix(r, "proj/"), "/")
		if !slices.Contains(top, first) {
			top = append(top, first)
		}
	}
	slices.Sort(top)
	if !slices.Equal(tags.Children, top) || len(tags.Manifests) != 0 {
		t.Errorf("root: children %v, %d manifests; want %v and none", tags.Children, len(tags.Manifests), top)
	}

	got := map[string]*google.Tags{}
	err = google.Walk(root, func(repo name.Repository, tags *google.Tags, err error) error {
		if err != nil {
			return err
		}
		if len(tags.Manifests) > 0 {
			got[repo.RepositoryStr()] = tags
		}
		return nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(seeded.Repositories) {
		t.Errorf("walk found %d repositories with manifests, want %d", len(got), len(seeded.Repositories))
	}
	children := 0
	for _, im := range seeded.Images {
		tl := got[im.Repository]
		if tl == nil {
			t.Errorf("%s not walked", im.Repository)
			continue
		}
		m, ok := tl.Manifests[im.Digest]
		if !ok {
			t.Errorf("%s not listed", im.Ref())
			continue
		}
		if !slices.Equal(m.Tags, im.Tags) || m.MediaType != im.MediaType {
			t.Errorf("%s: tags %v %s, want %v %s", im.Ref(), m.Tags, m.MediaType, im.Tags, im.MediaType)
		}
		if len(im.Children) == 0 && !im.CreatedMissing && !m.Created.Equal(im.Created) {
			t.Errorf("%s: created %v, want the config's %v", im.Ref(), m.Created, im.Created)
		}
		if m.Uploaded.IsZero() || (im.Digest == first.Digest && im.Repository == first.Repository && !m.Uploaded.Equal(uploaded)) {
			t.Errorf("%s: uploaded %v", im.Ref(), m.Uploaded)
		}
		var want uint64
		for _, b := range im.Blobs[1:] { // config and layers
			want += uint64(b.Size)
		}
		if len(im.Children) == 0 && m.Size != want {
			t.Errorf("%s: imageSizeBytes %d, want %d", im.Ref(), m.Size, want)
		}
		for _, c := range im.Children {
			children++
			if cm, ok := tl.Manifests[c]; !ok || len(cm.Tags) != 0 {
				t.Errorf("platform manifest %s@%s: listed %v with tags %v, want listed untagged", im.Repository, c, ok, cm.Tags)
			}
		}
	}
	if children == 0 {
		t.Error("the population has no index: the platform manifests went untested")
	}
	if r := guard.Refused(); len(r) != 0 {
		t.Errorf("requests left loopback: %v", r)
	}
	if n := srv.Requests()[gartest.KindOAuthToken]; n != 1 {
		t.Errorf("%d token endpoint requests, want 1 (the token is reused)", n)
	}
}

// TestLoginRefusals checks what the stand-in refuses: no registry token,
// an access token it did not issue, and a key it did not make.
func TestLoginRefusals(t *testing.T) {
	reg, _ := registrytest.ServeSeeded(t, population())
	srv := gartest.Serve(t, reg)
	other := gartest.Serve(t, reg)
	root, err := name.NewRepository(srv.Host()+"/proj", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	guard := gartest.NewGuard(nil)
	cases := []struct {
		name string
		auth authn.Authenticator
	}{
		{"anonymous", authn.Anonymous},
		{"foreign access token", google.NewTokenSourceAuthenticator(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: other.AccessToken()}))},
		{"foreign key", keyFileLoginAt(t, other, srv, guard)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := google.List(root, google.WithAuth(c.auth), google.WithTransport(guard), google.WithContext(t.Context()))
			if err == nil {
				t.Fatal("listed without a valid login")
			}
		})
	}
	if r := guard.Refused(); len(r) != 0 {
		t.Errorf("requests left loopback: %v", r)
	}
}

// keyFileLoginAt logs in with key's service account but at the token
// endpoint of at, which did not make that key.
func keyFileLoginAt(t *testing.T, key, at *gartest.Server, guard *gartest.Guard) authn.Authenticator {
	t.Helper()
	kf := strings.ReplaceAll(string(key.KeyFile()), key.TokenURI(), at.TokenURI())
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: guard})
	creds, err := googleauth.CredentialsFromJSONWithType(ctx, []byte(kf), googleauth.ServiceAccount, gartest.CloudPlatformScope)
	if err != nil {
		t.Fatal(err)
	}
	return google.NewTokenSourceAuthenticator(creds.TokenSource)
}

// TestDeleteUntagsFirst checks gcr-cleaner's order: a manifest with tags
// is refused by digest (GOOGLE_MANIFEST_DANGLING_TAG), each tag is
// deleted by name, then the manifest goes; a denied identity gets 403.
func TestDeleteUntagsFirst(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, population())
	srv := gartest.Serve(t, reg)
	guard := gartest.NewGuard(nil)
	auth := keyFileLogin(t, srv, guard)
	opts := []remote.Option{remote.WithAuth(auth), remote.WithTransport(guard), remote.WithContext(t.Context())}
	im := seeded.Images[0]
	if len(im.Tags) == 0 {
		t.Fatal("the first image has no tag")
	}
	repo, err := name.NewRepository(srv.Host()+"/"+im.Repository, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	status := func(err error) (int, string) {
		var te *transport.Error
		if !errors.As(err, &te) {
			return 0, ""
		}
		code := ""
		if len(te.Errors) > 0 {
			code = string(te.Errors[0].Code)
		}
		return te.StatusCode, code
	}

	srv.DenyDelete(true)
	if st, _ := status(remote.Delete(repo.Tag(im.Tags[0]), opts...)); st != http.StatusForbidden {
		t.Errorf("denied untag: status %d, want 403", st)
	}
	srv.DenyDelete(false)
	if st, code := status(remote.Delete(repo.Digest(im.Digest), opts...)); st != http.StatusBadRequest || code != "GOOGLE_MANIFEST_DANGLING_TAG" {
		t.Errorf("delete of a tagged manifest: %d %s, want 400 GOOGLE_MANIFEST_DANGLING_TAG", st, code)
	}
	for _, tag := range im.Tags {
		if err := remote.Delete(repo.Tag(tag), opts...); err != nil {
			t.Fatalf("untag %s: %v", tag, err)
		}
	}
	if st, _ := status(remote.Delete(repo.Tag(im.Tags[0]), opts...)); st != http.StatusNotFound {
		t.Errorf("untag of a gone tag: status %d, want 404", st)
	}
	if err := remote.Delete(repo.Digest(im.Digest), opts...); err != nil {
		t.Fatalf("delete the untagged manifest: %v", err)
	}
	if _, err := remote.Head(repo.Digest(im.Digest), opts...); err == nil {
		t.Error("the manifest is still there")
	}
	if r := guard.Refused(); len(r) != 0 {
		t.Errorf("requests left loopback: %v", r)
	}
}

// TestListingWhileDeleting: manifests deleted while tags/list runs never
// hide the ones that stay. (The storage walk under the listing stops at a
// directory removed under it; the stand-in walks again.)
func TestListingWhileDeleting(t *testing.T) {
	pop := population()
	pop.Repositories, pop.TagsPerRepository = 1, 40
	reg, seeded := registrytest.ServeSeeded(t, pop)
	srv := gartest.Serve(t, reg)
	guard := gartest.NewGuard(nil)
	auth := keyFileLogin(t, srv, guard)
	repo, err := name.NewRepository(srv.Host()+"/"+seeded.Images[0].Repository, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ropts := []remote.Option{remote.WithAuth(auth), remote.WithTransport(guard), remote.WithContext(t.Context())}
	var gone, kept []registrytest.SeededImage
	for i, im := range seeded.Images {
		if im.Repository != seeded.Images[0].Repository || len(im.Children) > 0 {
			continue
		}
		if i%2 == 0 {
			gone = append(gone, im)
		} else {
			kept = append(kept, im)
		}
	}
	done := make(chan error, 1)
	go func() {
		for _, im := range gone {
			for _, tag := range im.Tags {
				if err := remote.Delete(repo.Tag(tag), ropts...); err != nil {
					done <- err
					return
				}
			}
			if err := remote.Delete(repo.Digest(im.Digest), ropts...); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for listings := 0; ; listings++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d listings while %d manifests went", listings, len(gone))
			return
		default:
		}
		tags, err := google.List(repo, google.WithAuth(auth), google.WithTransport(guard), google.WithContext(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range kept {
			if _, ok := tags.Manifests[im.Digest]; !ok {
				t.Fatalf("listing %d left out %s, which stays", listings, im.Digest)
			}
		}
	}
}
