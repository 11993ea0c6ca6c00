package githubtest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// checkRun is one check run, stored on the repository it was created in
// (for a pull request from a fork, the base repository).
type checkRun struct {
	id         int64
	sha        string
	name       string
	status     string
	conclusion string // "" until completed
	started    time.Time
	completed  time.Time
}

// commitStatus is one commit status.
type commitStatus struct {
	id          int64
	sha         string
	context     string
	state       string
	description string
	created     time.Time
}

// CheckRun is a check run as AddCheckRun records it.
type CheckRun struct {
	Name string
	// Status is queued, in_progress, waiting, requested, pending or
	// completed (the default).
	Status string
	// Conclusion, for a completed run: success, failure, neutral,
	// cancelled, skipped, timed_out, action_required or stale.
	Conclusion string
}

var (
	checkStatuses    = []string{"queued", "in_progress", "waiting", "requested", "pending", "completed"}
	checkConclusions = []string{"success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required", "stale"}
	statusStates     = []string{"error", "failure", "pending", "success"}
)

// AddCheckRun records a check run on ref (a branch or a commit sha) of
// owner/repo, as GitHub Actions creating or re-running one would, and
// returns its id. A run named like an earlier one on the same commit
// supersedes it: the list shows the latest of each name unless asked for
// filter=all. For a pull request from a fork, add its checks to the base
// repository, where its workflows run.
func (s *Server) AddCheckRun(owner, repo, ref string, run CheckRun) (int64, error) {
	if run.Status == "" {
		run.Status = "completed"
	}
	switch {
	case run.Name == "":
		return 0, fmt.Errorf("githubtest: a check run needs a name")
	case !slices.Contains(checkStatuses, run.Status):
		return 0, fmt.Errorf("githubtest: check run status %q is not one of %v", run.Status, checkStatuses)
	case run.Status == "completed" && !slices.Contains(checkConclusions, run.Conclusion):
		return 0, fmt.Errorf("githubtest: a completed check run's conclusion %q is not one of %v", run.Conclusion, checkConclusions)
	case run.Status != "completed" && run.Conclusion != "":
		return 0, fmt.Errorf("githubtest: a %s check run has no conclusion yet", run.Status)
	}
	var id int64
	err := s.with(owner, repo, func(r *repository) error {
		sha, ok := s.resolve(r, ref)
		if !ok {
			return fmt.Errorf("githubtest: no commit %s in %s/%s", ref, owner, repo)
		}
		now := time.Now().UTC()
		c := &checkRun{id: s.nextIDLocked(), sha: sha, name: run.Name, status: run.Status, conclusion: run.Conclusion, started: now}
		if run.Status == "completed" {
			c.completed = now
		}
		r.checkRuns = append(r.checkRuns, c)
		id = c.id
		return nil
	})
	return id, err
}

// SetCommitStatus records a commit status on ref (a branch or a commit
// sha) of owner/repo, as POST /repos/{owner}/{repo}/statuses/{sha} does:
// state is error, failure, pending or success; a later status of the same
// context supersedes an earlier one.
func (s *Server) SetCommitStatus(owner, repo, ref, context, state, description string) error {
	if context == "" {
		context = "default"
	}
	if !slices.Contains(statusStates, state) {
		return fmt.Errorf("githubtest: commit status state %q is not one of %v", state, statusStates)
	}
	return s.with(owner, repo, func(r *repository) error {
		sha, ok := s.resolve(r, ref)
		if !ok {
			return fmt.Errorf("githubtest: no commit %s in %s/%s", ref, owner, repo)
		}
		r.statuses = append(r.statuses, &commitStatus{id: s.nextIDLocked(), sha: sha, context: context, state: state,
			description: description, created: time.Now().UTC()})
		return nil
	})
}

// SetMergeableState makes GET /repos/{owner}/{repo}/pulls/{number} report
// state (blocked, behind, unstable, has_hooks, draft, clean or dirty) as
// the pull request's mergeable_state, with mergeable false for dirty and
// true otherwise, once GitHub has "computed" it. "" computes it again:
// dirty when the head and the base changed a file in conflicting ways
// since their merge base, unstable when a check is failing or pending,
// clean otherwise.
func (s *Server) SetMergeableState(owner, repo string, number int, state string) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, p := range r.pulls {
			if p.number == number {
				p.mergeableState = state
				return nil
			}
		}
		return fmt.Errorf("githubtest: no pull request #%d in %s/%s", number, owner, repo)
	})
}

