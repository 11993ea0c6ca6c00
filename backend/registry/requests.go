package registry

import (
	"net/http"
	"strings"
	"sync/atomic"
)

// The registry APIs a request is counted under (RequestCounts): a fixed
// set, so that the metric labelled with them stays small.
const (
	APIPing          = "ping"           // GET /v2/
	APICatalog       = "catalog"        // /v2/_catalog
	APITags          = "tags"           // /v2/<name>/tags/list
	APIManifests     = "manifests"      // /v2/<name>/manifests/<reference>
	APIBlobs         = "blobs"          // /v2/<name>/blobs/<digest>
	APIReferrers     = "referrers"      // /v2/<name>/referrers/<digest>
	APIToken         = "token"          // a token endpoint: /token, /oauth2/token, /oauth2/exchange
	APIACRCatalog    = "acr_catalog"    // /acr/v1/_catalog
	APIACRTags       = "acr_tags"       // /acr/v1/<name>/_tags[/<tag>]
	APIACRManifests  = "acr_manifests"  // /acr/v1/<name>/_manifests[/<digest>]
	APIACRRepository = "acr_repository" // /acr/v1/<name>
	APIHarbor        = "harbor"         // Harbor's /api/v2.0/...
	APIOther         = "other"          // anything else
)

// APIs lists every API a request is counted under, in a fixed order.
var APIs = [...]string{APIPing, APICatalog, APITags, APIManifests, APIBlobs, APIReferrers, APIToken,
	APIACRCatalog, APIACRTags, APIACRManifests, APIACRRepository, APIHarbor, APIOther}

// RequestCounts counts the HTTP requests a client sent, retries included,
// by registry API. It is safe for concurrent use; the zero value counts
// from zero.
type RequestCounts struct {
	n [len(APIs)]atomic.Int64
}

// Counts returns the requests sent so far by API, leaving out APIs with
// none.
func (c *RequestCounts) Counts() map[string]int64 {
	out := map[string]int64{}
	for i, api := range APIs {
		if v := c.n[i].Load(); v > 0 {
			out[api] = v
		}
	}
	return out
}

func (c *RequestCounts) add(api string) {
	for i, a := range APIs {
		if a == api {
			c.n[i].Add(1)
			return
		}
	}
}

// ClassifyRequest names the registry API a request path belongs to (one
// of APIs), from its shape alone: repository names, tags and digests are
// dropped.
func ClassifyRequest(path string) string {
	switch {
	case path == "/v2/" || path == "/v2":
		return APIPing
	case path == "/v2/_catalog":
		return APICatalog
	case strings.HasPrefix(path, "/v2/"):
		rest := path[len("/v2/"):]
		switch {
		case strings.HasSuffix(rest, "/tags/list"):
			return APITags
		case strings.Contains(rest, "/manifests/"):
			return APIManifests
		case strings.Contains(rest, "/blobs/"):
			return APIBlobs
		case strings.Contains(rest, "/referrers/"):
			return APIReferrers
		}
		return APIOther
	case path == "/acr/v1/_catalog":
		return APIACRCatalog
	case strings.HasPrefix(path, "/acr/v1/"):
		rest := path[len("/acr/v1/"):]
		switch {
		case strings.Contains(rest, "/_tags"):
			return APIACRTags
		case strings.Contains(rest, "/_manifests"):
			return APIACRManifests
		case rest != "" && !strings.Contains(rest, "/_"):
			return APIACRRepository
		}
		return APIOther
	case strings.HasPrefix(path, "/api/v2.0/"):
		return APIHarbor
	case strings.HasSuffix(path, "/token") || path == "/oauth2/exchange":
		return APIToken
	}
	return APIOther
}

// WithRequestCounts counts every HTTP request the client sends (each
// attempt of a retried call, the token requests included) in c, by
// registry API.
func WithRequestCounts(c *RequestCounts) Option {
	return func(o *options) error {
		o.requests = c
		return nil
	}
}

// countRequests is a transport that counts the requests through it.
type countRequests struct {
	counts *RequestCounts
	inner  http.RoundTripper
}

func (t countRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	t.counts.add(ClassifyRequest(req.URL.Path))
	return t.inner.RoundTrip(req)
}
