package registry

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// ACR inventories an Azure Container Registry through its own listing API
// (/acr/v1/_catalog and /acr/v1/<repository>/_manifests, through the Azure
// SDK's azcontainerregistry client). The listing names every manifest,
// untagged ones included, with its tags, push time and own lock (the
// repository's and the tags' locks are read beside it), so no
// manifest is fetched by tag: manifests and configs are read by digest only,
// once each, for the blobs behind the deduplicated sizes. Reads and deletes
// go through go-containerregistry, logged in with an ACR refresh token that
// is exchanged for a Microsoft Entra token and renewed before it expires.
//
// An image's age is its push time (ACR's createdTime), which a reproducible
// build's 1970 config cannot fool; the config's time is kept beside it.
// The platform manifests of an index, which ACR lists as untagged entries
// of their own, are part of their index, not images.
type ACR struct {
	*Client
	az     *azcontainerregistry.Client
	tokens *acrTokens
	prev   previous
}

// Seed gives the next scan a previous inventory of this registry (the
// last run's snapshot): the manifests it read whole that the listing
// still shows are not read again. A scan seeds the one after it itself.
func (a *ACR) Seed(inv *model.Inventory) { a.prev.seed(inv) }

var (
	_ Lister  = (*ACR)(nil)
	_ Deleter = (*ACR)(nil)
)

// ACR login constants.
const (
	// acrUser is the user name that goes with an ACR refresh token.
	acrUser = "00000000-0000-0000-0000-000000000000"
	// acrAudience is the Entra scope of ACR's token exchange.
	acrAudience = "https://containerregistry.azure.net/.default"
	// acrPage is what ACR's listing gives at most per page, whatever n asks.
	acrPage = 100
	// renewBefore is how long before its expiry a refresh token is renewed.
	renewBefore = 10 * time.Minute
)

// NewACR returns a client of the ACR at host ("name.azurecr.io", or a
// loopback stand-in), authenticating with cred (a managed identity or any
// azidentity credential). It takes the same options as New, except
// WithAuthenticator and WithKeychain: the login is cred's.
func NewACR(host string, cred azcore.TokenCredential, opts ...Option) (*ACR, error) {
	if cred == nil {
		return nil, fmt.Errorf("registry %s: ACR needs an Azure credential", host)
	}
	o := options{concurrency: DefaultConcurrency, pageSize: DefaultPageSize, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
	}
	if o.auth != nil || o.keychain != nil {
		return nil, fmt.Errorf("registry %s: ACR logs in with its Azure credential; give no authenticator or keychain", host)
	}
	scheme := "https://"
	if o.insecure || loopback.Host(host) {
		scheme = "http://"
	}
	endpoint := scheme + host
	// The SDK's own retries are off: the retry transport retries.
	co := azcore.ClientOptions{Transport: &http.Client{Transport: checkLinks{o.retrying()}}, Retry: policy.RetryOptions{MaxRetries: -1}}
	authClient, err := azcontainerregistry.NewAuthenticationClient(endpoint, &azcontainerregistry.AuthenticationClientOptions{ClientOptions: co})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	tokens := &acrTokens{cred: cred, auth: authClient, service: host, now: o.now}
	client, err := New(host, append(slices.Clone(opts), WithAuthenticator(tokens))...)
	if err != nil {
		return nil, err
	}
	aco := co
	aco.PerCallPolicies = []policy.Policy{&scopedTokens{tokens: tokens, cache: map[string]*scopedToken{}}}
	az, err := azcontainerregistry.NewClient(endpoint, cred, &azcontainerregistry.ClientOptions{ClientOptions: aco})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	return &ACR{Client: client, az: az, tokens: tokens}, nil
}

