package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Harbor inventories a Harbor registry (OVH's managed registry is one)
// through Harbor's v2.0 API: projects, their repositories, and each
// repository's artifacts with their tags, push_time, pull_time and, for an
// index, the references to its children. Harbor lists every artifact but
// the untagged children of an index, so untagged images show, and no
// manifest is fetched by tag: manifests and configs are read by digest
// only, once each (the digest cache keeps them), for the blobs behind the
// deduplicated sizes. Deletes go through the API
// (DELETE .../artifacts/{digest}), which also deletes an index's untagged
// children that nothing else references.
//
// An image's age is its push time; its last pull is Harbor's pull_time
// (model.Image.LastPulled; Harbor's zero time is unknown). Harbor's
// immutable-tag rules hold the artifacts of the tags they match
// (model.Image.Locked, Lock naming the tag and the rule), and a project's
// tag retention policy is reported as a warning: Harbor may delete
// artifacts on its own schedule too.
//
// Harbor records a GET of a manifest as a pull (HEAD is not one): the
// first scan to meet a digest reads its manifest, so that artifact's
// pull_time becomes that scan's time, once (the digest cache spares every
// later read). The pull times a scan reports are read before its own
// reads.
type Harbor struct {
	*Client
	api      *http.Client
	endpoint string // scheme://host
	auth     authn.Authenticator
	projects []string // the configured ones; nil: every project listed
	pageSize int
	prev     previous
}

var (
	_ Lister  = (*Harbor)(nil)
	_ Deleter = (*Harbor)(nil)
)

// Seed gives the next scan a previous inventory of this registry, as
// ACR.Seed does.
func (h *Harbor) Seed(inv *model.Inventory) { h.prev.seed(inv) }

// HarborPage is the page_size asked of Harbor's listings: the most its
// API gives a page.
const HarborPage = 100

// harborAPI is the root of Harbor's v2.0 API.
const harborAPI = "/api/v2.0"

// NewHarbor returns a client of the Harbor registry at host ("host[:port]"),
// which lists the projects named (none: every project the credentials
// see). It takes New's options; the login (WithAuthenticator, a robot
// account's or a user's name and secret, or WithKeychain) serves both the
// v2.0 API and the distribution API. Without one it is anonymous: public
// projects only, and nothing deleted.
func NewHarbor(host string, projects []string, opts ...Option) (*Harbor, error) {
	o := options{concurrency: DefaultConcurrency, pageSize: DefaultPageSize, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
	}
	for _, p := range projects {
		if p == "" || strings.ContainsAny(p, "/ ") {
			return nil, fmt.Errorf("registry %s: %q is not a Harbor project name", host, p)
		}
	}
	client, err := New(host, opts...)
	if err != nil {
		return nil, err
	}
	auth := o.auth
	if o.keychain != nil {
		if auth, err = o.keychain.Resolve(client.reg); err != nil {
			return nil, fmt.Errorf("registry %s: find its credentials in the docker config: %w", host, err)
		}
	}
	scheme := "https://"
	if o.insecure || loopback.Host(host) {
		scheme = "http://"
	}
	base := o.retrying()
	if !o.insecure && !loopback.Host(host) {
		base = &httpsOnly{host: client.reg.RegistryStr(), inner: base}
	}
	return &Harbor{Client: client, api: &http.Client{Transport: base}, endpoint: scheme + host, auth: auth,
		projects: slices.Clone(projects), pageSize: HarborPage}, nil
}

// harborProject is what the client reads of Harbor's Project.
type harborProject struct {
	ProjectID int64  `json:"project_id"`
	Name      string `json:"name"`
	Metadata  struct {
		RetentionID string `json:"retention_id"`
	} `json:"metadata"`
}

// harborRepository is what the client reads of Harbor's Repository.
type harborRepository struct {
	Name string `json:"name"` // "project/repository"
}

// harborArtifact is what the client reads of Harbor's Artifact.
type harborArtifact struct {
	Digest            string         `json:"digest"`
	ManifestMediaType string         `json:"manifest_media_type"`
	Size              int64          `json:"size"`
	PushTime          time.Time      `json:"push_time"`
	PullTime          time.Time      `json:"pull_time"`
	ExtraAttrs        map[string]any `json:"extra_attrs"`
	References        []struct {
		ChildDigest string `json:"child_digest"`
	} `json:"references"`
	Tags []struct {
		Name      string `json:"name"`
		Immutable bool   `json:"immutable"`
	} `json:"tags"`
}

// entry is the artifact as the listing kinds' entry; immutable lists its
// immutable tags, sorted.
func (a *harborArtifact) entry() (e acrEntry, immutable []string) {
	e = acrEntry{digest: a.Digest, mediaType: a.ManifestMediaType, created: a.PushTime}
	if !a.PullTime.IsZero() && a.PullTime.Year() > 1 {
		e.pulled = a.PullTime.UTC()
	}
	for _, t := range a.Tags {
		e.tags = append(e.tags, t.Name)
		if t.Immutable {
			immutable = append(immutable, t.Name)
		}
	}
	slices.Sort(e.tags)
	slices.Sort(immutable)
	os, _ := a.ExtraAttrs["os"].(string)
	arch, _ := a.ExtraAttrs["architecture"].(string)
	if os != "" && arch != "" {
		e.platform = os + "/" + arch
	}
	return e, immutable
}

// splitRepository splits "project/name" into Harbor's project and the
// repository name within it.
func splitRepository(repo string) (project, name string, err error) {
	project, name, ok := strings.Cut(repo, "/")
	if !ok || project == "" || name == "" {
		return "", "", fmt.Errorf("%q is not a Harbor repository (project/name)", repo)
	}
	return project, name, nil
}

// repositoryPath is the API path of a repository: its name within the
// project is URL-encoded twice, as Harbor wants a name holding "/".
func repositoryPath(project, name string) string {
	return harborAPI + "/projects/" + url.PathEscape(project) + "/repositories/" + url.PathEscape(url.PathEscape(name))
}

// harborErrors is Harbor's error body.
type harborErrors struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// call sends one API request and returns the response when it is 2xx; any
// other answer is a *CallError naming op, Harbor's codes and a hint.
func (h *Harbor) call(ctx context.Context, method, pathQuery, op string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.endpoint+pathQuery, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "helmupgradebot")
	if h.auth != nil {
		cfg, err := h.auth.Authorization()
		if err != nil {
			return nil, fmt.Errorf("%s: read the registry credentials: %w", op, err)
		}
		if cfg.Username != "" || cfg.Password != "" {
			req.SetBasicAuth(cfg.Username, cfg.Password)
		}
	}
	resp, err := h.api.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, harborCallError(op, resp.StatusCode, body)
}

