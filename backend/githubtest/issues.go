package githubtest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// Issues, as GitHub's REST API serves them
// (https://docs.github.com/rest/issues/issues): an issue shares its
// repository's numbering with the pull requests, and the issue list holds
// the pull requests too, each with a "pull_request" key.

const issuesDocs = docsRoot + "/issues/issues"

// Issue is a repository's issue, as AddIssue seeds it and Issues reports it.
type Issue struct {
	Number int
	Title  string
	Body   string
	// State is open (the default) or closed; StateReason, for a closed
	// one, completed or not_planned.
	State, StateReason string
	// User is the login of whoever opened it; AddIssue's default is
	// Someone's "mona".
	User    string
	Labels  []string
	HTMLURL string
}

// issue is a stored issue.
type issue struct {
	Issue
	id                         int64
	created, updated, closedAt time.Time
}

// AddIssue opens an issue in a repository as a person would (User, by
// default "mona") and returns its number, taken from the numbering the
// pull requests share. A State of closed adds it closed.
func (s *Server) AddIssue(owner, repo string, is Issue) (int, error) {
	var n int
	err := s.with(owner, repo, func(r *repository) error {
		is.User = cmp.Or(is.User, "mona")
		is.State = cmp.Or(is.State, "open")
		if is.State != "open" && is.State != "closed" {
			return fmt.Errorf("githubtest: issue state %q is not open or closed", is.State)
		}
		n = s.newIssueLocked(r, is).Number
		return nil
	})
	return n, err
}

// newIssueLocked stores an issue under the next number. s.mu must be held.
func (s *Server) newIssueLocked(r *repository, is Issue) *issue {
	now := time.Now().UTC()
	is.Number = r.nextNumber
	r.nextNumber++
	it := &issue{Issue: is, id: s.nextIDLocked(), created: now, updated: now}
	if is.State == "closed" {
		it.closedAt, it.StateReason = now, cmp.Or(is.StateReason, "completed")
	}
	r.issues = append(r.issues, it)
	return it
}

// Issues returns a repository's issues, open and closed, without its pull
// requests, in the order they were opened.
func (s *Server) Issues(owner, repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return nil
	}
	out := make([]Issue, 0, len(r.issues))
	for _, it := range r.issues {
		is := it.Issue
		is.Labels = slices.Clone(is.Labels)
		is.HTMLURL = s.issueHTMLURL(r, it.Number)
		out = append(out, is)
	}
	return out
}

// CloseIssue closes an issue as a person would (state_reason completed).
func (s *Server) CloseIssue(owner, repo string, number int) error {
	return s.setIssueState(owner, repo, number, "closed", "completed")
}

// ReopenIssue reopens a closed issue.
func (s *Server) ReopenIssue(owner, repo string, number int) error {
	return s.setIssueState(owner, repo, number, "open", "reopened")
}

func (s *Server) setIssueState(owner, repo string, number int, state, reason string) error {
	return s.with(owner, repo, func(r *repository) error {
		it := issueNumbered(r, number)
		if it == nil {
			return fmt.Errorf("githubtest: no issue #%d in %s/%s", number, owner, repo)
		}
		it.setState(state, reason)
		return nil
	})
}

func (it *issue) setState(state, reason string) {
	if state == it.State {
		return
	}
	if reason == "" {
		reason = map[string]string{"closed": "completed", "open": "reopened"}[state]
	}
	it.State, it.StateReason, it.updated = state, reason, time.Now().UTC()
	it.closedAt = time.Time{}
	if state == "closed" {
		it.closedAt = it.updated
	}
}

// DisableIssues turns a repository's issues off: the issue endpoints then
// answer 410 Gone, as GitHub does.
func (s *Server) DisableIssues(owner, repo string) error {
	return s.with(owner, repo, func(r *repository) error { r.issuesOff = true; return nil })
}

func issueNumbered(r *repository, n int) *issue {
	for _, it := range r.issues {
		if it.Number == n {
			return it
		}
	}
	return nil
}

func (s *Server) issueHTMLURL(r *repository, n int) string {
	return fmt.Sprintf("%s/%s/issues/%d", s.root, r.fullName(), n)
}

// issueUser is a login as an issue shows it: an App's "<slug>[bot]" is a Bot.
func (s *Server) issueUser(login string) *gh.User {
	u := s.userJSON(login)
	if strings.HasSuffix(login, "[bot]") {
		u.Type = gh.String("Bot")
	}
	return u
}