// scopedTokens puts on each ACR API request an access token for the scope
// it needs (repository:<name>:metadata_read for a listing or a property
// read, metadata_write for an update, delete for a delete,
// registry:catalog:* for the catalog), exchanged once per scope and kept
// until shortly before it expires. The SDK's own policy keeps one access
// token at a time: requests over many repositories in parallel would each
// meet a challenge and a token exchange, three round trips a call instead
// of one. It starts once the registry has challenged a request (the SDK's
// policy answered it): a registry that asks for no token gets none. A
// token the registry refuses all the same is dropped; the SDK's policy
// then answers the challenge as it would have.
type scopedTokens struct {
	tokens     *acrTokens
	challenged atomic.Bool
	mu         sync.Mutex
	cache      map[string]*scopedToken
}

type scopedToken struct {
	mu       sync.Mutex
	token    string
	renewAt  time.Time
	acquired bool
}

func (p *scopedTokens) Do(req *policy.Request) (*http.Response, error) {
	scope := acrScope(req.Raw())
	switch {
	case scope == "" || req.Raw().Header.Get("Authorization") != "":
		return req.Next()
	case !p.challenged.Load():
		resp, err := req.Next()
		if sentWith(resp) != "" { // the SDK's policy answered a challenge
			p.challenged.Store(true)
		}
		return resp, err
	}
	tok, err := p.get(req.Raw().Context(), scope)
	if err != nil {
		return req.Next() // the SDK's policy tries in its own way
	}
	bearer := "Bearer " + tok
	req.Raw().Header.Set("Authorization", bearer)
	resp, err := req.Next()
	if resp != nil && sentWith(resp) != bearer { // refused: the SDK's policy took over
		p.drop(scope, tok)
	}
	return resp, err
}

// sentWith is the Authorization header of the request that got resp (the
// pipeline sends a copy of the request it is given).
func sentWith(resp *http.Response) string {
	if resp == nil || resp.Request == nil {
		return ""
	}
	return resp.Request.Header.Get("Authorization")
}

// get is an access token for scope, exchanged for the refresh token when
// none is kept or the kept one is about to expire.
func (p *scopedTokens) get(ctx context.Context, scope string) (string, error) {
	p.mu.Lock()
	e := p.cache[scope]
	if e == nil {
		e = &scopedToken{}
		p.cache[scope] = e
	}
	p.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	now := p.tokens.now()
	if e.acquired && now.Before(e.renewAt) {
		return e.token, nil
	}
	refresh, err := p.tokens.get(ctx)
	if err != nil {
		return "", err
	}
	resp, err := p.tokens.auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, p.tokens.service, scope, refresh,
		&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypeRefreshToken)})
	if err != nil {
		return "", err
	}
	if resp.AccessToken == nil || *resp.AccessToken == "" {
		return "", errors.New("the registry gave no access token")
	}
	exp := jwtExpiry(*resp.AccessToken, now)
	e.token, e.acquired = *resp.AccessToken, true
	e.renewAt = exp.Add(-min(time.Minute, exp.Sub(now)/4))
	return e.token, nil
}

// drop forgets scope's token if it is still tok.
func (p *scopedTokens) drop(scope, tok string) {
	p.mu.Lock()
	e := p.cache[scope]
	p.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.token == tok {
		e.acquired = false
	}
	e.mu.Unlock()
}

// acrScope is the scope ACR's API wants for req: "" for a request that is
// not to /acr/v1/.
func acrScope(req *http.Request) string {
	rest, ok := strings.CutPrefix(req.URL.Path, "/acr/v1/")
	switch {
	case !ok || rest == "":
		return ""
	case rest == "_catalog":
		return "registry:catalog:*"
	}
	repo := rest
	if i := strings.Index(rest, "/_"); i > 0 { // /_manifests, /_tags: no component of a name starts with _
		repo = rest[:i]
	}
	action := "metadata_read"
	switch req.Method {
	case http.MethodPatch:
		action = "metadata_write"
	case http.MethodDelete:
		action = "delete"
	}
	return "repository:" + repo + ":" + action
}

// checkLinks fails a listing page whose Link header the Azure SDK cannot
// read (it panics on one without "<...>"): that page fails, naming the
// header, instead of the whole run.
type checkLinks struct{ inner http.RoundTripper }

