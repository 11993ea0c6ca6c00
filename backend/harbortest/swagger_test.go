package harbortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// Harbor's swagger (api/v2.0/swagger.yaml) definitions, written apart
// from the stand-in's types: every answer must decode into them with no
// field left over, and carry the fields the clients read.
type (
	swProjectMetadata struct {
		Public               *string `json:"public"`
		EnableContentTrust   *string `json:"enable_content_trust"`
		PreventVul           *string `json:"prevent_vul"`
		Severity             *string `json:"severity"`
		AutoScan             *string `json:"auto_scan"`
		ReuseSysCVEAllowlist *string `json:"reuse_sys_cve_allowlist"`
		RetentionID          *string `json:"retention_id"`
		ProxySpeedKB         *string `json:"proxy_speed_kb"`
	}
	swProject struct {
		ProjectID          *int32             `json:"project_id"`
		OwnerID            int32              `json:"owner_id"`
		Name               *string            `json:"name"`
		RegistryID         int64              `json:"registry_id"`
		CreationTime       time.Time          `json:"creation_time"`
		UpdateTime         time.Time          `json:"update_time"`
		Deleted            bool               `json:"deleted"`
		OwnerName          string             `json:"owner_name"`
		Togglable          bool               `json:"togglable"`
		CurrentUserRoleID  int                `json:"current_user_role_id"`
		CurrentUserRoleIDs []int32            `json:"current_user_role_ids"`
		RepoCount          int                `json:"repo_count"`
		Metadata           *swProjectMetadata `json:"metadata"`
		CVEAllowlist       map[string]any     `json:"cve_allowlist"`
	}
	swRepository struct {
		ID            int64     `json:"id"`
		ProjectID     int64     `json:"project_id"`
		Name          *string   `json:"name"`
		Description   string    `json:"description"`
		ArtifactCount int64     `json:"artifact_count"`
		PullCount     int64     `json:"pull_count"`
		CreationTime  time.Time `json:"creation_time"`
		UpdateTime    time.Time `json:"update_time"`
	}
	swPlatform struct {
		Architecture string   `json:"architecture"`
		OS           string   `json:"os"`
		OSVersion    string   `json:"os.version"`
		OSFeatures   []string `json:"os.features"`
		Variant      string   `json:"variant"`
	}
	swReference struct {
		ParentID    int64             `json:"parent_id"`
		ChildID     int64             `json:"child_id"`
		ChildDigest *string           `json:"child_digest"`
		Platform    *swPlatform       `json:"platform"`
		Annotations map[string]string `json:"annotations"`
		URLs        []string          `json:"urls"`
	}
	swTag struct {
		ID           int64      `json:"id"`
		RepositoryID int64      `json:"repository_id"`
		ArtifactID   int64      `json:"artifact_id"`
		Name         *string    `json:"name"`
		PushTime     *time.Time `json:"push_time"`
		PullTime     *time.Time `json:"pull_time"`
		Immutable    bool       `json:"immutable"`
	}
	swArtifact struct {
		ID                int64                      `json:"id"`
		Type              string                     `json:"type"`
		MediaType         string                     `json:"media_type"`
		ManifestMediaType *string                    `json:"manifest_media_type"`
		ArtifactType      string                     `json:"artifact_type"`
		ProjectID         int64                      `json:"project_id"`
		RepositoryID      int64                      `json:"repository_id"`
		RepositoryName    string                     `json:"repository_name"`
		Digest            *string                    `json:"digest"`
		Size              *int64                     `json:"size"`
		Icon              string                     `json:"icon"`
		PushTime          *time.Time                 `json:"push_time"`
		PullTime          *time.Time                 `json:"pull_time"`
		ExtraAttrs        map[string]any             `json:"extra_attrs"`
		Annotations       map[string]string          `json:"annotations"`
		References        []swReference              `json:"references"`
		Tags              []swTag                    `json:"tags"`
		AdditionLinks     map[string]json.RawMessage `json:"addition_links"`
		Labels            []json.RawMessage          `json:"labels"`
		ScanOverview      map[string]any             `json:"scan_overview"`
		SBOMOverview      map[string]any             `json:"sbom_overview"`
		Accessories       []json.RawMessage          `json:"accessories"`
	}
	swSelector struct {
		Kind       *string `json:"kind"`
		Decoration *string `json:"decoration"`
		Pattern    *string `json:"pattern"`
		Extras     string  `json:"extras"`
	}
	swRule struct {
		ID             int64                   `json:"id"`
		Priority       int                     `json:"priority"`
		Disabled       bool                    `json:"disabled"`
		Action         string                  `json:"action"`
		Template       string                  `json:"template"`
		Params         map[string]any          `json:"params"`
		TagSelectors   []swSelector            `json:"tag_selectors"`
		ScopeSelectors map[string][]swSelector `json:"scope_selectors"`
	}
	swRetention struct {
		ID        int64    `json:"id"`
		Algorithm string   `json:"algorithm"`
		Rules     []swRule `json:"rules"`
		Trigger   *struct {
			Kind       string         `json:"kind"`
			Settings   map[string]any `json:"settings"`
			References map[string]any `json:"references"`
		} `json:"trigger"`
		Scope *struct {
			Level string `json:"level"`
			Ref   int64  `json:"ref"`
		} `json:"scope"`
	}
	swPermission struct {
		Resource *string `json:"resource"`
		Action   *string `json:"action"`
	}
	swErrors struct {
		Errors []struct {
			Code    *string `json:"code"`
			Message string  `json:"message"`
		} `json:"errors"`
	}
)

