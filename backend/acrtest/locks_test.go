package acrtest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
)

// lockFixture is a repository of a stand-in for TestLockLevels: two
// tagged single-platform manifests, one untagged manifest, and how many
// manifests and tags the repository holds.
type lockFixture struct {
	repo                   string
	stable, stableTag      string // a tagged manifest and its tag
	other, otherTag        string // another
	untagged               string
	manifests, tags        int
	tagNames               []string // sorted
	otherTagsOnOtherDigest []string // every tag on other, sorted
}

// TestLockLevels drives the three levels of ACR's changeable attributes
// (repository, tag, manifest) with the Azure SDK's own client (properties,
// the tag listing, updates) and go-containerregistry (deletes), on both
// stand-ins: what each lock refuses, and that the levels stay apart.
func TestLockLevels(t *testing.T) {
	t.Run("registry", func(t *testing.T) {
		e := start(t)
		fx := lockFixture{repo: "hub/app", stableTag: "stable", otherTag: "v1"}
		fx.stable = e.push(t, fx.repo, "amd64", "stable").digest
		fx.other = e.push(t, fx.repo, "arm64", "v1").digest
		for _, tag := range []string{"t1", "t2", "t3"} {
			e.push(t, fx.repo, "amd64", tag)
		}
		fx.untagged = e.push(t, fx.repo, "amd64").digest
		e.push(t, "hub/other", "amd64", "latest")
		fx.manifests, fx.tagNames, fx.otherTagsOnOtherDigest = 6, []string{"stable", "t1", "t2", "t3", "v1"}, []string{"v1"}
		testLockLevels(t, e, fx)
	})
	t.Run("synthetic", func(t *testing.T) {
		e := startSynthetic(t, acrtest.Synthetic{Repositories: 2, ManifestsPerRepository: 12, Seed: 5, Now: synthNow})
		all := listAll(t, e)
		fx := lockFixture{repo: all[0].repo}
		for _, l := range all {
			if l.repo != fx.repo {
				continue
			}
			fx.manifests++
			fx.tagNames = append(fx.tagNames, l.tags...)
			switch {
			case len(l.tags) == 0:
				fx.untagged = l.digest
			case strings.Contains(l.mediaType, "index"):
			case fx.stable == "":
				fx.stable, fx.stableTag = l.digest, l.tags[0]
			case fx.other == "":
				fx.other, fx.otherTag, fx.otherTagsOnOtherDigest = l.digest, l.tags[0], l.tags
			}
		}
		slices.Sort(fx.tagNames)
		if fx.other == "" || fx.untagged == "" || len(fx.tagNames) < 3 {
			t.Fatalf("synthetic repository %+v", fx)
		}
		testLockLevels(t, e, fx)
	})
}