func (c checkLinks) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if l := resp.Header.Get("Link"); l != "" && !(strings.HasPrefix(l, "<") && strings.IndexByte(l, '>') > 0) {
		_ = resp.Body.Close()
		if len(l) > 80 {
			l = l[:80] + "…"
		}
		return nil, fmt.Errorf("the registry answered a malformed Link header %q", scrubTokens(l))
	}
	return resp, nil
}

// acrEntry is one manifest as ACR's listing gives it.
type acrEntry struct {
	digest    string
	tags      []string
	created   time.Time
	mediaType string
	// platform is "os/arch" from the listing (the image config's), "" when
	// it gives none
	platform string
	// locked: the manifest's own attributes refuse deletes
	locked bool
}

func entryOf(m *azcontainerregistry.ManifestAttributes) (acrEntry, bool) {
	if m == nil || m.Digest == nil {
		return acrEntry{}, false
	}
	e := acrEntry{digest: *m.Digest}
	for _, t := range m.Tags {
		if t != nil {
			e.tags = append(e.tags, *t)
		}
	}
	slices.Sort(e.tags)
	if m.CreatedOn != nil {
		e.created = *m.CreatedOn
	}
	if m.MediaType != nil {
		e.mediaType = unique.Make(*m.MediaType).Value() // a handful of values over 100,000 entries
	}
	if m.OperatingSystem != nil && m.Architecture != nil && *m.OperatingSystem != "" && *m.Architecture != "" {
		e.platform = unique.Make(string(*m.OperatingSystem) + "/" + string(*m.Architecture)).Value()
	}
	if a := m.ChangeableAttributes; a != nil {
		e.locked = refuses(a.CanDelete, a.CanWrite)
	}
	return e, true
}

// refuses reports whether changeable attributes refuse deletes:
// deleteEnabled or writeEnabled false (absent counts as true).
func refuses(canDelete, canWrite *bool) bool {
	return (canDelete != nil && !*canDelete) || (canWrite != nil && !*canWrite)
}

