// Package github proposes chart version bumps as GitHub pull requests
// through the REST API (go-github): it reads a file, commits the edited file
// to a bot branch (directly or through the token owner's fork), opens or
// updates the pull request, and explains every failure for an operator.
package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"

	httpretry "github.com/helmupgradebot/helmupgradebot/backend/retry"
)

// DefaultAPIURL is GitHub.com's REST API root.
const DefaultAPIURL = "https://api.github.com/"

// BranchPrefix starts every branch the bot pushes.
const BranchPrefix = "helmupgradebot/"

// Client talks to one GitHub API with one token.
type Client struct {
	gh           *gh.Client
	token        string   // held only to keep it out of error text
	app          *appAuth // signing in as a GitHub App; nil with a token
	pollInterval time.Duration
	forkTimeout  time.Duration
	mergeable    polling // re-reads of a pull request's mergeable (prstatus.go)

	mu    sync.Mutex
	login string // the token's user, once known
}

type options struct {
	httpClient   *http.Client
	pollInterval time.Duration
	forkTimeout  time.Duration
	mergeable    *polling
	retry        httpretry.Policy
}

// WithRetry sets how API calls are retried and bounded (package retry's
// defaults otherwise): GitHub's rate limits (429, and 403 with Retry-After
// or an exhausted limit) are waited out when they end within the call's
// max wait. The retry layer goes under every transport, given or not.
func WithRetry(p httpretry.Policy) Option { return func(o *options) { o.retry = p } }

// retrying is the HTTP client of the options (a new one when none is
// given) with its transport under the retry layer.
func (o options) retrying() *http.Client {
	hc := &http.Client{}
	if o.httpClient != nil {
		*hc = *o.httpClient
	}
	hc.Transport = httpretry.New(hc.Transport, o.retry)
	return hc
}

// Option configures a Client.
type Option func(*options)

// WithHTTPClient sets the HTTP client (transport, timeout) used for API calls.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithForkPolling sets how often and how long fork mode waits for a new
// fork to appear (GitHub creates forks asynchronously). Defaults: every 2s,
// for at most 5 minutes.
func WithForkPolling(interval, timeout time.Duration) Option {
	return func(o *options) { o.pollInterval, o.forkTimeout = interval, timeout }
}

// New returns a client for the REST API rooted at apiURL (DefaultAPIURL
// when empty; for GitHub Enterprise "https://host/api/v3/") that
// authenticates with token.
func New(apiURL, token string, opts ...Option) (*Client, error) {
	o := options{pollInterval: 2 * time.Second, forkTimeout: 5 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return nil, errors.New("GitHub token is empty: set github.token")
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return nil, errors.New("GitHub token contains spaces or control characters: check github.token")
	}
	c, err := newClient(apiURL, gh.NewClient(o.retrying()).WithAuthToken(token), o)
	if err != nil {
		return nil, err
	}
	c.token = token
	return c, nil
}

// newClient points an authenticating go-github client at apiURL.
func newClient(apiURL string, c *gh.Client, o options) (*Client, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		shown := apiURL
		if err == nil {
			shown = u.Redacted()
		}
		return nil, fmt.Errorf("GitHub API URL %q is not an http(s) URL such as %s", shown, DefaultAPIURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c.BaseURL = u
	c.UploadURL = u
	c.UserAgent = "helmupgradebot"
	if o.pollInterval <= 0 {
		o.pollInterval = 2 * time.Second
	}
	return &Client{gh: c, pollInterval: o.pollInterval, forkTimeout: o.forkTimeout, mergeable: o.mergeablePolling()}, nil
}

// DefaultBranch returns a repository's default branch.
func (c *Client) DefaultBranch(ctx context.Context, owner, repo string) (string, error) {
	r, err := c.repository(ctx, owner, repo)
	if err != nil {
		return "", c.redact(err)
	}
	return r.GetDefaultBranch(), nil
}

func (c *Client) repository(ctx context.Context, owner, repo string) (*gh.Repository, error) {
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("repository %q/%q: owner and name are both required", owner, repo)
	}
	r, _, err := c.gh.Repositories.Get(ctx, owner, repo)
	if err != nil {
		return nil, fail(err, owner+"/"+repo, "read repository", "")
	}
	return r, nil
}

// GetFile returns a file's content and git blob sha at ref (a branch, tag or
// commit sha; the default branch when empty).
func (c *Client) GetFile(ctx context.Context, owner, repo, path, ref string) (content []byte, sha string, err error) {
	content, sha, err = c.getFile(ctx, owner, repo, path, ref, "")
	if errors.Is(err, ErrNotFound) {
		// A 404 on contents may also mean an invisible repository.
		if _, rerr := c.repository(ctx, owner, repo); rerr != nil {
			err = rerr
		}
	}
	return content, sha, c.redact(err)
}

// getFile reads path at ref; where names ref for messages (ref when empty).
func (c *Client) getFile(ctx context.Context, owner, repo, path, ref, where string) ([]byte, string, error) {
	full := owner + "/" + repo
	switch {
	case where != "":
	case ref != "":
		where = ref
	default:
		where = "the default branch"
	}
	op := fmt.Sprintf("read %s at %s", path, where)
	if path == "" || strings.Contains(path, "..") {
		return nil, "", fmt.Errorf("%s in %s: invalid file path %q", op, full, path)
	}
	f, dir, _, err := c.gh.Repositories.GetContents(ctx, owner, repo, path, &gh.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		return nil, "", fail(err, full, op, fmt.Sprintf("file %s not found at %s", path, where))
	}
	if f == nil {
		return nil, "", fmt.Errorf("%s in %s: %s is a directory (%d entries), not a file", op, full, path, len(dir))
	}
	if f.GetType() != "file" {
		return nil, "", fmt.Errorf("%s in %s: %s is a %s, not a file", op, full, path, f.GetType())
	}
	s, err := f.GetContent()
	if err != nil {
		return nil, "", fmt.Errorf("%s in %s: decode content: %w", op, full, err)
	}
	return []byte(s), f.GetSHA(), nil
}

// user returns the token's login (GET /user, cached).
func (c *Client) user(ctx context.Context) (string, error) {
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	if login != "" {
		return login, nil
	}
	u, _, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		return "", fail(err, c.gh.BaseURL.Host, "read the token's user", "")
	}
	if u.GetLogin() == "" {
		return "", errors.New("read the token's user: GitHub returned no login")
	}
	c.mu.Lock()
	c.login = u.GetLogin()
	c.mu.Unlock()
	return u.GetLogin(), nil
}

// BranchName returns the bot's branch for bumping dependency (its key: the
// alias, else the name) in filePath: "helmupgradebot/<slug of file
// path>/<dependency>" (dependency "all" for a grouped bump). Both parts are
// reduced to lower-case letters, digits and dashes so the result is always
// a valid git ref name; a dependency that this changes (an alias such as
// "Hub_2") also gets a short hash of itself, so that two dependencies of
// one file never share a branch.
func BranchName(filePath, dependency string) string {
	dep := slug(dependency, "all")
	if dependency != "" && dep != dependency {
		sum := sha256.Sum256([]byte(dependency))
		dep += "-" + hex.EncodeToString(sum[:])[:7]
	}
	return BranchPrefix + slug(filePath, "file") + "/" + dep
}

func slug(s, empty string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if out == "" {
		return empty
	}
	return out
}