func testLockLevels(t *testing.T, e *env, fx lockFixture) {
	ctx := t.Context()
	client := sdkClient(t, e)
	auth := &authn.Basic{Username: acrtest.TokenUsername, Password: e.refreshToken(t)}
	del := func(digest string) error {
		ref, err := name.NewDigest(e.srv.Host()+"/"+fx.repo+"@"+digest, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return remote.Delete(ref, remote.WithAuth(auth), remote.WithContext(ctx))
	}
	// ggcrRefused: go-containerregistry got ACR's 405 for a lock
	ggcrRefused := func(t *testing.T, what string, err error) {
		t.Helper()
		var te *transport.Error
		if !errors.As(err, &te) || te.StatusCode != 405 || len(te.Errors) != 1 || te.Errors[0].Code != "REGISTRY_DISALLOWED_OPERATION" ||
			!strings.Contains(te.Errors[0].Message, "disallowed on this registry, repository or image") {
			t.Errorf("%s: %v, want 405 REGISTRY_DISALLOWED_OPERATION", what, err)
		}
	}
	// sdkRefused: the Azure SDK got ACR's 405 for a lock
	sdkRefused := func(t *testing.T, what string, err error) {
		t.Helper()
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 405 {
			t.Errorf("%s: %v, want 405", what, err)
			return
		}
		body, _ := runtime.Payload(re.RawResponse)
		var acrErr struct{ Errors []struct{ Code string } }
		if json.Unmarshal(body, &acrErr) != nil || len(acrErr.Errors) != 1 || acrErr.Errors[0].Code != "REGISTRY_DISALLOWED_OPERATION" {
			t.Errorf("%s: body %s", what, body)
		}
	}
	attrs := func(a any) string {
		b, _ := json.Marshal(a)
		return string(b)
	}
	const open = `{"deleteEnabled":true,"listEnabled":true,"readEnabled":true,"writeEnabled":true}`
	listTags := func(t *testing.T, opts *azcontainerregistry.ClientListTagsOptions) (tags []*azcontainerregistry.TagAttributes, pages int) {
		t.Helper()
		pager := client.NewListTagsPager(fx.repo, opts)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if *page.Repository != fx.repo || *page.RegistryLoginServer != e.srv.Host() {
				t.Errorf("tag page of %s on %s", *page.Repository, *page.RegistryLoginServer)
			}
			pages++
			tags = append(tags, page.Tags...)
		}
		return tags, pages
	}

	t.Run("repository properties", func(t *testing.T) {
		p, err := client.GetRepositoryProperties(ctx, fx.repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *p.Name != fx.repo || *p.RegistryLoginServer != e.srv.Host() || int(*p.ManifestCount) != fx.manifests || int(*p.TagCount) != len(fx.tagNames) ||
			p.CreatedOn == nil || p.LastUpdatedOn == nil || p.LastUpdatedOn.Before(*p.CreatedOn) || attrs(p.ChangeableAttributes) != open {
			t.Errorf("properties %s", attrs(p.ContainerRepositoryProperties))
		}
		if _, err := client.GetRepositoryProperties(ctx, "no/such", nil); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
			t.Errorf("unknown repository: %v", err)
		}
	})

	t.Run("tag listing", func(t *testing.T) {
		tags, pages := listTags(t, &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](2)})
		var names []string
		for _, tag := range tags {
			names = append(names, *tag.Name)
			if tag.Digest == nil || tag.CreatedOn == nil || tag.LastUpdatedOn == nil || attrs(tag.ChangeableAttributes) != open {
				t.Errorf("tag %s", attrs(tag))
			}
			if *tag.Name == fx.stableTag && *tag.Digest != fx.stable {
				t.Errorf("%s points at %s, want %s", fx.stableTag, *tag.Digest, fx.stable)
			}
		}
		if !slices.Equal(names, fx.tagNames) || pages != (len(fx.tagNames)+1)/2 {
			t.Errorf("tags %v in %d pages, want %v by name, 2 a page", names, pages, fx.tagNames)
		}
		tags, _ = listTags(t, &azcontainerregistry.ClientListTagsOptions{Digest: &fx.other})
		names = nil
		for _, tag := range tags {
			names = append(names, *tag.Name)
		}
		if !slices.Equal(names, fx.otherTagsOnOtherDigest) {
			t.Errorf("tags on %s: %v, want %v", fx.other, names, fx.otherTagsOnOtherDigest)
		}
		tags, _ = listTags(t, &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](2), OrderBy: to.Ptr(azcontainerregistry.ArtifactTagOrderByLastUpdatedOnDescending)})
		if len(tags) != len(fx.tagNames) || !slices.IsSortedFunc(tags, func(a, b *azcontainerregistry.TagAttributes) int { return b.LastUpdatedOn.Compare(*a.LastUpdatedOn) }) {
			t.Errorf("timedesc: %d tags, sorted %v", len(tags), attrs(tags))
		}
		hide := func(list bool) {
			if _, err := client.UpdateTagProperties(ctx, fx.repo, fx.otherTag, &azcontainerregistry.ClientUpdateTagPropertiesOptions{
				Value: &azcontainerregistry.TagWriteableProperties{CanList: &list}}); err != nil {
				t.Fatal(err)
			}
		}
		hide(false)
		tags, _ = listTags(t, nil)
		if len(tags) != len(fx.tagNames)-1 || slices.ContainsFunc(tags, func(a *azcontainerregistry.TagAttributes) bool { return *a.Name == fx.otherTag }) {
			t.Errorf("listEnabled false: %d tags listed, %s among them", len(tags), fx.otherTag)
		}
		if p, err := client.GetTagProperties(ctx, fx.repo, fx.otherTag, nil); err != nil || *p.Tag.ChangeableAttributes.CanList {
			t.Errorf("a hidden tag's properties: %v", err)
		}
		hide(true)
	})

	t.Run("a tag lock holds its manifest, whose own attributes stay", func(t *testing.T) {
		upd, err := client.UpdateTagProperties(ctx, fx.repo, fx.stableTag, &azcontainerregistry.ClientUpdateTagPropertiesOptions{
			Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false)}})
		if err != nil {
			t.Fatal(err)
		}
		if *upd.Tag.Name != fx.stableTag || *upd.Tag.ChangeableAttributes.CanWrite || !*upd.Tag.ChangeableAttributes.CanDelete || !upd.Tag.LastUpdatedOn.After(*upd.Tag.CreatedOn) {
			t.Errorf("after the update: %s", attrs(upd.Tag))
		}
		got, err := client.GetTagProperties(ctx, fx.repo, fx.stableTag, nil)
		if err != nil || *got.Tag.ChangeableAttributes.CanWrite || *got.Tag.Digest != fx.stable {
			t.Errorf("tag properties: %s %v", attrs(got.Tag), err)
		}
		m, err := client.GetManifestProperties(ctx, fx.repo, fx.stable, nil)
		if err != nil || attrs(m.Manifest.ChangeableAttributes) != open {
			t.Errorf("the manifest's own attributes changed with its tag's: %s %v", attrs(m.Manifest.ChangeableAttributes), err)
		}
		ggcrRefused(t, "delete of a manifest whose tag is write-disabled", del(fx.stable))
		_, err = client.DeleteTag(ctx, fx.repo, fx.stableTag, nil)
		sdkRefused(t, "untag of a write-disabled tag", err)
		push := map[string]string{"Authorization": "Bearer " + e.accessToken(t, "repository:"+fx.repo+":push"), "Content-Type": "application/vnd.oci.image.manifest.v1+json"}
		if r := e.do(t, "PUT", "/v2/"+fx.repo+"/manifests/"+fx.stableTag, push, "{}"); r.status != 405 || r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" {
			t.Errorf("push over a write-disabled tag: %d %s", r.status, r.raw)
		}
		e.srv.LockTag(fx.repo, fx.stableTag, false, true) // delete-disabled only: still held
		ggcrRefused(t, "delete of a manifest whose tag is delete-disabled", del(fx.stable))
		if _, err := client.GetTagProperties(ctx, fx.repo, "no-such-tag", nil); err == nil || !strings.Contains(err.Error(), "TAG_UNKNOWN") {
			t.Errorf("unknown tag: %v", err)
		}
	})

	t.Run("a delete-disabled repository holds only itself", func(t *testing.T) {
		upd, err := client.UpdateRepositoryProperties(ctx, fx.repo, &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
			Value: &azcontainerregistry.RepositoryWriteableProperties{CanDelete: to.Ptr(false)}})
		if err != nil {
			t.Fatal(err)
		}
		if *upd.ChangeableAttributes.CanDelete || !*upd.ChangeableAttributes.CanWrite {
			t.Errorf("after the update: %s", attrs(upd.ChangeableAttributes))
		}
		_, err = client.DeleteRepository(ctx, fx.repo, nil)
		sdkRefused(t, "delete of a delete-disabled repository", err)
		if err := del(fx.untagged); err != nil {
			t.Errorf("an image of a delete-disabled repository: %v, want deleted", err)
		}
		p, err := client.GetRepositoryProperties(ctx, fx.repo, nil)
		if err != nil || int(*p.ManifestCount) != fx.manifests-1 || *p.ChangeableAttributes.CanDelete {
			t.Errorf("after a delete: %s %v", attrs(p.ContainerRepositoryProperties), err)
		}
	})

	t.Run("a write-disabled repository holds every image", func(t *testing.T) {
		e.srv.LockRepository(fx.repo, true, false)
		ggcrRefused(t, "delete in a write-disabled repository", del(fx.other))
		_, err := client.UpdateManifestProperties(ctx, fx.repo, fx.other, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{
			Value: &azcontainerregistry.ManifestWriteableProperties{CanDelete: to.Ptr(false)}})
		sdkRefused(t, "manifest update in a write-disabled repository", err)
		_, err = client.UpdateTagProperties(ctx, fx.repo, fx.otherTag, &azcontainerregistry.ClientUpdateTagPropertiesOptions{
			Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(false)}})
		sdkRefused(t, "tag update in a write-disabled repository", err)
		_, err = client.DeleteTag(ctx, fx.repo, fx.otherTag, nil)
		sdkRefused(t, "untag in a write-disabled repository", err)
		if _, err := client.UpdateRepositoryProperties(ctx, fx.repo, &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
			Value: &azcontainerregistry.RepositoryWriteableProperties{CanWrite: to.Ptr(true)}}); err != nil {
			t.Fatal(err)
		}
		if err := del(fx.other); err != nil {
			t.Errorf("delete once the repository is writable again: %v", err)
		}
		tags, _ := listTags(t, nil)
		for _, tag := range tags {
			if *tag.Digest == fx.other {
				t.Errorf("tag %s of a deleted manifest still listed", *tag.Name)
			}
		}
	})

	t.Run("deleting the repository", func(t *testing.T) {
		if _, err := client.UpdateRepositoryProperties(ctx, fx.repo, &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
			Value: &azcontainerregistry.RepositoryWriteableProperties{CanDelete: to.Ptr(true)}}); err != nil {
			t.Fatal(err)
		}
		_, err := client.DeleteRepository(ctx, fx.repo, nil)
		sdkRefused(t, "delete of a repository holding a locked tag", err)
		if _, err := client.UpdateTagProperties(ctx, fx.repo, fx.stableTag, &azcontainerregistry.ClientUpdateTagPropertiesOptions{
			Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(true), CanWrite: to.Ptr(true)}}); err != nil {
			t.Fatal(err)
		}
		r := e.do(t, "DELETE", "/acr/v1/"+strings.ReplaceAll(fx.repo, "/", "%2F"), bearer(e.accessToken(t, "repository:"+fx.repo+":delete")), "")
		deleted, _ := r.body["manifestsDeleted"].([]any)
		if r.status != http.StatusAccepted || len(deleted) != fx.manifests-2 {
			t.Fatalf("delete of the repository: %d %s, want 202 naming %d manifests", r.status, r.raw, fx.manifests-2)
		}
		if _, err := client.GetRepositoryProperties(ctx, fx.repo, nil); err == nil {
			t.Error("a deleted repository still has properties")
		}
		catalog := client.NewListRepositoriesPager(nil)
		for catalog.More() {
			page, err := catalog.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range page.Names {
				if *n == fx.repo {
					t.Error("a deleted repository is still listed")
				}
			}
		}
	})

	kinds := map[string]int{}
	for _, r := range e.srv.Requests() {
		if strings.HasPrefix(r.Kind, "acr-") && r.Repository == fx.repo {
			kinds[r.Kind]++
		}
	}
	for _, k := range []string{acrtest.KindACRRepository, acrtest.KindACRTags, acrtest.KindACRTag} {
		if kinds[k] == 0 {
			t.Errorf("no %s request recorded (%v)", k, kinds)
		}
	}
}
