package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// staticCred is an Entra credential that never needs to be asked: the
// fuzzed listing is answered without a challenge.
type staticCred struct{}

func (staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// listingTransport answers the first listing request with a fuzzed body
// and Link header, and every later page (a followed Link) with an empty
// last page; it stops answering after a few pages.
type listingTransport struct {
	body  []byte
	link  string
	calls atomic.Int32
}

func (l *listingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := l.calls.Add(1)
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Request: req}
	switch {
	case n == 1:
		resp.Body = io.NopCloser(bytes.NewReader(l.body))
		if l.link != "" {
			resp.Header.Set("Link", l.link)
		}
	case n < 5:
		resp.Body = io.NopCloser(strings.NewReader(`{"manifests":[]}`))
	default:
		return nil, errors.New("too many pages")
	}
	return resp, nil
}

// FuzzACRListing: a manifest listing page of any bytes, with any Link
// header, goes through the Azure SDK's pager and the entry conversion
// without a panic or a hang; what comes out has digests and sorted tags.
func FuzzACRListing(f *testing.F) {
	seeds := []struct{ body, link string }{
		{`{"registry":"r.azurecr.io","imageName":"app","manifests":[{"digest":"sha256:aa","tags":["v2","v1"],"createdTime":"2024-05-06T07:08:09.1234567Z","mediaType":"application/vnd.oci.image.manifest.v1+json","changeableAttributes":{"deleteEnabled":false,"writeEnabled":true}}]}`,
			`</acr/v1/app/_manifests?last=sha256%3Aaa&n=100&orderby=>; rel="next"`},
		{`{"manifests":[{"digest":"sha256:bb","tags":null},{"tags":["orphan"]},null]}`, ""},
		{`{"manifests":[{"digest":"sha256:cc","createdTime":"not a time"}]}`, `<https://elsewhere.example/acr/v1/app/_manifests?last=x>; rel="next"`},
		{`{"manifests":[{"digest":"sha256:dd","changeableAttributes":{"deleteEnabled":"yes"}}]}`, `<>; rel="next"`},
		{`{"manifests":[]}`, `</acr/v1/app/_manifests?last=%zz>; rel=next`},
		{`{"manifests":{}}`, `garbage`},
		{`not json`, ""},
		{``, `</acr/v1/app/_manifests>; rel="prev"`},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.link)
	}
	f.Fuzz(func(t *testing.T, body []byte, link string) {
		lt := &listingTransport{body: body, link: link}
		a, err := NewACR("r.azurecr.io", staticCred{}, WithTransport(lt), WithRetryBackoff(remoteOneTry))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		es, err := a.listManifests(ctx, "app")
		if ctx.Err() != nil {
			t.Fatalf("the listing hung: %v", err)
		}
		for _, e := range es {
			if e.digest == "" || !slices.IsSorted(e.tags) {
				t.Errorf("entry %+v", e)
			}
		}
		if err != nil && strings.Contains(err.Error(), "eyJ") {
			t.Errorf("error shows a token: %v", err)
		}
	})
}

// fastFuzzRetry: one attempt, so a failing page ends the listing at once.
var remoteOneTry = remote.Backoff{Steps: 1}

// FuzzACRText: ACR's error bodies, JWTs and error text of any bytes are
// read without a panic; an error body's codes and any text keep no
// JWT-shaped token once scrubbed; a JWT's expiry is its exp claim or an
// hour from now.
func FuzzACRText(f *testing.F) {
	jwt := func(payload string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	for _, s := range []string{
		`{"errors":[{"code":"REGISTRY_DISALLOWED_OPERATION","message":"The operation is disallowed on this registry, repository or image."}]}`,
		`{"errors":[{"code":"UNAUTHORIZED","message":"token ` + jwt(`{"exp":1700000000}`) + ` expired"}]}`,
		`{"errors":null}`,
		`refresh_token=` + jwt(`{"exp":1}`) + `&service=x`,
		jwt(`{"exp":4102444800,"grant_type":"refresh_token"}`),
		jwt(`{"exp":-5}`),
		jwt(`{"exp":"soon"}`),
		"eyJ.a.b eyJx..",
		"a.b.c",
		"",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		resp := &http.Response{StatusCode: 401, Body: io.NopCloser(strings.NewReader(s)), Header: http.Header{}}
		_, _ = runtime.Payload(resp) // as the SDK reads it
		for _, out := range []string{acrErrorCodes(resp), scrubTokens(s), scrubTokens(fmt.Sprintf("Post %q: %s", "http://x/oauth2/exchange?access_token="+s, s))} {
			for _, f := range strings.FieldsFunc(out, func(r rune) bool { return r == ' ' || r == '"' || r == '\'' || r == '=' || r == '&' }) {
				if strings.HasPrefix(f, "eyJ") && strings.Count(f, ".") >= 2 {
					t.Errorf("scrubbed text keeps the token %q: %q", f, out)
				}
			}
		}
		exp := jwtExpiry(s, now)
		if !exp.Equal(now.Add(time.Hour)) && exp.Unix() <= 0 {
			t.Errorf("jwtExpiry(%q) = %v", s, exp)
		}
	})
}

// TestMalformedLinkFailsThePage: a Link header the Azure SDK cannot read
// (it panics on one without "<...>") fails the listing, naming it.
func TestMalformedLinkFailsThePage(t *testing.T) {
	for _, link := range []string{"garbage", `</acr/v1/app/_manifests?last=x; rel="next"`, ">", "<"} {
		lt := &listingTransport{body: []byte(`{"manifests":[{"digest":"sha256:aa"}]}`), link: link}
		a, err := NewACR("r.azurecr.io", staticCred{}, WithTransport(lt), WithRetryBackoff(remoteOneTry))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.listManifests(t.Context(), "app")
		if err == nil || !strings.Contains(err.Error(), "malformed Link header") {
			t.Errorf("Link %q: %v", link, err)
		}
	}
}