// listManifests lists every manifest of a repository, page by page.
func (a *ACR) listManifests(ctx context.Context, repo string) ([]acrEntry, error) {
	var out []acrEntry
	pager := a.az.NewListManifestsPager(repo, &azcontainerregistry.ClientListManifestsOptions{MaxNum: to.Ptr[int32](acrPage)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return out, acrCallError(fmt.Sprintf("list manifests of %s after %d", repo, len(out)), err)
		}
		for _, m := range page.Attributes {
			if e, ok := entryOf(m); ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// ACR keeps locks (changeable attributes deleteEnabled and writeEnabled)
// at three levels, each set on its own: a repository's, a tag's and a
// manifest's. A scan reads all three: the manifest listing gives each
// manifest's own; GET /acr/v1/<repo> the repository's (one request per
// repository); the tag listing the tags' (one page of 100 per hundred
// tags, only for a repository whose manifest listing shows tags, plus one
// GET per tag that listing hides with listEnabled false). What each holds
// is model.Image.Lock's: a manifest its own lock holds (Lock ""); a
// manifest a locked tag points at ("tag repo:tag"); an index whose
// platform manifest is locked by its own lock ("platform linux/arm64") or
// a tag's ("tag repo:tag"); with the repository's writes disabled,
// every image in it ("repository"). A repository whose deletes only are
// disabled holds none of its images (ACR deletes them one by one): it is
// in Inventory.RepositoryLocks, as a write-disabled one is.

// acrLocks is what a repository's own attributes and its tags' say.
type acrLocks struct {
	// repo is the repository's own lock; Repository "" when it could
	// not be read
	repo model.RepositoryLock
	// tags maps each digest to its tags that refuse deletes, sorted
	tags map[string][]string
}

// repositoryLock reads a repository's own attributes (GET /acr/v1/<repo>).
// A repository gone since it was listed locks nothing.
func (a *ACR) repositoryLock(ctx context.Context, repo string) (model.RepositoryLock, error) {
	p, err := a.az.GetRepositoryProperties(ctx, repo, nil)
	if err != nil {
		if isNotFound(err) {
			return model.RepositoryLock{Repository: repo}, nil
		}
		return model.RepositoryLock{}, acrCallError(fmt.Sprintf("read the locks of repository %s (nothing in it is deleted)", repo), err)
	}
	l := model.RepositoryLock{Repository: repo}
	if c := p.ChangeableAttributes; c != nil {
		l.DeleteDisabled = c.CanDelete != nil && !*c.CanDelete
		l.WriteDisabled = c.CanWrite != nil && !*c.CanWrite
	}
	return l, nil
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// lockedTags reads the attributes of the tags es shows (the tag listing,
// paged by 100; none when es shows no tag) and maps each digest to its
// tags that refuse deletes. A tag the listing hides (listEnabled false) is
// read on its own.
func (a *ACR) lockedTags(ctx context.Context, repo string, es []acrEntry) (map[string][]string, error) {
	unseen := map[string]bool{}
	for _, e := range es {
		for _, t := range e.tags {
			unseen[t] = true
		}
	}
	if len(unseen) == 0 {
		return nil, nil
	}
	var out map[string][]string
	add := func(t *azcontainerregistry.TagAttributes) {
		if t == nil || t.Name == nil || t.Digest == nil {
			return
		}
		delete(unseen, *t.Name)
		if c := t.ChangeableAttributes; c != nil && refuses(c.CanDelete, c.CanWrite) {
			if out == nil {
				out = map[string][]string{}
			}
			out[*t.Digest] = append(out[*t.Digest], *t.Name)
		}
	}
	n := 0
	pager := a.az.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](acrPage)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return nil, nil // gone since its manifests were listed
			}
			return nil, acrCallError(fmt.Sprintf("list the tags of %s after %d to read their locks (nothing in it is deleted)", repo, n), err)
		}
		for _, t := range page.Tags {
			n++
			add(t)
		}
	}
	for _, tag := range slices.Sorted(maps.Keys(unseen)) {
		p, err := a.az.GetTagProperties(ctx, repo, tag, nil)
		switch {
		case isNotFound(err):
			continue // untagged meanwhile
		case err != nil:
			return nil, acrCallError(fmt.Sprintf("read the lock of tag %s:%s (nothing in %s is deleted)", repo, tag, repo), err)
		}
		add(p.Tag)
	}
	for _, tags := range out {
		slices.Sort(tags)
	}
	return out, nil
}

// lockReasons says which lock holds each manifest of repo that one holds
// (model.Image.Lock: "" for its own), from its listing es, its locks lk
// and index, which gives an index's platform manifests and its platform
// strings (nil for a manifest that is no index). The first that applies
// is named: the manifest's own lock, a tag's, a locked platform
// manifest's (of an index: its tag's lock, else "platform os/arch"), the
// repository's write lock.
func lockReasons(repo string, es []acrEntry, lk acrLocks, index func(digest string) (children, platforms []string)) map[string]string {
	byDigest := make(map[string]*acrEntry, len(es))
	direct := map[string]string{}
	for i := range es {
		e := &es[i]
		byDigest[e.digest] = e
		switch tags := lk.tags[e.digest]; {
		case e.locked:
			direct[e.digest] = ""
		case len(tags) > 0:
			direct[e.digest] = model.LockTag + " " + repo + ":" + tags[0]
		}
	}
	held := maps.Clone(direct)
	for _, e := range es {
		if _, ok := held[e.digest]; ok {
			continue
		}
		children, platforms := index(e.digest)
		for _, c := range children {
			why, ok := direct[c]
			switch {
			case !ok:
				continue
			case why == "":
				why = model.LockPlatform + " " + childPlatform(byDigest[c], c, platforms)
			}
			held[e.digest] = why
			break
		}
	}
	if lk.repo.WriteDisabled {
		for _, e := range es {
			if _, ok := held[e.digest]; !ok {
				held[e.digest] = model.LockRepository
			}
		}
	}
	return held
}

