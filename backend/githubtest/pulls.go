package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// The pull request endpoints: list, create, read and edit pull requests,
// request reviewers and add labels.

func (s *Server) pullHTMLURL(r *repository, p *pull) string {
	return fmt.Sprintf("%s/%s/pull/%d", s.root, r.fullName(), p.number)
}

func (s *Server) pullJSON(r *repository, p *pull) *gh.PullRequest {
	labels := make([]*gh.Label, 0, len(p.labels))
	for _, l := range p.labels {
		labels = append(labels, s.labelJSON(r, l))
	}
	reviewers := make([]*gh.User, 0, len(p.reviewers))
	for _, u := range p.reviewers {
		reviewers = append(reviewers, s.userJSON(u))
	}
	teams := make([]*gh.Team, 0, len(p.teamReviewers))
	for _, t := range p.teamReviewers {
		teams = append(teams, &gh.Team{Slug: gh.String(t), Name: gh.String(t), ID: gh.Int64(numericID("team/" + t))})
	}
	return &gh.PullRequest{
		ID:                 gh.Int64(p.id),
		NodeID:             gh.String(fmt.Sprintf("PR_%d", p.id)),
		Number:             gh.Int(p.number),
		State:              gh.String(p.state),
		Title:              gh.String(p.title),
		Body:               gh.String(p.body),
		User:               s.userJSON(p.user),
		HTMLURL:            gh.String(s.pullHTMLURL(r, p)),
		URL:                gh.String(s.apiURL(r, fmt.Sprintf("/pulls/%d", p.number))),
		IssueURL:           gh.String(s.apiURL(r, fmt.Sprintf("/issues/%d", p.number))),
		CreatedAt:          &gh.Timestamp{Time: p.created},
		UpdatedAt:          &gh.Timestamp{Time: p.updated},
		Draft:              gh.Bool(false),
		Merged:             gh.Bool(!p.merged.IsZero()),
		MergedAt:           timestampOrNil(p.merged),
		Labels:             labels,
		RequestedReviewers: reviewers,
		RequestedTeams:     teams,
		Head: &gh.PullRequestBranch{
			Label: gh.String(p.headRepo.owner + ":" + p.headRef),
			Ref:   gh.String(p.headRef),
			SHA:   gh.String(p.headRepo.branches[p.headRef]),
			Repo:  s.repoJSON(p.headRepo),
			User:  s.userJSON(p.headRepo.owner),
		},
		Base: &gh.PullRequestBranch{
			Label: gh.String(r.owner + ":" + p.base),
			Ref:   gh.String(p.base),
			SHA:   gh.String(r.branches[p.base]),
			Repo:  s.repoJSON(r),
			User:  s.userJSON(r.owner),
		},
	}
}

func timestampOrNil(t time.Time) *gh.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &gh.Timestamp{Time: t}
}

func (s *Server) listPulls(w http.ResponseWriter, req *http.Request, r *repository) {
	q := req.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	headOwner, headRef, hasHead := strings.Cut(q.Get("head"), ":")
	if q.Get("head") != "" && !hasHead {
		headOwner, headRef, hasHead = r.owner, q.Get("head"), true
	}
	out := []*gh.PullRequest{}
	for i := len(r.pulls) - 1; i >= 0; i-- { // newest first, like GitHub's default sort
		p := r.pulls[i]
		switch {
		case state != "all" && p.state != state:
		case hasHead && (!strings.EqualFold(p.headRepo.owner, headOwner) || p.headRef != headRef):
		case q.Get("base") != "" && p.base != q.Get("base"):
		default:
			out = append(out, s.pullJSON(r, p))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// headRepoLocked finds the repository named by a pull request's head
// owner: the base repository itself or its owner's fork in the network.
func (s *Server) headRepoLocked(base *repository, owner string) *repository {
	if strings.EqualFold(owner, base.owner) {
		return base
	}
	for _, r := range s.repos {
		if strings.EqualFold(r.owner, owner) && r.parent == base {
			return r
		}
	}
	return nil
}

func (s *Server) createPull(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/pulls/pulls#create-a-pull-request"
	var body gh.NewPullRequest
	if !decode(w, req, &body) {
		return
	}
	if body.GetTitle() == "" {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "title", Code: "missing_field"})
		return
	}
	headOwner, headRef, ok := strings.Cut(body.GetHead(), ":")
	if !ok {
		headOwner, headRef = r.owner, body.GetHead()
	}
	hr := s.headRepoLocked(r, headOwner)
	if hr == nil || hr.branches[headRef] == "" {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "head", Code: "invalid"})
		return
	}
	baseSHA, ok := r.branches[body.GetBase()]
	if !ok {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		return
	}
	for _, p := range r.pulls {
		if p.state == "open" && p.headRepo == hr && p.headRef == headRef && p.base == body.GetBase() {
			validationFailed(w, doc, apiError{Resource: "PullRequest", Code: "custom",
				Message: fmt.Sprintf("A pull request already exists for %s:%s.", hr.owner, headRef)})
			return
		}
	}
	if s.isAncestorLocked(hr.branches[headRef], baseSHA) {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("No commits between %s and %s", body.GetBase(), body.GetHead())})
		return
	}
	now := time.Now().UTC()
	p := &pull{
		id: s.nextIDLocked(), number: r.nextNumber, title: body.GetTitle(), body: body.GetBody(), state: "open",
		headRepo: hr, headRef: headRef, base: body.GetBase(), user: s.actor(req), created: now, updated: now,
	}
	r.nextNumber++
	r.pulls = append(r.pulls, p)
	w.Header().Set("Location", s.apiURL(r, fmt.Sprintf("/pulls/%d", p.number)))
	writeJSON(w, http.StatusCreated, s.pullJSON(r, p))
}