// strict decodes body into v, refusing any field v does not have.
func strict(t *testing.T, what string, body []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: the answer does not decode into swagger's definition: %v\n%s", what, err, body)
	}
}

// fixture is a registry with project binder: repository "binder/a/b"
// (a name holding "/") with an image tagged v1 and latest, an untagged
// image and an index over two platform images (tagged idx), and
// binder/c with 12 tagged images; an immutable rule on tags v* of a/**.
type fixture struct {
	srv               *Server
	img, untagged     v1.Image
	idx               v1.ImageIndex
	amd, arm          v1.Image
	ruleID, retention int64
}

func newFixture(t *testing.T) *fixture {
	reg := registrytest.Serve(t)
	f := &fixture{}
	pusher, err := remote.NewPusher()
	if err != nil {
		t.Fatal(err)
	}
	push := func(ref string, x remote.Taggable) {
		t.Helper()
		var r name.Reference
		var err error
		if strings.Contains(ref, "@") {
			r, err = name.NewDigest(reg.Host() + "/" + ref)
		} else {
			r, err = name.NewTag(reg.Host() + "/" + ref)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := pusher.Push(t.Context(), r, x); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}
	img := func() v1.Image {
		i, err := random.Image(128, 2)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	f.img, f.untagged, f.amd, f.arm = img(), img(), img(), img()
	f.idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: f.amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: f.arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	push("binder/a/b:v1", f.img)
	push("binder/a/b:latest", f.img)
	push("binder/a/b@"+digestOf(t, f.untagged), f.untagged)
	push("binder/a/b:idx", f.idx)
	for i := range 12 {
		push(fmt.Sprintf("binder/c:t%d", i), img())
	}
	f.srv = Serve(t, reg)
	f.srv.AddUser("robot$binder+cleaner", "s3cret", true)
	f.srv.AddUser("reader", "r", false)
	f.ruleID = f.srv.AddImmutableRule("binder", "a/**", "v*")
	f.retention = f.srv.SetRetention("binder", "latestPushedK", 10)
	return f
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) string {
	h, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// get sends method path as user (password pw) and returns the answer.
func (f *fixture) do(t *testing.T, method, path, user, pw string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (f *fixture) robot(t *testing.T, method, path string) (*http.Response, []byte) {
	return f.do(t, method, path, "robot$binder+cleaner", "s3cret")
}

// TestAnswersDecodeAsSwagger reads every endpoint the clients use and
// decodes each answer strictly into swagger's definitions.
func TestAnswersDecodeAsSwagger(t *testing.T) {
	f := newFixture(t)
	ab := "/api/v2.0/projects/binder/repositories/" + url.PathEscape(url.PathEscape("a/b"))

	_, body := f.robot(t, "GET", "/api/v2.0/projects")
	var projects []swProject
	strict(t, "projects", body, &projects)
	if len(projects) != 1 || *projects[0].Name != "binder" || projects[0].ProjectID == nil || projects[0].Metadata == nil ||
		projects[0].Metadata.RetentionID == nil || *projects[0].Metadata.RetentionID != fmt.Sprint(f.retention) {
		t.Errorf("projects: %s", body)
	}

	_, body = f.robot(t, "GET", "/api/v2.0/projects/binder/repositories")
	var repos []swRepository
	strict(t, "repositories", body, &repos)
	var names []string
	for _, r := range repos {
		names = append(names, *r.Name)
	}
	if fmt.Sprint(names) != "[binder/a/b binder/c]" {
		t.Errorf("repositories %v, want [binder/a/b binder/c]", names)
	}

	_, body = f.robot(t, "GET", ab+"/artifacts?with_tag=true&with_immutable_status=true")
	var arts []swArtifact
	strict(t, "artifacts", body, &arts)
	got := map[string]swArtifact{}
	for _, a := range arts {
		if a.Digest == nil || a.Size == nil || a.PushTime == nil || a.PullTime == nil || a.ManifestMediaType == nil {
			t.Errorf("artifact lacks a field the clients read: %+v", a)
			continue
		}
		got[*a.Digest] = a
	}
	if len(arts) != 3 {
		t.Errorf("%d artifacts, want 3 (the image, the untagged one, the index; not its children)", len(arts))
	}
	im := got[digestOf(t, f.img)]
	var tags []string
	for _, tg := range im.Tags {
		tags = append(tags, fmt.Sprintf("%s:%v", *tg.Name, tg.Immutable))
	}
	if fmt.Sprint(tags) != "[latest:false v1:true]" {
		t.Errorf("image tags %v, want [latest:false v1:true]", tags)
	}
	if !im.PullTime.IsZero() {
		t.Errorf("never pulled, pull_time %v", im.PullTime)
	}
	if im.ExtraAttrs["os"] == nil || im.ExtraAttrs["architecture"] == nil {
		t.Errorf("image extra_attrs %v", im.ExtraAttrs)
	}
	ix := got[digestOf(t, f.idx)]
	if len(ix.References) != 2 || *ix.References[0].ChildDigest != digestOf(t, f.amd) || ix.References[1].Platform.Variant != "v8" {
		t.Errorf("index references %+v", ix.References)
	}
	if _, ok := got[digestOf(t, f.untagged)]; !ok {
		t.Error("the untagged image is not listed")
	}

	_, body = f.robot(t, "GET", ab+"/artifacts/"+digestOf(t, f.amd))
	var child swArtifact
	strict(t, "artifact", body, &child)
	if *child.Digest != digestOf(t, f.amd) {
		t.Errorf("artifact by digest: %s", body)
	}

	_, body = f.robot(t, "GET", "/api/v2.0/projects/binder/immutabletagrules")
	var rules []swRule
	strict(t, "immutabletagrules", body, &rules)
	if len(rules) != 1 || rules[0].ID != f.ruleID || *rules[0].TagSelectors[0].Pattern != "v*" || *rules[0].ScopeSelectors["repository"][0].Pattern != "a/**" {
		t.Errorf("rules: %s", body)
	}

	_, body = f.robot(t, "GET", fmt.Sprintf("/api/v2.0/retentions/%d", f.retention))
	var pol swRetention
	strict(t, "retention", body, &pol)
	if pol.ID != f.retention || len(pol.Rules) != 1 || pol.Rules[0].Template != "latestPushedK" || pol.Trigger == nil || pol.Scope == nil {
		t.Errorf("retention: %s", body)
	}

	for _, who := range []struct {
		user, pw string
		delete   bool
	}{{"robot$binder+cleaner", "s3cret", true}, {"reader", "r", false}} {
		_, body = f.do(t, "GET", "/api/v2.0/users/current/permissions?scope=/project/1&relative=true", who.user, who.pw)
		var perms []swPermission
		strict(t, "permissions", body, &perms)
		del := false
		for _, p := range perms {
			del = del || (*p.Resource == "artifact" && *p.Action == "delete")
		}
		if del != who.delete {
			t.Errorf("%s: artifact delete %v, want %v", who.user, del, who.delete)
		}
	}

	resp, body := f.do(t, "GET", "/api/v2.0/projects", "robot$binder+cleaner", "wrong")
	var e swErrors
	strict(t, "401", body, &e)
	if resp.StatusCode != http.StatusUnauthorized || len(e.Errors) != 1 || *e.Errors[0].Code != "UNAUTHORIZED" {
		t.Errorf("wrong secret: %d %s", resp.StatusCode, body)
	}
}

// TestPaging: page and page_size, X-Total-Count, Link with prev and next,
// and page_size over 100 refused.
func TestPaging(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		query      string
		status, n  int
		prev, next bool
	}{
		{"", 200, 10, false, true},
		{"?page=2", 200, 2, true, false},
		{"?page=2&page_size=5", 200, 5, true, true},
		{"?page_size=100", 200, 12, false, false},
		{"?page_size=101", 422, 0, false, false},
		{"?page=9", 200, 0, true, false},
	}
	for _, tt := range tests {
		resp, body := f.robot(t, "GET", "/api/v2.0/projects/binder/repositories/c/artifacts"+tt.query)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s", tt.query, resp.StatusCode, body)
			continue
		}
		if tt.status != 200 {
			continue
		}
		var arts []swArtifact
		strict(t, tt.query, body, &arts)
		link := resp.Header.Get("Link")
		if len(arts) != tt.n || resp.Header.Get("X-Total-Count") != "12" ||
			strings.Contains(link, `rel="prev"`) != tt.prev || strings.Contains(link, `rel="next"`) != tt.next {
			t.Errorf("%s: %d artifacts, total %q, Link %q", tt.query, len(arts), resp.Header.Get("X-Total-Count"), link)
		}
	}
}

// TestDelete: Harbor's refusals, and an index going with its untagged
// children.
func TestDelete(t *testing.T) {
	f := newFixture(t)
	ab := "/api/v2.0/projects/binder/repositories/" + url.PathEscape(url.PathEscape("a/b")) + "/artifacts/"
	tests := []struct {
		name, user, pw, ref string
		status              int
		code                string
	}{
		{"immutable tag", "robot$binder+cleaner", "s3cret", digestOf(t, f.img), 412, "PRECONDITION"},
		{"an index's child", "robot$binder+cleaner", "s3cret", digestOf(t, f.amd), 412, "VIOLATE_FOREIGN_KEY_CONSTRAINT"},
		{"may not delete", "reader", "r", digestOf(t, f.untagged), 403, "FORBIDDEN"},
		{"untagged", "robot$binder+cleaner", "s3cret", digestOf(t, f.untagged), 200, ""},
		{"gone", "robot$binder+cleaner", "s3cret", digestOf(t, f.untagged), 404, "NOT_FOUND"},
		{"index", "robot$binder+cleaner", "s3cret", digestOf(t, f.idx), 200, ""},
	}
	for _, tt := range tests {
		resp, body := f.do(t, "DELETE", ab+tt.ref, tt.user, tt.pw)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.status)
			continue
		}
		if tt.code != "" {
			var e swErrors
			strict(t, tt.name, body, &e)
			if *e.Errors[0].Code != tt.code {
				t.Errorf("%s: %s, want %s", tt.name, body, tt.code)
			}
		}
	}
	for _, d := range []string{digestOf(t, f.amd), digestOf(t, f.arm)} {
		if resp, _ := f.robot(t, "GET", ab+d); resp.StatusCode != 404 {
			t.Errorf("the index's child %s stayed: %d", d, resp.StatusCode)
		}
	}
}

// TestPulls: a GET of a manifest through /v2/ is a pull, a HEAD is not;
// /v2/ wants a token from /service/token.
func TestPulls(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.srv.now = func() time.Time { return now }
	ref, err := name.NewTag(f.srv.Host() + "/binder/a/b:latest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(ref, remote.WithContext(t.Context())); err == nil {
		t.Fatal("an anonymous HEAD got in")
	}
	auth := remote.WithAuth(&authn.Basic{Username: "robot$binder+cleaner", Password: "s3cret"})
	if _, err := remote.Head(ref, auth, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	if p := f.srv.PullTime("binder/a/b", digestOf(t, f.img)); !p.IsZero() {
		t.Errorf("a HEAD is a pull: %v", p)
	}
	if _, err := remote.Get(ref, auth, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	if p := f.srv.PullTime("binder/a/b", digestOf(t, f.img)); !p.Equal(now) {
		t.Errorf("pull_time %v after a GET, want %v", p, now)
	}
}