// childPlatform names a platform manifest of an index: the index's
// platform string for it (matched by the listing's os/arch, which lacks a
// variant), else the listing's os/arch, else its digest.
func childPlatform(e *acrEntry, digest string, platforms []string) string {
	if e == nil || e.platform == "" {
		return digest
	}
	if slices.Contains(platforms, e.platform) {
		return e.platform
	}
	var match []string
	for _, p := range platforms {
		if strings.HasPrefix(p, e.platform+"/") {
			match = append(match, p)
		}
	}
	if len(match) == 1 {
		return match[0]
	}
	return e.platform
}

// Scan lists the registry's repositories and every manifest in each, then
// reads each distinct manifest (and config) by digest, at most once.
func (a *ACR) Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Log in first: without a usable identity, say so at once and how to
	// set one up.
	if _, err := a.tokens.get(ctx); err != nil {
		return nil, err
	}
	s := newScanner(a.Client)
	defer s.endCache(nil) // a failed scan is not a cache generation
	scannedAt := a.now()
	stop := s.runProgress(progress)
	defer stop()

	var repos []string
	pager := a.az.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](acrPage)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = acrCallError(fmt.Sprintf("list repositories of %s after %d", a.host, len(repos)), err)
			if len(repos) == 0 {
				return nil, err
			}
			s.addError(model.ScanError{Error: err.Error() + "; the repositories listed so far are scanned"})
			break
		}
		for _, n := range page.Names {
			if n != nil {
				repos = append(repos, *n)
			}
		}
		s.nRepos.Store(int64(len(repos)))
		s.bump()
	}
	slices.Sort(repos)
	repos = slices.Compact(repos)
	s.repoList = repos

	// List every repository's manifests, and read its locks: its own
	// attributes, and its tags' when it has tags.
	entries := make([][]acrEntry, len(repos))
	locks := make([]acrLocks, len(repos))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency)
	failed := func(repo string, err error) error {
		if gctx.Err() != nil {
			return gctx.Err()
		}
		s.addError(model.ScanError{Repository: repo, Error: err.Error()})
		return nil
	}
	// One task a repository, its requests one after the other: each holds
	// a place of the concurrency limit only while it is in flight.
	for k, repo := range repos {
		g.Go(func() error {
			es, err := a.listManifests(gctx, repo)
			if err == nil {
				locks[k].repo, err = a.repositoryLock(gctx, repo)
			}
			if err == nil {
				locks[k].tags, err = a.lockedTags(gctx, repo, es)
			}
			if err != nil {
				if err := failed(repo, err); err != nil {
					return err
				}
			}
			entries[k] = es
			s.nImages.Add(int64(len(es)))
			s.nReposDone.Add(1)
			s.bump()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Read each manifest by digest (an index reads its platform manifests
	// too; every digest once over the whole scan).
	p, err := s.puller(s.c.pageSize)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", a.host, err)
	}
	// What the previous scan read whole needs no read; nor do the untagged
	// platform manifests of an index it read.
	known := a.prev.take()
	skip := map[string]bool{} // repository@digest
	for k, repo := range repos {
		for _, e := range entries[k] {
			if info := known[e.digest]; info != nil {
				s.manifests.preload(e.digest, info)
				for _, c := range info.children {
					skip[repo+"@"+c] = true
				}
			}
		}
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency)
	for k, repo := range repos {
		r := s.reg.Repo(repo)
		for _, e := range entries[k] {
			if known[e.digest] != nil || (skip[repo+"@"+e.digest] && len(e.tags) == 0) {
				s.nImagesDone.Add(1)
				continue
			}
			g.Go(func() error {
				s.manifest(gctx, p, r, e.digest, nil)
				s.nImagesDone.Add(1)
				s.bump()
				return gctx.Err()
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	s.configs.reset() // what the manifests took from their configs is in them
	inv := a.assemble(s, repos, entries, locks, scannedAt)
	s.endCache(inv)
	a.prev.set(inv)
	return inv, nil
}

// assemble builds the inventory from the listing, the locks and the
// manifests read.
func (a *ACR) assemble(s *scanner, repos []string, entries [][]acrEntry, locks []acrLocks, scannedAt time.Time) *model.Inventory {
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetRepositories(len(repos))
	n := 0
	for _, es := range entries {
		n += len(es)
	}
	b.Grow(n)
	// What a manifest says is let go once the last entry naming it is in
	// the inventory, so that the two are not both whole at the end.
	uses := make(map[string]int32, n)
	for _, es := range entries {
		for _, e := range es {
			uses[e.digest]++
		}
	}
	used := func(d string) {
		if uses[d]--; uses[d] == 0 {
			s.manifests.forget(d)
		}
	}
	errs := slices.Clone(s.errs)
	for k, repo := range repos {
		// platform manifests of an index are part of it, not images
		child := map[string]bool{}
		for _, e := range entries[k] {
			if info := s.manifests.peek(e.digest); info != nil && info.err == nil {
				for _, c := range info.children {
					child[c] = true
				}
			}
		}
		lk := locks[k]
		if l := lk.repo; l.DeleteDisabled || l.WriteDisabled {
			b.AddRepositoryLock(l)
		}
		held := lockReasons(repo, entries[k], lk, func(d string) ([]string, []string) {
			if info := s.manifests.peek(d); info != nil && info.err == nil {
				return info.children, info.platforms
			}
			return nil, nil
		})
		for _, e := range entries[k] {
			info := s.manifests.peek(e.digest)
			used(e.digest)
			if child[e.digest] && len(e.tags) == 0 {
				continue
			}
			ref := repo + "@" + e.digest
			if info == nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: "manifest not read"})
				continue
			}
			if info.err != nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: info.err.Error()})
				continue
			}
			for _, w := range info.warnings {
				errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
			}
			im := model.Image{
				Repository: repo,
				Digest:     e.digest,
				Tags:       e.tags,
				MediaType:  cmp.Or(e.mediaType, info.mediaType),
				Platform:   info.platform,
				Platforms:  slices.Clone(info.platforms),
				Children:   slices.Clone(info.children),
				Subject:    info.subject,
			}
			im.Lock, im.Locked = held[e.digest]
			if e.created.IsZero() {
				im.Created, im.CreatedProblem = info.created, info.problem
			} else {
				im.Created, im.CreatedProblem = e.created, model.CreatedOK
				if !info.created.IsZero() && info.created.Sub(e.created).Abs() > time.Minute {
					im.ConfigCreated = info.created
				}
			}
			if err := b.AddImage(im, info.blobs, info.childBlobsOrNil()...); err != nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
			}
		}
		entries[k] = nil
	}
	slices.SortFunc(errs, func(x, y model.ScanError) int {
		return strings.Compare(x.Repository+"\x00"+x.Reference+"\x00"+x.Error, y.Repository+"\x00"+y.Reference+"\x00"+y.Error)
	})
	for _, e := range slices.Compact(errs) {
		b.AddError(e)
	}
	return b.Inventory()
}

