package acrtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

var acrTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

func TestManifestListing(t *testing.T) {
	e := start(t)
	tagged := e.push(t, "a/b", "amd64", "v1", "latest")
	untagged := e.push(t, "a/b", "arm64")
	index, children := e.pushIndex(t, "a/b", "multi")
	old := time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.UTC)
	e.srv.SetCreated("a/b", untagged.digest, old)
	tok := e.accessToken(t, "repository:a/b:metadata_read,metadata_write,delete,pull", "repository:nope:metadata_read")

	list := func(t *testing.T, query string) response {
		t.Helper()
		r := e.do(t, "GET", "/acr/v1/a%2Fb/_manifests"+query, bearer(tok), "")
		if r.status != 200 {
			t.Fatalf("list%s: %d %s", query, r.status, r.raw)
		}
		return r
	}
	type listing struct {
		Registry  string           `json:"registry"`
		ImageName string           `json:"imageName"`
		Manifests []map[string]any `json:"manifests"`
	}
	var page listing
	r := list(t, "")
	if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
		t.Fatal(err)
	}
	if page.Registry != e.srv.Host() || page.ImageName != "a/b" || r.header.Get("Link") != "" {
		t.Errorf("registry %q imageName %q link %q", page.Registry, page.ImageName, r.header.Get("Link"))
	}
	want := map[string]pushed{tagged.digest: tagged, untagged.digest: untagged, index.digest: index, children[0].digest: children[0], children[1].digest: children[1]}
	if len(page.Manifests) != len(want) {
		t.Fatalf("%d manifests, want %d: %s", len(page.Manifests), len(want), r.raw)
	}
	var digests []string
	for _, m := range page.Manifests {
		d := m["digest"].(string)
		digests = append(digests, d)
		p, ok := want[d]
		if !ok {
			t.Errorf("unexpected %s", d)
			continue
		}
		if int64(m["imageSize"].(float64)) != p.imageSize {
			t.Errorf("%s imageSize %v, want %d", d, m["imageSize"], p.imageSize)
		}
		if m["architecture"] != nilIfEmpty(p.arch) || m["os"] != nilIfEmpty(p.os) {
			t.Errorf("%s platform %v/%v, want %s/%s", d, m["os"], m["architecture"], p.os, p.arch)
		}
		for _, k := range []string{"createdTime", "lastUpdateTime"} {
			if s, _ := m[k].(string); !acrTimeRE.MatchString(s) {
				t.Errorf("%s %s %q is not ACR's format", d, k, s)
			}
		}
		attrs, _ := json.Marshal(m["changeableAttributes"])
		if string(attrs) != `{"deleteEnabled":true,"listEnabled":true,"readEnabled":true,"writeEnabled":true}` {
			t.Errorf("%s changeableAttributes %s", d, attrs)
		}
		tags, hasTags := m["tags"]
		switch d {
		case tagged.digest:
			if fmt.Sprint(tags) != "[latest v1]" || m["mediaType"] != "application/vnd.oci.image.manifest.v1+json" && m["mediaType"] != "application/vnd.docker.distribution.manifest.v2+json" || m["configMediaType"] == nil {
				t.Errorf("tagged entry %v", m)
			}
		case index.digest:
			if fmt.Sprint(tags) != "[multi]" || m["mediaType"] != "application/vnd.oci.image.index.v1+json" || m["configMediaType"] != nil {
				t.Errorf("index entry %v", m)
			}
		default:
			if hasTags {
				t.Errorf("untagged %s has a tags key: %v", d, tags)
			}
		}
	}
	if !slices.IsSorted(digests) {
		t.Errorf("default order is not by digest: %v", digests)
	}
	for _, m := range page.Manifests {
		if m["digest"] == untagged.digest && (m["createdTime"] != "2020-01-02T03:04:05.1234567Z" || m["lastUpdateTime"] != "2020-01-02T03:04:05.1234567Z") {
			t.Errorf("SetCreated not applied: %v %v", m["createdTime"], m["lastUpdateTime"])
		}
	}

	t.Run("paging", func(t *testing.T) {
		for _, orderby := range []string{"", "timeasc", "timedesc"} {
			var got []string
			query := "?n=2&orderby=" + orderby
			for range 10 {
				r := list(t, query)
				var page listing
				if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
					t.Fatal(err)
				}
				if len(page.Manifests) > 2 {
					t.Fatalf("page of %d with n=2", len(page.Manifests))
				}
				for _, m := range page.Manifests {
					got = append(got, m["digest"].(string))
				}
				link := r.header.Get("Link")
				if link == "" {
					break
				}
				wantLink := fmt.Sprintf(`</acr/v1/a%%2Fb/_manifests?last=%s&n=2&orderby=%s>; rel="next"`, url.QueryEscape(got[len(got)-1]), orderby)
				if link != wantLink {
					t.Fatalf("Link\n got %s\nwant %s", link, wantLink)
				}
				query = "?" + strings.TrimSuffix(strings.SplitN(link, "?", 2)[1], `>; rel="next"`)
			}
			if len(got) != len(want) {
				t.Errorf("orderby=%s paged through %d manifests, want %d", orderby, len(got), len(want))
			}
			switch orderby {
			case "timeasc":
				if got[0] != untagged.digest {
					t.Errorf("timeasc starts with %s, want the 2020 one", got[0])
				}
			case "timedesc":
				if got[len(got)-1] != untagged.digest {
					t.Errorf("timedesc ends with %s, want the 2020 one", got[len(got)-1])
				}
			}
		}
	})

	t.Run("properties", func(t *testing.T) {
		r := e.do(t, "GET", "/acr/v1/a%2Fb/_manifests/"+url.PathEscape(index.digest), bearer(tok), "")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		m, _ := r.body["manifest"].(map[string]any)
		wantRefs := fmt.Sprintf(`[{"digest":"%s","architecture":"amd64","os":"linux"},{"digest":"%s","architecture":"arm64","os":"linux"}]`, children[0].digest, children[1].digest)
		if !strings.Contains(r.raw, `"references":`+wantRefs) || r.body["imageName"] != "a/b" || m["digest"] != index.digest {
			t.Errorf("properties %s\nwant references %s", r.raw, wantRefs)
		}
		if r := e.do(t, "GET", "/acr/v1/a/b/_manifests/"+tagged.digest, bearer(tok), ""); r.status != 200 || strings.Contains(r.raw, "references") {
			t.Errorf("image properties: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "GET", "/acr/v1/a/b/_manifests/sha256:"+strings.Repeat("0", 64), bearer(tok), ""); r.status != 404 || r.errorCode() != "MANIFEST_UNKNOWN" {
			t.Errorf("unknown digest: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "GET", "/acr/v1/nope/_manifests", bearer(tok), ""); r.status != 404 || r.errorCode() != "NAME_UNKNOWN" {
			t.Errorf("unknown repository: %d %s", r.status, r.raw)
		}
		for _, q := range []string{"?n=-1", "?n=x"} {
			if r := e.do(t, "GET", "/acr/v1/a/b/_manifests"+q, bearer(tok), ""); r.status != 400 || r.errorCode() != "PAGINATION_NUMBER_INVALID" {
				t.Errorf("%s: %d %s", q, r.status, r.raw)
			}
		}
		if r := e.do(t, "GET", "/acr/v1/a/b/_manifests?orderby=size", bearer(tok), ""); r.status != 400 {
			t.Errorf("bad orderby: %d", r.status)
		}
	})

	t.Run("locks and deletes", func(t *testing.T) {
		path := "/acr/v1/a%2Fb/_manifests/" + url.PathEscape(children[0].digest)
		r := e.do(t, "PATCH", path, map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, `{"deleteEnabled":false}`)
		m, _ := r.body["manifest"].(map[string]any)
		attrs, _ := json.Marshal(m["changeableAttributes"])
		if r.status != 200 || string(attrs) != `{"deleteEnabled":false,"listEnabled":true,"readEnabled":true,"writeEnabled":true}` || m["lastUpdateTime"] == m["createdTime"] {
			t.Fatalf("PATCH: %d %s", r.status, r.raw)
		}
		del := func(ref string) response {
			return e.do(t, "DELETE", "/v2/a/b/manifests/"+ref, bearer(tok), "")
		}
		r = del(children[0].digest)
		if r.status != 405 || r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" || !strings.Contains(r.raw, `"detail":{}`) {
			t.Errorf("delete of a delete-locked manifest: %d %s", r.status, r.raw)
		}
		e.srv.Lock("a/b", tagged.digest, true, false)
		if r := del(tagged.digest); r.status != 405 || r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" {
			t.Errorf("delete of a write-locked manifest: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "PUT", "/v2/a/b/manifests/v1", map[string]string{"Authorization": "Bearer " + e.accessToken(t, "repository:a/b:push"), "Content-Type": "application/vnd.oci.image.manifest.v1+json"}, "{}"); r.status != 405 || r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" {
			t.Errorf("push over a write-locked tag: %d %s", r.status, r.raw)
		}
		if r := del("latest"); r.status != 405 || r.errorCode() != "UNSUPPORTED" {
			t.Errorf("delete by tag: %d %s", r.status, r.raw)
		}
		if r := del(untagged.digest); r.status != 202 {
			t.Errorf("delete: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "DELETE", "/acr/v1/a%2Fb/_tags/multi", bearer(tok), ""); r.status != 202 {
			t.Errorf("untag: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "DELETE", "/acr/v1/a%2Fb/_tags/multi", bearer(tok), ""); r.status != 404 || r.errorCode() != "TAG_UNKNOWN" {
			t.Errorf("untag again: %d %s", r.status, r.raw)
		}
		e.srv.Lock("a/b", tagged.digest, true, true)
		_ = e.do(t, "PATCH", "/acr/v1/a/b/_manifests/"+children[1].digest, map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, `{"listEnabled":false}`)
		r = list(t, "")
		page := listing{}
		if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
			t.Fatal(err)
		}
		left := map[string]string{}
		for _, m := range page.Manifests {
			left[m["digest"].(string)] = fmt.Sprint(m["tags"])
		}
		wantLeft := map[string]string{tagged.digest: "[latest v1]", index.digest: "<nil>", children[0].digest: "<nil>"}
		if fmt.Sprint(left) != fmt.Sprint(wantLeft) {
			t.Errorf("after deletes, untag and listEnabled=false: %v, want %v", left, wantLeft)
		}
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestPagingPastDeletedManifests(t *testing.T) {
	e := start(t)
	var all []string
	for i := range 5 {
		p := e.push(t, "r", "amd64", fmt.Sprint("t", i))
		e.srv.SetCreated("r", p.digest, time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC))
		all = append(all, p.digest)
	}
	tok := e.accessToken(t, "repository:r:metadata_read,delete")
	for _, orderby := range []string{"", "timedesc", "timeasc"} {
		// acr purge's loop (here with timeasc): list a page, delete it, list after the last digest
		r := e.do(t, "GET", "/acr/v1/r/_manifests?n=2&orderby="+orderby, bearer(tok), "")
		var seen []string
		for range 10 {
			var page struct{ Manifests []struct{ Digest string } }
			if err := json.Unmarshal([]byte(r.raw), &page); err != nil || r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			for _, m := range page.Manifests {
				seen = append(seen, m.Digest)
				if orderby == "timeasc" {
					if d := e.do(t, "DELETE", "/v2/r/manifests/"+m.Digest, bearer(tok), ""); d.status != 202 {
						t.Fatalf("delete: %d %s", d.status, d.raw)
					}
				}
			}
			link := r.header.Get("Link")
			if link == "" {
				break
			}
			r = e.do(t, "GET", strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`), bearer(tok), "")
		}
		if len(seen) != len(all) {
			t.Errorf("orderby=%q: saw %d manifests, want %d: %v", orderby, len(seen), len(all), seen)
		}
	}
	tok = e.accessToken(t, "registry:catalog:*")
	if r := e.do(t, "GET", "/acr/v1/_catalog", bearer(tok), ""); r.status != 200 || strings.TrimSpace(r.raw) != `{"repositories":[]}` {
		t.Errorf("a repository whose manifests are all deleted is still listed: %s", r.raw)
	}
}

// TestListingSeesDirectChanges changes the registry behind the stand-in's
// back (pushes, a tag moved to an existing manifest, garbage collection of
// untagged manifests) between listings: every fresh listing shows them.
func TestListingSeesDirectChanges(t *testing.T) {
	e := start(t)
	first := e.push(t, "r", "amd64", "v1")
	tok := e.accessToken(t, "repository:r:metadata_read")
	tagsOf := func() map[string]string {
		t.Helper()
		r := e.do(t, "GET", "/acr/v1/r/_manifests", bearer(tok), "")
		var page struct {
			Manifests []struct {
				Digest string
				Tags   []string
			}
		}
		if err := json.Unmarshal([]byte(r.raw), &page); err != nil || r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		out := map[string]string{}
		for _, m := range page.Manifests {
			out[m.Digest] = strings.Join(m.Tags, ",")
		}
		return out
	}
	if got := tagsOf(); len(got) != 1 || got[first.digest] != "v1" {
		t.Fatalf("before: %v", got)
	}
	second := e.push(t, "r", "amd64", "v1") // v1 moves; first is untagged
	if got := tagsOf(); len(got) != 2 || got[first.digest] != "" || got[second.digest] != "v1" {
		t.Errorf("after a push over v1: %v", got)
	}
	e.retag(t, "r", first.digest, "v1") // back, to an existing manifest
	if got := tagsOf(); got[first.digest] != "v1" || got[second.digest] != "" {
		t.Errorf("after moving v1 back: %v", got)
	}
	if err := e.reg.GarbageCollect(context.Background(), registrytest.DeleteUntagged()); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(); len(got) != 1 || got[first.digest] != "v1" {
		t.Errorf("after garbage collection of untagged manifests: %v", got)
	}
}
