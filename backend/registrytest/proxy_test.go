package registrytest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestProxy: what reaches the registry through a Proxy, by its options.
func TestProxy(t *testing.T) {
	t.Parallel()
	type seen struct{ host, auth, rawPath, path string }
	var mu sync.Mutex
	var got []seen
	r := Serve(t, WithHandler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			got = append(got, seen{req.Host, req.Header.Get("Authorization"), req.URL.RawPath, req.URL.Path})
			mu.Unlock()
			h.ServeHTTP(w, req)
		})
	}))
	for _, tc := range []struct {
		name     string
		opts     []ProxyOption
		target   string
		wantRaw  string
		wantPath string
		wantSeen string // set by ModifyResponse
	}{
		{name: "defaults", target: "/v2/", wantPath: "/v2/"},
		{name: "escaped path unescaped", target: "/v2/a%2Fb/tags/list", wantPath: "/v2/a/b/tags/list"},
		{name: "escaped path kept", opts: []ProxyOption{KeepRawPath()}, target: "/v2/a%2Fb/tags/list", wantRaw: "/v2/a%2Fb/tags/list", wantPath: "/v2/a/b/tags/list"},
		{name: "answer modified", opts: []ProxyOption{ModifyResponse(func(resp *http.Response) error {
			resp.Header.Set("X-Seen", resp.Request.URL.Path)
			return nil
		})}, target: "/v2/", wantPath: "/v2/", wantSeen: "/v2/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			p := r.Proxy(tc.opts...)
			defer p.Close()
			req := httptest.NewRequest(http.MethodGet, "http://standin.example:1234"+tc.target, nil)
			req.Header.Set("Authorization", "Bearer secret")
			w := httptest.NewRecorder()
			p.ServeHTTP(w, req)
			if w.Code == http.StatusBadGateway {
				t.Fatalf("the proxy did not reach the registry: %s", w.Body)
			}
			if h := w.Header().Get("X-Seen"); h != tc.wantSeen {
				t.Errorf("X-Seen = %q, want %q", h, tc.wantSeen)
			}
			mu.Lock()
			defer mu.Unlock()
			want := seen{host: "standin.example:1234", rawPath: tc.wantRaw, path: tc.wantPath}
			if len(got) != 1 || got[0] != want {
				t.Errorf("the registry saw %+v, want one %+v", got, want)
			}
		})
	}
	// Transport reaches the registry with the proxy's connections.
	p := r.Proxy()
	defer p.Close()
	resp, err := (&http.Client{Transport: p.Transport()}).Get("http://" + r.Host() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ through Transport: %s", resp.Status)
	}
}