// Current re-reads a repository through the listing: each manifest's tags,
// the platform manifests of indexes the scan did not know, and the locks
// at every level (the repository's attributes, and its tags' when it has
// tags: one request more, and a page of the tag listing per hundred tags).
func (a *ACR) Current(ctx context.Context, repository string, known func(digest string) bool) (Current, error) {
	cur := Current{Tags: map[string][]string{}, Referenced: map[string]bool{}, Locked: map[string]string{}}
	es, err := a.listManifests(ctx, repository)
	if err != nil {
		return cur, err
	}
	var lk acrLocks
	if lk.repo, err = a.repositoryLock(ctx, repository); err != nil {
		return cur, err
	}
	if lk.tags, err = a.lockedTags(ctx, repository, es); err != nil {
		return cur, err
	}
	type newIndex struct{ children, platforms []string }
	fresh := map[string]newIndex{}
	for _, e := range es {
		if len(e.tags) > 0 {
			cur.Tags[e.digest] = e.tags
		}
		if known(e.digest) || !types.MediaType(e.mediaType).IsIndex() {
			continue
		}
		props, err := a.az.GetManifestProperties(ctx, repository, e.digest, nil)
		if err != nil {
			return cur, acrCallError(fmt.Sprintf("read new index %s@%s", repository, e.digest), err)
		}
		var ni newIndex
		if m := props.Manifest; m != nil {
			for _, r := range m.RelatedArtifacts {
				if r != nil && r.Digest != nil {
					cur.Referenced[*r.Digest] = true
					ni.children = append(ni.children, *r.Digest)
					if r.OperatingSystem != nil && r.Architecture != nil {
						ni.platforms = append(ni.platforms, string(*r.OperatingSystem)+"/"+string(*r.Architecture))
					}
				}
			}
		}
		fresh[e.digest] = ni
	}
	for d, why := range lockReasons(repository, es, lk, func(d string) ([]string, []string) { return fresh[d].children, fresh[d].platforms }) {
		cur.Locked[d] = cmp.Or(why, model.LockManifest)
	}
	return cur, nil
}

