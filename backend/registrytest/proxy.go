package registrytest

import (
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// Proxy passes a stand-in's requests on to the registry, for the
// vendor stand-ins that serve /v2/ in front of it.
type Proxy struct {
	rp *httputil.ReverseProxy
	tr *http.Transport
}

// ProxyOption configures Registry.Proxy.
type ProxyOption func(*proxyOptions)

type proxyOptions struct {
	keepRawPath bool
	modify      func(*http.Response) error
}

// KeepRawPath passes the path on as the client escaped it; by default it
// goes as its unescaped form escapes.
func KeepRawPath() ProxyOption { return func(o *proxyOptions) { o.keepRawPath = true } }

// ModifyResponse has f see (and may change) each answer of the registry
// before the client does, as httputil.ReverseProxy's ModifyResponse.
func ModifyResponse(f func(*http.Response) error) ProxyOption {
	return func(o *proxyOptions) { o.modify = f }
}

// Proxy returns a reverse proxy to the registry, with connections of its
// own. A request goes on with its method, path and query, and with its
// Host (distribution builds Location headers from it: uploads keep going
// through the stand-in), but without its Authorization (the stand-in
// checked it; the registry asks none).
func (r *Registry) Proxy(opts ...ProxyOption) *Proxy {
	var o proxyOptions
	for _, opt := range opts {
		opt(&o)
	}
	target := &url.URL{Scheme: "http", Host: r.Host()}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}
	return &Proxy{tr: tr, rp: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, ""
			if o.keepRawPath {
				pr.Out.URL.RawPath = pr.In.URL.RawPath
			}
			pr.Out.Header.Del("Authorization")
		},
		Transport:      tr,
		ModifyResponse: o.modify,
		ErrorLog:       log.New(io.Discard, "", 0),
	}}
}

// ServeHTTP passes req on to the registry and its answer back to w.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) { p.rp.ServeHTTP(w, req) }

// Close closes the proxy's idle connections to the registry; it may go on
// serving after it.
func (p *Proxy) Close() { p.tr.CloseIdleConnections() }

// Transport is the proxy's connections to the registry, for a stand-in's
// own requests to it.
func (p *Proxy) Transport() http.RoundTripper { return p.tr }