// issueJSON is an issue in GitHub's documented shape.
func (s *Server) issueJSON(r *repository, it *issue) *gh.Issue {
	labels := make([]*gh.Label, 0, len(it.Labels))
	for _, l := range it.Labels {
		labels = append(labels, s.labelJSON(r, l))
	}
	out := &gh.Issue{
		ID:                gh.Int64(it.id),
		NodeID:            gh.String(fmt.Sprintf("I_%d", it.id)),
		Number:            gh.Int(it.Number),
		State:             gh.String(it.State),
		Title:             gh.String(it.Title),
		Body:              gh.String(it.Body),
		User:              s.issueUser(it.User),
		Labels:            labels,
		Assignees:         []*gh.User{},
		Comments:          gh.Int(0),
		Locked:            gh.Bool(false),
		CreatedAt:         &gh.Timestamp{Time: it.created},
		UpdatedAt:         &gh.Timestamp{Time: it.updated},
		ClosedAt:          timestampOrNil(it.closedAt),
		URL:               gh.String(s.apiURL(r, fmt.Sprintf("/issues/%d", it.Number))),
		HTMLURL:           gh.String(s.issueHTMLURL(r, it.Number)),
		RepositoryURL:     gh.String(s.apiURL(r, "")),
		CommentsURL:       gh.String(s.apiURL(r, fmt.Sprintf("/issues/%d/comments", it.Number))),
		EventsURL:         gh.String(s.apiURL(r, fmt.Sprintf("/issues/%d/events", it.Number))),
		LabelsURL:         gh.String(s.apiURL(r, fmt.Sprintf("/issues/%d/labels{/name}", it.Number))),
		AuthorAssociation: gh.String(map[bool]string{true: "OWNER", false: "NONE"}[strings.EqualFold(it.User, r.owner)]),
	}
	if it.StateReason != "" {
		out.StateReason = gh.String(it.StateReason)
	}
	return out
}

// pullAsIssueJSON is a pull request as the issue endpoints show it: an
// issue with a "pull_request" key.
func (s *Server) pullAsIssueJSON(r *repository, p *pull) *gh.Issue {
	it := &issue{Issue: Issue{Number: p.number, Title: p.title, Body: p.body, State: p.state, User: p.user, Labels: p.labels},
		id: p.id, created: p.created, updated: p.updated}
	if p.state == "closed" {
		it.closedAt = cmp.Or(p.merged, p.updated)
	}
	out := s.issueJSON(r, it)
	out.HTMLURL = gh.String(s.pullHTMLURL(r, p))
	out.PullRequestLinks = &gh.PullRequestLinks{
		URL:      gh.String(s.apiURL(r, fmt.Sprintf("/pulls/%d", p.number))),
		HTMLURL:  gh.String(s.pullHTMLURL(r, p)),
		DiffURL:  gh.String(s.pullHTMLURL(r, p) + ".diff"),
		PatchURL: gh.String(s.pullHTMLURL(r, p) + ".patch"),
		MergedAt: timestampOrNil(p.merged),
	}
	return out
}

// issuesOn answers 410 Gone when the repository's issues are off, and
// 403 when an App's installation may not read issues; it reports whether
// the request may go on.
func issuesOn(w http.ResponseWriter, req *http.Request, r *repository, doc string) bool {
	if r.issuesOff {
		writeError(w, http.StatusGone, "Issues are disabled for this repo", doc)
		return false
	}
	return integrationMayRead(w, req, "issues", doc)
}

// listed is one entry of the issue list: an issue or a pull request.
type listed struct {
	number           int
	state, user      string
	labels           []string
	created, updated time.Time
	json             func() *gh.Issue
}

// listIssues serves GET /repos/{owner}/{repo}/issues with GitHub's
// filters (state: open, closed or all; creator; labels, all of them;
// since, on updated_at), sort (created, updated, comments) and direction
// (desc by default), paginated by per_page and page with a Link header.
func (s *Server) listIssues(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = issuesDocs + "#list-repository-issues"
	if !issuesOn(w, req, r, doc) {
		return
	}
	q := req.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
	sortBy := cmp.Or(q.Get("sort"), "created")
	dir := cmp.Or(q.Get("direction"), "desc")
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			validationFailed(w, doc, apiError{Resource: "Issue", Field: "since", Code: "invalid"})
			return
		}
		since = t
	}
	switch {
	case !slices.Contains([]string{"open", "closed", "all"}, state):
		validationFailed(w, doc, apiError{Resource: "Issue", Field: "state", Code: "invalid"})
		return
	case !slices.Contains([]string{"created", "updated", "comments"}, sortBy):
		validationFailed(w, doc, apiError{Resource: "Issue", Field: "sort", Code: "invalid"})
		return
	case dir != "asc" && dir != "desc":
		validationFailed(w, doc, apiError{Resource: "Issue", Field: "direction", Code: "invalid"})
		return
	}
	var all []listed
	for _, it := range r.issues {
		all = append(all, listed{it.Number, it.State, it.User, it.Labels, it.created, it.updated, func() *gh.Issue { return s.issueJSON(r, it) }})
	}
	for _, p := range r.pulls {
		all = append(all, listed{p.number, p.state, p.user, p.labels, p.created, p.updated, func() *gh.Issue { return s.pullAsIssueJSON(r, p) }})
	}
	var wantLabels []string
	if v := q.Get("labels"); v != "" {
		wantLabels = strings.Split(v, ",")
	}
	all = slices.DeleteFunc(all, func(e listed) bool {
		switch {
		case state != "all" && e.state != state:
		case q.Get("creator") != "" && !strings.EqualFold(e.user, q.Get("creator")):
		case !since.IsZero() && e.updated.Before(since):
		case slices.ContainsFunc(wantLabels, func(l string) bool { return !slices.Contains(e.labels, strings.TrimSpace(l)) }):
		default:
			return false
		}
		return true
	})
	slices.SortStableFunc(all, func(a, b listed) int {
		c := cmp.Compare(a.number, b.number) // creation order; no comments are kept
		if sortBy == "updated" {
			c = cmp.Or(a.updated.Compare(b.updated), c)
		}
		if dir == "desc" {
			c = -c
		}
		return c
	})
	from, to := paginate(w, req, len(all))
	out := make([]*gh.Issue, 0, to-from)
	for _, e := range all[from:to] {
		out = append(out, e.json())
	}
	writeJSON(w, http.StatusOK, out)
}

