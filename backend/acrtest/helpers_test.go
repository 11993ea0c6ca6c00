package acrtest_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// env is a registry behind the stand-in, with the identity it trusts.
type env struct {
	reg *registrytest.Registry
	id  *azuretest.Identity
	srv *acrtest.Server
}

func start(t testing.TB, opts ...acrtest.Option) *env {
	t.Helper()
	reg := registrytest.Serve(t)
	id := azuretest.ServeIdentity(t)
	srv := acrtest.Serve(t, reg, append([]acrtest.Option{acrtest.WithIdentity(id)}, opts...)...)
	return &env{reg: reg, id: id, srv: srv}
}

// pushed is an image pushed straight to the registry, with what ACR should
// say about it.
type pushed struct {
	digest    string
	imageSize int64 // config and layers
	arch, os  string
}

// push writes a random image for arch to the registry under repo, tagged
// with tags, or by digest only when there are none.
func (e *env) push(t testing.TB, repo, arch string, tags ...string) pushed {
	t.Helper()
	img := platformImage(t, arch)
	p := describeImage(t, img)
	refs := []string{e.reg.Host() + "/" + repo + "@" + p.digest}
	if len(tags) > 0 {
		refs = nil
		for _, tag := range tags {
			refs = append(refs, e.reg.Host()+"/"+repo+":"+tag)
		}
	}
	for _, r := range refs {
		ref, err := name.ParseReference(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// retag points tag of repo at the manifest dgst, straight on the registry.
func (e *env) retag(t testing.TB, repo, dgst, tag string) {
	t.Helper()
	ref, err := name.ParseReference(e.reg.Host() + "/" + repo + "@" + dgst)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(ref.Context().Tag(tag), desc); err != nil {
		t.Fatal(err)
	}
}

func platformImage(t testing.TB, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(300, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func describeImage(t testing.TB, img v1.Image) pushed {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return pushed{digest: d.String(), imageSize: imageSize(t, img), arch: cf.Architecture, os: cf.OS}
}

// imageSize is an image's size as ACR gives it: its config and layers.
func imageSize(t testing.TB, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size
}

// pushIndex writes an OCI index of an amd64 and an arm64 image under
// repo:tag and returns it and its platform manifests.
func (e *env) pushIndex(t testing.TB, repo, tag string) (pushed, []pushed) {
	t.Helper()
	var children []pushed
	idx := v1.ImageIndex(empty.Index)
	for _, arch := range []string{"amd64", "arm64"} {
		img := platformImage(t, arch)
		children = append(children, describeImage(t, img))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	ref, err := name.ParseReference(e.reg.Host() + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return pushed{digest: d.String(), imageSize: children[0].imageSize + children[1].imageSize}, children
}

// response is an HTTP answer with its body decoded as JSON (when it is).
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (e *env) do(t testing.TB, method, path string, header map[string]string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// errorCode is the code of the first entry of a registry error body.
func (r response) errorCode() string {
	errs, _ := r.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	code, _ := first["code"].(string)
	return code
}

// aadToken asks the identity's App Service endpoint for a Microsoft Entra
// token for resource.
func (e *env) aadToken(t testing.TB, resource string) string {
	t.Helper()
	q := url.Values{"api-version": {azuretest.AppServiceAPIVersion}, "resource": {resource}}
	req, err := http.NewRequest("GET", e.id.AppServiceEndpoint()+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-IDENTITY-HEADER", e.id.AppServiceHeader())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("no AAD token (status %d): %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// refreshToken goes through /oauth2/exchange.
func (e *env) refreshToken(t testing.TB) string {
	t.Helper()
	r := e.do(t, "POST", "/oauth2/exchange", nil, form("grant_type", "access_token", "service", e.srv.Host(), "access_token", e.aadToken(t, acrtest.Audience)))
	tok, _ := r.body["refresh_token"].(string)
	if r.status != 200 || tok == "" {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	return tok
}

// accessToken goes through POST /oauth2/token.
func (e *env) accessToken(t testing.TB, scopes ...string) string {
	t.Helper()
	r := e.do(t, "POST", "/oauth2/token", nil, form("grant_type", "refresh_token", "service", e.srv.Host(), "scope", strings.Join(scopes, " "), "refresh_token", e.refreshToken(t)))
	tok, _ := r.body["access_token"].(string)
	if r.status != 200 || tok == "" {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	return tok
}

func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// claims decodes a token's payload the way azcontainerregistry v0.2.3
// does: standard base64 after padding.
func claims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	p := parts[1]
	if n := len(p) % 4; n > 0 {
		p += strings.Repeat("=", 4-n)
	}
	raw, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		t.Fatalf("payload does not decode as the SDK decodes it: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func expiresIn(t testing.TB, tok string) time.Duration {
	t.Helper()
	exp, _ := claims(t, tok)["exp"].(float64)
	return time.Until(time.Unix(int64(exp), 0))
}
