package registry

import (
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

func TestClassifyRequest(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/v2/", APIPing},
		{"/v2", APIPing},
		{"/v2/_catalog", APICatalog},
		{"/v2/binder-prod/r2d2-abc/tags/list", APITags},
		{"/v2/binder-prod/r2d2-abc/manifests/sha256:0123", APIManifests},
		{"/v2/hub/manifests/latest", APIManifests},
		{"/v2/a/b/c/blobs/sha256:0123", APIBlobs},
		{"/v2/a/blobs/uploads/", APIBlobs},
		{"/v2/a/referrers/sha256:0123", APIReferrers},
		{"/v2/a/something", APIOther},
		{"/token", APIToken},
		{"/oauth2/token", APIToken},
		{"/oauth2/exchange", APIToken},
		{"/acr/v1/_catalog", APIACRCatalog},
		{"/acr/v1/binder-prod/base/_tags", APIACRTags},
		{"/acr/v1/binder-prod/base/_tags/v1", APIACRTags},
		{"/acr/v1/binder-prod/base/_manifests", APIACRManifests},
		{"/acr/v1/binder-prod/base/_manifests/sha256:0123", APIACRManifests},
		{"/acr/v1/binder-prod/base", APIACRRepository},
		{"/acr/v1/", APIOther},
		{"/api/v2.0/projects/binder/repositories/a%252Fb/artifacts", APIHarbor},
		{"/api/v2.0/retentions/3", APIHarbor},
		{"/service/token", APIToken},
		{"/", APIOther},
		{"/metrics", APIOther},
	} {
		if got := ClassifyRequest(tc.path); got != tc.want {
			t.Errorf("ClassifyRequest(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestRequestCounts: a scan through a client with WithRequestCounts counts
// its catalog, tag list and manifest requests, one per request sent.
func TestRequestCounts(t *testing.T) {
	pop := population()
	pop.Repositories, pop.TagsPerRepository, pop.MultiPlatform = 3, 2, false
	reg, _ := registrytest.ServeSeeded(t, pop)
	var counts RequestCounts
	if got := counts.Counts(); len(got) != 0 {
		t.Fatalf("a new RequestCounts has %v", got)
	}
	inv, err := newClient(t, reg.Host(), WithRequestCounts(&counts)).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := counts.Counts()
	if got[APICatalog] < 1 {
		t.Errorf("catalog requests %d, want at least 1 (all: %v)", got[APICatalog], got)
	}
	if got[APITags] < int64(inv.Repositories) {
		t.Errorf("tag list requests %d, want at least one per repository (%d) (all: %v)", got[APITags], inv.Repositories, got)
	}
	if got[APIManifests] < int64(len(inv.Images)) {
		t.Errorf("manifest requests %d, want at least one per image (%d) (all: %v)", got[APIManifests], len(inv.Images), got)
	}
	for api, n := range got {
		if n <= 0 {
			t.Errorf("%s: %d listed", api, n)
		}
	}
	if got[APIOther] != 0 {
		t.Errorf("%d requests unclassified", got[APIOther])
	}
}