// issueFields are what a create or an edit writes.
type issueFields struct {
	Title       *string  `json:"title"`
	Body        *string  `json:"body"`
	State       *string  `json:"state"`
	StateReason *string  `json:"state_reason"`
	Labels      []string `json:"labels"`
}

// readIssueFields decodes and validates a create (which needs a title)
// or an edit, answering 422 as GitHub does, or as issuesOn does; it
// reports whether they may be written.
func readIssueFields(w http.ResponseWriter, req *http.Request, r *repository, doc string, create bool) (issueFields, bool) {
	var f issueFields
	if !issuesOn(w, req, r, doc) || !decode(w, req, &f) {
		return f, false
	}
	var bad apiError
	switch {
	case (create || f.Title != nil) && strings.TrimSpace(deref(f.Title)) == "":
		bad = apiError{Resource: "Issue", Field: "title", Code: "missing_field"}
	case len([]rune(deref(f.Body))) > maxIssueBody:
		bad = apiError{Resource: "Issue", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"}
	case f.State != nil && *f.State != "open" && *f.State != "closed":
		bad = apiError{Resource: "Issue", Field: "state", Code: "invalid"}
	default:
		return f, true
	}
	validationFailed(w, doc, bad)
	return f, false
}

// createIssue serves POST /repos/{owner}/{repo}/issues: a title is
// required; the issue takes the next number the pull requests share.
func (s *Server) createIssue(w http.ResponseWriter, req *http.Request, r *repository) {
	f, ok := readIssueFields(w, req, r, issuesDocs+"#create-an-issue", true)
	if !ok {
		return
	}
	it := s.newIssueLocked(r, Issue{Title: *f.Title, Body: deref(f.Body), State: "open", User: s.actor(req), Labels: f.Labels})
	w.Header().Set("Location", s.apiURL(r, fmt.Sprintf("/issues/%d", it.Number)))
	writeJSON(w, http.StatusCreated, s.issueJSON(r, it))
}

// maxIssueBody is GitHub's limit on an issue's body, in characters.
const maxIssueBody = 65536

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// issueOrPull finds the issue or pull request {number} names, answering
// 404 when there is none.
func (s *Server) issueOrPull(w http.ResponseWriter, req *http.Request, r *repository, doc string) (*issue, *pull) {
	n, err := strconv.Atoi(req.PathValue("number"))
	if err == nil {
		if it := issueNumbered(r, n); it != nil {
			return it, nil
		}
		for _, p := range r.pulls {
			if p.number == n {
				return nil, p
			}
		}
	}
	writeError(w, http.StatusNotFound, "Not Found", doc)
	return nil, nil
}

// getIssue serves GET /repos/{owner}/{repo}/issues/{number}, a pull
// request's number included.
func (s *Server) getIssue(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = issuesDocs + "#get-an-issue"
	if !issuesOn(w, req, r, doc) {
		return
	}
	switch it, p := s.issueOrPull(w, req, r, doc); {
	case it != nil:
		writeJSON(w, http.StatusOK, s.issueJSON(r, it))
	case p != nil:
		writeJSON(w, http.StatusOK, s.pullAsIssueJSON(r, p))
	}
}

// editIssue serves PATCH /repos/{owner}/{repo}/issues/{number}: title,
// body, state (open or closed) and state_reason, on an issue or a pull
// request.
func (s *Server) editIssue(w http.ResponseWriter, req *http.Request, r *repository) {
	f, ok := readIssueFields(w, req, r, issuesDocs+"#update-an-issue", false)
	if !ok {
		return
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	switch it, p := s.issueOrPull(w, req, r, issuesDocs+"#update-an-issue"); {
	case it != nil:
		set(&it.Title, f.Title)
		set(&it.Body, f.Body)
		it.updated = time.Now().UTC()
		if f.State != nil {
			it.setState(*f.State, deref(f.StateReason))
		}
		writeJSON(w, http.StatusOK, s.issueJSON(r, it))
	case p != nil:
		set(&p.title, f.Title)
		set(&p.body, f.Body)
		set(&p.state, f.State)
		p.updated = time.Now().UTC()
		writeJSON(w, http.StatusOK, s.pullAsIssueJSON(r, p))
	}
}