// LockCensus is what the locks of some repositories hold, read as a scan
// reads them but without reading any manifest (--check-config).
type LockCensus struct {
	// Repositories were read; Images are the images in them (an index's
	// platform manifests are part of it).
	Repositories, Images int
	// Locked counts the images a lock holds, by its level
	// (model.Image.LockLevel: manifest, tag, platform, repository).
	Locked map[string]int
	// RepositoryLocks are those repositories whose own attributes disable
	// deletes or writes.
	RepositoryLocks []model.RepositoryLock
}

// Locks reads the locks of repositories at every level and counts the
// images they hold. An index's platform manifests come from its
// properties (GET /acr/v1/<repo>/_manifests/<digest>, one per index).
func (a *ACR) Locks(ctx context.Context, repositories []string) (LockCensus, error) {
	c := LockCensus{Repositories: len(repositories), Locked: map[string]int{}}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency)
	for _, repo := range repositories {
		g.Go(func() error {
			es, err := a.listManifests(gctx, repo)
			if err != nil {
				return err
			}
			var lk acrLocks
			if lk.repo, err = a.repositoryLock(gctx, repo); err != nil {
				return err
			}
			if lk.tags, err = a.lockedTags(gctx, repo, es); err != nil {
				return err
			}
			children := map[string][]string{}
			child := map[string]bool{}
			for _, e := range es {
				if !types.MediaType(e.mediaType).IsIndex() {
					continue
				}
				props, err := a.az.GetManifestProperties(gctx, repo, e.digest, nil)
				if err != nil {
					return acrCallError(fmt.Sprintf("read index %s@%s", repo, e.digest), err)
				}
				if m := props.Manifest; m != nil {
					for _, r := range m.RelatedArtifacts {
						if r != nil && r.Digest != nil {
							children[e.digest] = append(children[e.digest], *r.Digest)
							child[*r.Digest] = true
						}
					}
				}
			}
			held := lockReasons(repo, es, lk, func(d string) ([]string, []string) { return children[d], nil })
			mu.Lock()
			defer mu.Unlock()
			if lk.repo.DeleteDisabled || lk.repo.WriteDisabled {
				c.RepositoryLocks = append(c.RepositoryLocks, lk.repo)
			}
			for _, e := range es {
				if child[e.digest] && len(e.tags) == 0 {
					continue // part of its index
				}
				c.Images++
				if why, ok := held[e.digest]; ok {
					im := model.Image{Locked: true, Lock: why}
					c.Locked[im.LockLevel()]++
				}
			}
			return nil
		})
	}
	err := g.Wait()
	slices.SortFunc(c.RepositoryLocks, func(x, y model.RepositoryLock) int { return strings.Compare(x.Repository, y.Repository) })
	return c, err
}