func (s *Server) pull(w http.ResponseWriter, req *http.Request, r *repository) *pull {
	n, err := strconv.Atoi(req.PathValue("number"))
	if err == nil {
		for _, p := range r.pulls {
			if p.number == n {
				return p
			}
		}
	}
	writeError(w, http.StatusNotFound, "Not Found", docsRoot+"/pulls/pulls#get-a-pull-request")
	return nil
}

func (s *Server) getPull(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	writeJSON(w, http.StatusOK, s.pullDetailJSON(r, p))
}

func (s *Server) editPull(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	const doc = docsRoot + "/pulls/pulls#update-a-pull-request"
	var body struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !decode(w, req, &body) {
		return
	}
	if body.State != nil && *body.State != "open" && *body.State != "closed" {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "state", Code: "invalid"})
		return
	}
	if body.Base != nil {
		if _, ok := r.branches[*body.Base]; !ok {
			validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "base", Code: "invalid"})
			return
		}
		p.base = *body.Base
	}
	if body.Title != nil {
		p.title = *body.Title
	}
	if body.Body != nil {
		p.body = *body.Body
	}
	if body.State != nil {
		p.state = *body.State
	}
	p.updated = time.Now().UTC()
	writeJSON(w, http.StatusOK, s.pullJSON(r, p))
}

func (s *Server) requestReviewers(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	const doc = docsRoot + "/pulls/review-requests#request-reviewers-for-a-pull-request"
	var body gh.ReviewersRequest
	if !decode(w, req, &body) {
		return
	}
	for _, u := range body.Reviewers {
		if strings.EqualFold(u, p.user) {
			writeError(w, http.StatusUnprocessableEntity, "Review cannot be requested from pull request author.", doc)
			return
		}
	}
	notCollaborator := slices.ContainsFunc(body.Reviewers, func(u string) bool { return !r.collaborators[strings.ToLower(u)] }) ||
		slices.ContainsFunc(body.TeamReviewers, func(t string) bool { return !r.teams[strings.ToLower(t)] })
	if notCollaborator {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Reviews may only be requested from collaborators. "+
			"One or more of the users or teams you specified is not a collaborator of the %s repository.", r.fullName()), doc)
		return
	}
	for _, u := range body.Reviewers {
		if !slices.Contains(p.reviewers, u) {
			p.reviewers = append(p.reviewers, u)
		}
	}
	for _, t := range body.TeamReviewers {
		if !slices.Contains(p.teamReviewers, t) {
			p.teamReviewers = append(p.teamReviewers, t)
		}
	}
	writeJSON(w, http.StatusCreated, s.pullJSON(r, p))
}

func (s *Server) labelJSON(r *repository, name string) *gh.Label {
	return &gh.Label{
		ID:      gh.Int64(numericID(r.fullName() + "/label/" + name)),
		Name:    gh.String(name),
		Color:   gh.String("ededed"),
		Default: gh.Bool(false),
		URL:     gh.String(s.apiURL(r, "/labels/"+name)),
	}
}

func (s *Server) addLabels(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	const doc = docsRoot + "/issues/labels#add-labels-to-an-issue"
	raw, err := readAll(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
		return
	}
	// GitHub takes {"labels": [...]} or a bare array of names.
	var names []string
	var obj struct {
		Labels []string `json:"labels"`
	}
	if json.Unmarshal(raw, &names) != nil {
		if err := json.Unmarshal(raw, &obj); err != nil {
			writeError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
			return
		}
		names = obj.Labels
	}
	if len(names) == 0 {
		validationFailed(w, doc, apiError{Resource: "Label", Field: "labels", Code: "missing_field"})
		return
	}
	for _, n := range names {
		// Adding a label the repository lacks creates it (with push access).
		existing, ok := r.labels[strings.ToLower(n)]
		if !ok {
			r.labels[strings.ToLower(n)] = n
			existing = n
		}
		if !slices.Contains(p.labels, existing) {
			p.labels = append(p.labels, existing)
		}
	}
	out := make([]*gh.Label, 0, len(p.labels))
	for _, l := range p.labels {
		out = append(out, s.labelJSON(r, l))
	}
	writeJSON(w, http.StatusOK, out)
}

func readAll(req *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(req.Body)
	return b.Bytes(), err
}