// harborCallError describes Harbor's error answer.
func harborCallError(op string, status int, body []byte) *CallError {
	ce := &CallError{Op: op, Status: status}
	var e harborErrors
	var details []string
	if json.Unmarshal(body, &e) == nil {
		for _, x := range e.Errors {
			ce.Codes = append(ce.Codes, x.Code)
			details = append(details, strings.TrimSpace(x.Code+": "+x.Message))
		}
	}
	ce.Detail = scrubTokens(strings.Join(details, "; "))
	ce.err = fmt.Errorf("harbor answered %d", status)
	switch {
	case status == http.StatusUnauthorized:
		ce.Hint = "check registry.auth: the robot account's or user's name and secret were not accepted"
	case status == http.StatusForbidden:
		ce.Hint = "the account lacks this permission in the project; give the robot account the permissions to list repositories and artifacts (and delete artifacts)"
	default:
		ce.Hint = hint(ce)
	}
	return ce
}

// getJSON GETs pathQuery into v.
func (h *Harbor) getJSON(ctx context.Context, pathQuery, op string, v any) (http.Header, error) {
	resp, err := h.call(ctx, http.MethodGet, pathQuery, op)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return nil, fmt.Errorf("%s: Harbor's answer does not decode: %w", op, err)
	}
	return resp.Header, nil
}

// listAll reads every page of a Harbor listing at path (query holds its
// other parameters), following the Link header's next page; without one,
// X-Total-Count says whether more pages follow.
func listAll[T any](ctx context.Context, h *Harbor, path string, query url.Values, op string) ([]T, error) {
	var out []T
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("page_size", strconv.Itoa(h.pageSize))
	next := path + "?" + q.Encode()
	for page := 1; next != ""; page++ {
		var items []T
		hdr, err := h.getJSON(ctx, next, fmt.Sprintf("%s (page %d)", op, page), &items)
		if err != nil {
			return out, err
		}
		out = append(out, items...)
		next = ""
		if l, ok := nextLink(hdr.Get("Link")); ok {
			u, err := url.Parse(l)
			if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, h.host)) || !strings.HasPrefix(u.Path, harborAPI+"/") {
				return out, fmt.Errorf("%s: Harbor's Link header names an unexpected next page %q", op, l)
			}
			next = u.RequestURI()
			continue
		}
		total, err := strconv.Atoi(hdr.Get("X-Total-Count"))
		if err == nil && len(items) > 0 && len(out) < total {
			q.Set("page", strconv.Itoa(page+1))
			next = path + "?" + q.Encode()
		}
	}
	return out, nil
}

// nextLink finds the rel="next" URL of a Link header, as Harbor writes it
// (`<url>; rel="prev" , <url>; rel="next"`).
func nextLink(header string) (string, bool) {
	for part := range strings.SplitSeq(header, ",") {
		u, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(u, "<") || !strings.HasSuffix(u, ">") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
				return u[1 : len(u)-1], true
			}
		}
	}
	return "", false
}

// listProjects lists the configured projects (each read on its own), or
// every project the credentials see.
func (h *Harbor) listProjects(ctx context.Context) ([]harborProject, error) {
	if h.projects == nil {
		ps, err := listAll[harborProject](ctx, h, harborAPI+"/projects", nil, "list the projects of "+h.host)
		slices.SortFunc(ps, func(a, b harborProject) int { return strings.Compare(a.Name, b.Name) })
		return ps, err
	}
	var out []harborProject
	for _, name := range h.projects {
		var p harborProject
		if _, err := h.getJSON(ctx, harborAPI+"/projects/"+url.PathEscape(name), "read project "+name+" of "+h.host, &p); err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// listArtifacts lists every artifact of a repository ("project/name"),
// with its tags and their immutable status.
func (h *Harbor) listArtifacts(ctx context.Context, repo string) ([]harborArtifact, error) {
	project, name, err := splitRepository(repo)
	if err != nil {
		return nil, err
	}
	q := url.Values{"with_tag": {"true"}, "with_immutable_status": {"true"}, "with_label": {"false"},
		"with_scan_overview": {"false"}, "with_accessory": {"false"}}
	return listAll[harborArtifact](ctx, h, repositoryPath(project, name)+"/artifacts", q, "list the artifacts of "+repo)
}

// isHarborNotFound reports whether err is Harbor's 404.
func isHarborNotFound(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Status == http.StatusNotFound
}