// mergeabilityLocked is an open pull request's mergeable and
// mergeable_state. Like GitHub, which computes them in the background, it
// answers null and "unknown" the first time it is asked after the head or
// the base moved. s.mu must be held.
func (s *Server) mergeabilityLocked(r *repository, p *pull) (*bool, string) {
	if p.state != "open" {
		return nil, "unknown"
	}
	head, base := p.headRepo.branches[p.headRef], r.branches[p.base]
	if key := head + "..." + base; p.mergeKey != key {
		p.mergeKey = key
		return nil, "unknown"
	}
	state := p.mergeableState
	if state == "" {
		failing, pending, _ := s.rollupLocked(r, head, true)
		switch {
		case head == "" || s.conflictsLocked(base, head):
			state = "dirty"
		case failing > 0 || pending > 0:
			state = "unstable"
		default:
			state = "clean"
		}
	}
	ok := state != "dirty"
	return &ok, state
}

// conflictsLocked reports whether merging head into base conflicts: a file
// both changed since their merge base, differently, where a line-by-line
// three-way merge (of files whose line counts did not change) does not
// settle it. s.mu must be held.
func (s *Server) conflictsLocked(base, head string) bool {
	onHead := map[string]bool{}
	for sha := head; sha != ""; sha = s.commits[sha].parent {
		onHead[sha] = true
	}
	mb := base
	for mb != "" && !onHead[mb] {
		mb = s.commits[mb].parent
	}
	if mb == "" {
		return true // no common history
	}
	o, a, b := s.commits[mb].files, s.commits[base].files, s.commits[head].files
	paths := slices.Sorted(maps.Keys(a))
	for p := range b {
		if _, ok := a[p]; !ok {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		ov, inO := o[p]
		av, inA := a[p]
		bv, inB := b[p]
		if inA == inB && av == bv {
			continue // the same on both sides
		}
		if (inA == inO && av == ov) || (inB == inO && bv == ov) {
			continue // changed on one side only
		}
		if !inA || !inB || !inO || !mergeLines(ov, av, bv) {
			return true
		}
	}
	return false
}

// mergeLines reports whether two edits of o merge line by line without
// conflict: the line counts are unchanged and no line was changed
// differently by both.
func mergeLines(o, a, b string) bool {
	ol, al, bl := strings.Split(o, "\n"), strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(ol) || len(bl) != len(ol) {
		return false
	}
	for i := range ol {
		if al[i] != ol[i] && bl[i] != ol[i] && al[i] != bl[i] {
			return false
		}
	}
	return true
}

// latestRunsLocked are the check runs of sha in r, newest first: only the
// latest of each name unless all. s.mu must be held.
func latestRunsLocked(r *repository, sha string, all bool) []*checkRun {
	var out []*checkRun
	seen := map[string]bool{}
	for i := len(r.checkRuns) - 1; i >= 0; i-- {
		c := r.checkRuns[i]
		if c.sha != sha || (!all && seen[c.name]) {
			continue
		}
		seen[c.name] = true
		out = append(out, c)
	}
	return out
}

// latestStatusesLocked are the latest status of each context of sha in r,
// newest first. s.mu must be held.
func latestStatusesLocked(r *repository, sha string) []*commitStatus {
	var out []*commitStatus
	seen := map[string]bool{}
	for i := len(r.statuses) - 1; i >= 0; i-- {
		st := r.statuses[i]
		if st.sha == sha && !seen[st.context] {
			seen[st.context] = true
			out = append(out, st)
		}
	}
	return out
}

// rollupLocked counts sha's failing and pending checks, and all of them:
// the check runs (when runs) and the commit statuses. s.mu must be held.
func (s *Server) rollupLocked(r *repository, sha string, runs bool) (failing, pending, total int) {
	if runs {
		for _, c := range latestRunsLocked(r, sha, false) {
			total++
			switch {
			case c.status != "completed" || c.conclusion == "stale":
				pending++
			case !slices.Contains([]string{"success", "neutral", "skipped"}, c.conclusion):
				failing++
			}
		}
	}
	for _, st := range latestStatusesLocked(r, sha) {
		total++
		switch st.state {
		case "pending":
			pending++
		case "error", "failure":
			failing++
		}
	}
	return failing, pending, total
}

// pullDetail is a pull request as GET /repos/{owner}/{repo}/pulls/{number}
// shows it: with mergeable, rebaseable (null while GitHub computes them)
// and mergeable_state, which lists of pull requests leave out.
type pullDetail struct {
	*gh.PullRequest
	Mergeable      *bool  `json:"mergeable"`
	Rebaseable     *bool  `json:"rebaseable"`
	MergeableState string `json:"mergeable_state"`
}

func (s *Server) pullDetailJSON(r *repository, p *pull) pullDetail {
	m, state := s.mergeabilityLocked(r, p)
	return pullDetail{PullRequest: s.pullJSON(r, p), Mergeable: m, Rebaseable: m, MergeableState: state}
}

// commitChecks serves GET /repos/{owner}/{repo}/commits/{ref}/check-runs
// and .../status, whose ref may hold slashes: an App's installation needs
// checks or statuses read, and the ref must name a commit.
func (s *Server) commitChecks(w http.ResponseWriter, req *http.Request, r *repository) {
	for _, e := range []struct {
		suffix, perm, doc string
		unknown           int // the status answering an unknown ref
		serve             func(http.ResponseWriter, *http.Request, *repository, string)
	}{
		{"/check-runs", "checks", docsRoot + "/checks/runs#list-check-runs-for-a-git-reference", http.StatusUnprocessableEntity, s.listCheckRuns},
		{"/status", "statuses", docsRoot + "/commits/statuses#get-the-combined-status-for-a-specific-reference", http.StatusNotFound, s.combinedStatus},
	} {
		ref, ok := strings.CutSuffix(req.PathValue("rest"), e.suffix)
		if !ok {
			continue
		}
		if !integrationMayRead(w, req, e.perm, e.doc) {
			return
		}
		sha, ok := s.resolve(r, ref)
		if !ok {
			writeError(w, e.unknown, "No commit found for SHA: "+ref, e.doc)
			return
		}
		e.serve(w, req, r, sha)
		return
	}
	writeError(w, http.StatusNotFound, "Not Found", docsRoot)
}

// integrationMayRead reports whether the request may read with permission
// perm (an installation token needs it, read or write); otherwise it
// answers 403 as GitHub does.
func integrationMayRead(w http.ResponseWriter, req *http.Request, perm, doc string) bool {
	if in := installationOf(req); in != nil && in.app.Permissions[perm] != "read" && in.app.Permissions[perm] != "write" {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", doc)
		return false
	}
	return true
}

// checkRunJSON is a check run in GitHub's documented shape: conclusion
// and completed_at are null until it completes.
type checkRunJSON struct {
	ID           int64           `json:"id"`
	HeadSHA      string          `json:"head_sha"`
	NodeID       string          `json:"node_id"`
	ExternalID   string          `json:"external_id"`
	URL          string          `json:"url"`
	HTMLURL      string          `json:"html_url"`
	DetailsURL   string          `json:"details_url"`
	Status       string          `json:"status"`
	Conclusion   *string         `json:"conclusion"`
	StartedAt    time.Time       `json:"started_at"`
	CompletedAt  *time.Time      `json:"completed_at"`
	Output       checkRunOutput  `json:"output"`
	Name         string          `json:"name"`
	CheckSuite   checkSuiteRef   `json:"check_suite"`
	App          *gh.App         `json:"app"`
	PullRequests []pullReference `json:"pull_requests"`
}

type checkRunOutput struct {
	Title            *string `json:"title"`
	Summary          *string `json:"summary"`
	Text             *string `json:"text"`
	AnnotationsCount int     `json:"annotations_count"`
	AnnotationsURL   string  `json:"annotations_url"`
}

type checkSuiteRef struct {
	ID int64 `json:"id"`
}

// pullReference is a pull request as a check run lists it.
type pullReference struct {
	ID     int64         `json:"id"`
	Number int           `json:"number"`
	URL    string        `json:"url"`
	Head   pullRefBranch `json:"head"`
	Base   pullRefBranch `json:"base"`
}

type pullRefBranch struct {
	Ref  string `json:"ref"`
	SHA  string `json:"sha"`
	Repo struct {
		ID   int64  `json:"id"`
		URL  string `json:"url"`
		Name string `json:"name"`
	} `json:"repo"`
}

// actionsApp is GitHub Actions as check runs name their App.
func (s *Server) actionsApp() *gh.App {
	return &gh.App{ID: gh.Int64(15368), Slug: gh.String("github-actions"), NodeID: gh.String("MDM6QXBwMTUzNjg="),
		Name: gh.String("GitHub Actions"), Owner: s.userJSON("github"),
		ExternalURL: gh.String("https://help.github.com/en/actions"), HTMLURL: gh.String(s.root + "/apps/github-actions")}
}

func (s *Server) checkRunJSON(r *repository, c *checkRun) checkRunJSON {
	url := s.apiURL(r, fmt.Sprintf("/check-runs/%d", c.id))
	out := checkRunJSON{
		ID: c.id, HeadSHA: c.sha, NodeID: fmt.Sprintf("CR_%d", c.id), ExternalID: "",
		URL: url, HTMLURL: fmt.Sprintf("%s/%s/runs/%d", s.root, r.fullName(), c.id),
		DetailsURL: fmt.Sprintf("%s/%s/actions/runs/%d/job/%d", s.root, r.fullName(), c.id, c.id),
		Status:     c.status, StartedAt: c.started, Name: c.name,
		Output:     checkRunOutput{AnnotationsURL: url + "/annotations"},
		CheckSuite: checkSuiteRef{ID: c.id}, App: s.actionsApp(), PullRequests: []pullReference{},
	}
	if c.status == "completed" {
		out.Conclusion, out.CompletedAt = &c.conclusion, &c.completed
	}
	// Like GitHub, only the open pull requests from this repository.
	for _, p := range r.pulls {
		if p.state == "open" && p.headRepo == r && r.branches[p.headRef] == c.sha {
			pr := pullReference{ID: p.id, Number: p.number, URL: s.apiURL(r, fmt.Sprintf("/pulls/%d", p.number))}
			for _, side := range []struct {
				b   *pullRefBranch
				ref string
			}{{&pr.Head, p.headRef}, {&pr.Base, p.base}} {
				side.b.Ref, side.b.SHA = side.ref, r.branches[side.ref]
				side.b.Repo.ID, side.b.Repo.URL, side.b.Repo.Name = r.id, s.apiURL(r, ""), r.name
			}
			out.PullRequests = append(out.PullRequests, pr)
		}
	}
	return out
}

// listCheckRuns answers GET /repos/{owner}/{repo}/commits/{ref}/check-runs:
// {"total_count", "check_runs"}, filtered by check_name, status and filter
// (latest, the default, or all), paginated by per_page and page.
func (s *Server) listCheckRuns(w http.ResponseWriter, req *http.Request, r *repository, sha string) {
	q := req.URL.Query()
	if f := q.Get("filter"); f != "" && f != "latest" && f != "all" {
		validationFailed(w, docsRoot+"/checks/runs#list-check-runs-for-a-git-reference", apiError{Resource: "CheckRun", Field: "filter", Code: "invalid"})
		return
	}
	var runs []*checkRun
	for _, c := range latestRunsLocked(r, sha, q.Get("filter") == "all") {
		if (q.Get("check_name") == "" || c.name == q.Get("check_name")) && (q.Get("status") == "" || c.status == q.Get("status")) {
			runs = append(runs, c)
		}
	}
	from, to := paginate(w, req, len(runs))
	out := struct {
		TotalCount int            `json:"total_count"`
		CheckRuns  []checkRunJSON `json:"check_runs"`
	}{len(runs), []checkRunJSON{}}
	for _, c := range runs[from:to] {
		out.CheckRuns = append(out.CheckRuns, s.checkRunJSON(r, c))
	}
	writeJSON(w, http.StatusOK, out)
}

// statusJSON is a commit status in GitHub's documented shape.
type statusJSON struct {
	URL         string    `json:"url"`
	AvatarURL   *string   `json:"avatar_url"`
	ID          int64     `json:"id"`
	NodeID      string    `json:"node_id"`
	State       string    `json:"state"`
	Description *string   `json:"description"`
	TargetURL   *string   `json:"target_url"`
	Context     string    `json:"context"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// combinedStatus answers GET /repos/{owner}/{repo}/commits/{ref}/status:
// the latest status of each context and their combined state (failure
// when one is error or failure, pending when one is pending or there are
// none, success otherwise); statuses paginated by per_page and page.
func (s *Server) combinedStatus(w http.ResponseWriter, req *http.Request, r *repository, sha string) {
	latest := latestStatusesLocked(r, sha)
	failing, pending, total := s.rollupLocked(r, sha, false)
	state := "success"
	switch {
	case failing > 0:
		state = "failure"
	case pending > 0 || total == 0:
		state = "pending"
	}
	from, to := paginate(w, req, len(latest))
	statuses := []statusJSON{}
	for _, st := range latest[from:to] {
		js := statusJSON{URL: s.apiURL(r, "/statuses/"+sha), ID: st.id, NodeID: fmt.Sprintf("SC_%d", st.id), State: st.state,
			Context: st.context, CreatedAt: st.created, UpdatedAt: st.created}
		if st.description != "" {
			js.Description = &st.description
		}
		statuses = append(statuses, js)
	}
	writeJSON(w, http.StatusOK, struct {
		State      string         `json:"state"`
		Statuses   []statusJSON   `json:"statuses"`
		SHA        string         `json:"sha"`
		TotalCount int            `json:"total_count"`
		Repository *gh.Repository `json:"repository"`
		CommitURL  string         `json:"commit_url"`
		URL        string         `json:"url"`
	}{state, statuses, sha, len(latest), s.repoJSON(r), s.apiURL(r, "/commits/"+sha), s.apiURL(r, "/commits/"+sha+"/status")})
}
