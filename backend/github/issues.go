package github

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// The status issue (github.status_issue) needs, besides what pull
// requests need, to read and write issues: a fine-grained token needs the
// repository permission Issues: Read and write (a classic token, the repo
// scope, or public_repo for a public repository); a GitHub App the
// repository permission Issues: Read and write.
const issueNeeds = "the status issue (github.status_issue) needs Issues: Read and write: give a fine-grained token or the GitHub App that repository permission (a classic token needs the repo scope)"

// ErrIssuesDisabled: the repository has its issues turned off.
var ErrIssuesDisabled = errors.New("issues are disabled in the repository")

// IssueOutcome is what KeepIssue did with a repository's issue.
type IssueOutcome string

// Issue outcomes.
const (
	IssueCreated   IssueOutcome = "created"   // there was none: it was opened
	IssueUpdated   IssueOutcome = "updated"   // its body was rewritten
	IssueUnchanged IssueOutcome = "unchanged" // its body was already right: nothing was sent
	// IssueClosed: someone closed it (the bot never does). It is left as
	// it is and no other is opened: the feature is off in the repository
	// until it is reopened.
	IssueClosed IssueOutcome = "closed"
)

// KeptIssue is the issue KeepIssue kept.
type KeptIssue struct {
	Number  int
	URL     string
	Outcome IssueOutcome
	// Duplicates are the other issues with the marker that the bot
	// opened, oldest first; they are left as they are.
	Duplicates []int
}

// maxIssuePages bounds the pages (of 100) of the bot's own issues read in
// one repository.
const maxIssuePages = 20

// KeepIssue keeps one issue in owner/repo whose body holds marker, among
// the issues opened by the client's user (a token) or its App's bot
// ("<slug>[bot]"). It opens one with title and render("") when there is
// none; otherwise it takes the oldest open one and rewrites its body with
// render(its body), sending the edit only when the body changes (a title
// someone changed is kept). The others with the marker are Duplicates.
// When every issue with the marker is closed, it changes nothing and
// says IssueClosed: a person closed it, so the feature is off there.
func (c *Client) KeepIssue(ctx context.Context, owner, repo, marker, title string, render func(previous string) string) (KeptIssue, error) {
	full := owner + "/" + repo
	if marker == "" || title == "" {
		return KeptIssue{}, fmt.Errorf("keep the status issue in %s: a marker and a title are both required", full)
	}
	login, err := c.issueCreator(ctx)
	if err != nil {
		return KeptIssue{}, err
	}
	found, err := c.markedIssues(ctx, owner, repo, login, marker)
	if err != nil {
		return KeptIssue{}, err
	}
	keep := slices.IndexFunc(found, func(is *gh.Issue) bool { return is.GetState() == "open" })
	var out KeptIssue
	switch {
	case len(found) == 0:
		is, _, err := c.gh.Issues.Create(ctx, owner, repo, &gh.IssueRequest{Title: &title, Body: gh.String(render(""))})
		if err != nil {
			return KeptIssue{}, c.issueFail(err, full, "open the status issue")
		}
		return KeptIssue{Number: is.GetNumber(), URL: is.GetHTMLURL(), Outcome: IssueCreated}, nil
	case keep < 0: // all closed: the oldest speaks for them
		out = KeptIssue{Number: found[0].GetNumber(), URL: found[0].GetHTMLURL(), Outcome: IssueClosed}
		keep = 0
	default:
		is := found[keep]
		out = KeptIssue{Number: is.GetNumber(), URL: is.GetHTMLURL(), Outcome: IssueUnchanged}
		if body := render(is.GetBody()); body != is.GetBody() {
			_, _, err := c.gh.Issues.Edit(ctx, owner, repo, is.GetNumber(), &gh.IssueRequest{Body: &body})
			if err != nil {
				return KeptIssue{Number: out.Number, URL: out.URL}, c.issueFail(err, full, fmt.Sprintf("update the status issue #%d", is.GetNumber()))
			}
			out.Outcome = IssueUpdated
		}
	}
	for i, is := range found {
		if i != keep {
			out.Duplicates = append(out.Duplicates, is.GetNumber())
		}
	}
	return out, nil
}