// acrCallError describes a failed ACR API call from its status and ACR's
// error codes, never from request details (which carry tokens).
func acrCallError(op string, err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %s", op, scrubTokens(err.Error()))
	}
	msg := fmt.Sprintf("%s: registry answered %d %s", op, re.StatusCode, http.StatusText(re.StatusCode))
	if codes := acrErrorCodes(re.RawResponse); codes != "" {
		msg += " (" + codes + ")"
	}
	switch re.StatusCode {
	case http.StatusUnauthorized:
		msg += ": the Azure identity was not accepted; check azure.client_id and that the identity is assigned to this machine"
	case http.StatusForbidden:
		msg += ": the identity may not do this; grant it AcrPull (and AcrDelete to delete) on the registry"
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		msg += ": the registry failed; try again later"
	}
	return &acrError{msg: msg, err: err}
}

type acrError struct {
	msg string
	err error
}

func (e *acrError) Error() string { return e.msg }
func (e *acrError) Unwrap() error { return e.err }

// acrErrorCodes lists the codes and messages of a registry error body.
func acrErrorCodes(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return ""
	}
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var parts []string
	for _, x := range e.Errors {
		parts = append(parts, strings.TrimSpace(x.Code+" "+x.Message))
	}
	return scrubTokens(strings.Join(parts, "; "))
}

// scrubTokens removes anything shaped like a JWT from text.
func scrubTokens(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '"' || r == '\'' || r == '=' || r == '&' })
	for _, f := range fields {
		if strings.HasPrefix(f, "eyJ") && strings.Count(f, ".") >= 2 {
			s = strings.ReplaceAll(s, f, "[token]")
		}
	}
	return s
}

// acrTokens gets ACR refresh tokens for go-containerregistry's basic login
// (user acrUser, the refresh token as password), exchanging a Microsoft
// Entra token at /oauth2/exchange, and renews them before they expire.
type acrTokens struct {
	cred    azcore.TokenCredential
	auth    *azcontainerregistry.AuthenticationClient
	service string
	now     func() time.Time

	mu    sync.Mutex
	token string
	exp   time.Time
}

var _ authn.ContextAuthenticator = (*acrTokens)(nil)

// Authorization implements authn.Authenticator.
func (t *acrTokens) Authorization() (*authn.AuthConfig, error) {
	return t.AuthorizationContext(context.Background())
}

// AuthorizationContext implements authn.ContextAuthenticator.
func (t *acrTokens) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	tok, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return &authn.AuthConfig{Username: acrUser, Password: tok}, nil
}

func (t *acrTokens) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.exp.Add(-renewBefore)) {
		return t.token, nil
	}
	aad, err := t.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrAudience}})
	if err != nil {
		return "", fmt.Errorf("log in to %s: no Microsoft Entra token: %s; on an Azure VM assign it a managed identity (and set azure.client_id for a user-assigned one), on AKS use workload identity, elsewhere set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET or run az login", t.service, scrubTokens(firstLine(err.Error())))
	}
	resp, err := t.auth.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, t.service,
		&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &aad.Token})
	if err != nil {
		return "", acrCallError(fmt.Sprintf("log in to %s: exchange the Entra token for an ACR refresh token", t.service), err)
	}
	if resp.RefreshToken == nil || *resp.RefreshToken == "" {
		return "", fmt.Errorf("log in to %s: the token exchange gave no refresh token", t.service)
	}
	t.token = *resp.RefreshToken
	t.exp = jwtExpiry(t.token, t.now())
	return t.token, nil
}

// jwtExpiry reads a JWT's exp claim; without one, the token is taken to
// last an hour from now.
func jwtExpiry(tok string, now time.Time) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		if raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "=")); err == nil {
			var c struct {
				Exp int64 `json:"exp"`
			}
			if json.Unmarshal(raw, &c) == nil && c.Exp > 0 {
				return time.Unix(c.Exp, 0)
			}
		}
	}
	return now.Add(time.Hour)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