// markedIssues lists the issues login opened in owner/repo whose body
// holds marker, oldest first.
//
// It reads GET /repos/{owner}/{repo}/issues?state=all&creator=LOGIN, not
// the search API (GET /search/issues?q=repo:…+in:body): search is served
// from an index that lags behind by seconds to minutes, so an issue a run
// just opened may not be found by the next run, which would open a
// duplicate; it also has its own rate limit of 30 requests a minute. The
// repository's list is read from GitHub's database, consistent at once,
// and filtered by creator on the server, so one page of 100 usually holds
// every issue the bot opened. (GraphQL's filterBy.createdBy is not used
// either: it has been seen to miss an App's "<slug>[bot]" on GitHub
// Enterprise Cloud, renovatebot/renovate#44730.) The list holds pull
// requests too; they, and anything another user opened, are skipped here.
func (c *Client) markedIssues(ctx context.Context, owner, repo, login, marker string) ([]*gh.Issue, error) {
	full := owner + "/" + repo
	opts := &gh.IssueListByRepoOptions{State: "all", Creator: login, Sort: "created", Direction: "asc", ListOptions: gh.ListOptions{PerPage: 100}}
	var out []*gh.Issue
	for page := 0; page < maxIssuePages; page++ {
		list, resp, err := c.gh.Issues.ListByRepo(ctx, owner, repo, opts)
		if err != nil {
			return nil, c.issueFail(err, full, "list the issues "+login+" opened")
		}
		for _, is := range list {
			if !is.IsPullRequest() && strings.EqualFold(is.GetUser().GetLogin(), login) && strings.Contains(is.GetBody(), marker) {
				out = append(out, is)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	slices.SortStableFunc(out, func(a, b *gh.Issue) int {
		return cmp.Or(a.GetCreatedAt().Compare(b.GetCreatedAt().Time), cmp.Compare(a.GetNumber(), b.GetNumber()))
	})
	return out, nil
}

// issueCreator is the login the client's issues are opened by: the
// token's user, or a GitHub App's bot, "<slug>[bot]", whose slug only the
// App itself may read (GET /app, signed with its key rather than the
// installation's token).
func (c *Client) issueCreator(ctx context.Context) (string, error) {
	if c.app == nil {
		login, err := c.user(ctx)
		return login, c.redact(err)
	}
	signed := gh.NewClient(&http.Client{Transport: c.app.apps})
	signed.BaseURL, signed.UserAgent = c.gh.BaseURL, c.gh.UserAgent
	app, _, err := signed.Apps.Get(ctx, "")
	if err != nil {
		return "", c.redact(fail(err, c.gh.BaseURL.Host, fmt.Sprintf("read GitHub App %d's name (GET /app)", c.app.id), ""))
	}
	if app.GetSlug() == "" {
		return "", fmt.Errorf("read GitHub App %d's name (GET /app) at %s: GitHub returned no slug", c.app.id, c.gh.BaseURL.Host)
	}
	return app.GetSlug() + "[bot]", nil
}

// issueFail explains a failed issue call: a 403 names the Issues
// permission, a 410 says issues are off in the repository.
func (c *Client) issueFail(err error, repo, op string) error {
	err = fail(err, repo, op, "")
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.Status == http.StatusGone:
			e.Kind = ErrIssuesDisabled
			e.advice = "issues are disabled in " + repo + ": turn them on (Settings → General → Features → Issues) or set github.status_issue: false"
		case e.Kind == ErrForbidden:
			e.advice = strings.Replace(e.advice, needs, issueNeeds, 1)
		}
	}
	return c.redact(err)
}
