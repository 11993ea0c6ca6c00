package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// VersionSource lists a chart's published versions (backend/chartrepo).
type VersionSource interface {
	Versions(ctx context.Context, repository, chart string) ([]model.ChartVersion, error)
}

// describer fills in what a bare version list lacks (an OCI repository's
// tags carry no created time, home or sources); chartrepo.Client is one.
type describer interface {
	Describe(ctx context.Context, repository, chart, version string) (model.ChartVersion, error)
}

// Charts finds outdated chart dependencies and opens pull requests for them.
type Charts struct {
	gh      *github.Client
	repos   VersionSource
	entries []config.Chart
	fork    bool
	now     func() time.Time

	mu    sync.Mutex
	files map[fileKey]fileState // last content read per deployment file
}

type fileKey struct{ repo, file string }

type fileState struct {
	base    string
	content []byte
}

// NewCharts wires the GitHub client and chart repositories to the
// configured deployment files.
func NewCharts(gh *github.Client, repos VersionSource, entries []config.Chart, fork bool, now func() time.Time) *Charts {
	if now == nil {
		now = time.Now
	}
	return &Charts{gh: gh, repos: repos, entries: entries, fork: fork, now: now, files: map[fileKey]fileState{}}
}

// Now is the engine's clock.
func (c *Charts) Now() time.Time { return c.now() }

// Check reads every configured deployment file at its base branch and
// compares each followed dependency with the newest accepted version. A
// problem with one file or dependency becomes an error row; the rest are
// still checked.
func (c *Charts) Check(ctx context.Context) []model.DependencyStatus {
	var out []model.DependencyStatus
	for _, e := range c.entries {
		out = append(out, c.checkFile(ctx, e)...)
	}
	return out
}

func (c *Charts) checkFile(ctx context.Context, e config.Chart) []model.DependencyStatus {
	owner, name, _ := strings.Cut(e.Repository, "/")
	fail := func(dep string, err error) []model.DependencyStatus {
		return []model.DependencyStatus{{Repository: e.Repository, File: e.File, Base: e.Base, Dependency: dep,
			State: model.StateError, Error: err.Error(), Group: e.Group}}
	}
	base := e.Base
	if base == "" {
		b, err := c.gh.DefaultBranch(ctx, owner, name)
		if err != nil {
			return fail("", err)
		}
		base = b
	}
	content, _, err := c.gh.GetFile(ctx, owner, name, e.File, base)
	if err != nil {
		return fail("", err)
	}
	f, err := chartfile.Parse(content)
	if err != nil {
		return fail("", fmt.Errorf("%s %s: %w", e.Repository, e.File, err))
	}
	c.mu.Lock()
	c.files[fileKey{e.Repository, e.File}] = fileState{base: base, content: content}
	c.mu.Unlock()

	var rows []model.DependencyStatus
	seen := map[string]bool{}
	for _, d := range f.Dependencies {
		key := d.Key()
		opts, listed := e.Dependencies[key]
		if len(e.Dependencies) > 0 && !listed {
			continue
		}
		if !listed && !followable(d.Repository) {
			continue
		}
		seen[key] = true
		row := model.DependencyStatus{Repository: e.Repository, File: e.File, Base: base, Dependency: key,
			ChartRepository: d.Repository, Current: d.Version, Group: e.Group}
		if err := c.checkDependency(ctx, &row, d, opts); err != nil {
			row.State, row.Error = model.StateError, err.Error()
		}
		rows = append(rows, row)
	}
	for key := range e.Dependencies {
		if !seen[key] {
			rows = append(rows, fail(key, fmt.Errorf("dependency %s is configured for %s %s but the file has no such dependency", key, e.Repository, e.File))...)
		}
	}
	// A grouped PR (group: true, or P in the console) may carry what is
	// still outdated.
	c.markGroupPR(ctx, rows)
	return rows
}

// followable reports whether a dependency's repository is a chart
// repository whose versions can be listed.
func followable(repo string) bool {
	return strings.HasPrefix(repo, "https://") || strings.HasPrefix(repo, "http://") || strings.HasPrefix(repo, "oci://")
}

func (c *Charts) checkDependency(ctx context.Context, row *model.DependencyStatus, d chartfile.Dependency, opts config.Dependency) error {
	if !followable(d.Repository) {
		return fmt.Errorf("dependency %s: repository %q is not an http(s):// or oci:// chart repository", d.Key(), d.Repository)
	}
	if err := d.CanSetVersion(); err != nil {
		return err
	}
	versions, err := c.repos.Versions(ctx, d.Repository, d.Name)
	if err != nil {
		return err
	}
	for i := range versions {
		if versions[i].Version == d.Version {
			v := versions[i]
			row.CurrentVersion = &v
			break
		}
	}
	latest, ok, err := model.SelectNewest(d.Version, versions, model.SelectOptions{Prereleases: opts.Prereleases, Constraint: opts.Constraint})
	if err != nil {
		return fmt.Errorf("dependency %s: %w", d.Key(), err)
	}
	if !ok {
		row.State = model.StateUpToDate
		if row.CurrentVersion != nil {
			row.Latest = *row.CurrentVersion
		} else {
			row.Latest = model.ChartVersion{Version: d.Version}
		}
		return nil
	}
	if d2, ok := c.repos.(describer); ok && latest.Created.IsZero() && strings.HasPrefix(d.Repository, "oci://") {
		// Best effort: the PR body is better with it, the bump works without.
		if full, err := d2.Describe(ctx, d.Repository, d.Name, latest.Version); err == nil {
			latest = full
		}
	}
	row.Latest = latest
	row.State = model.StateOutdated
	if row.Group {
		return nil // markGroupPR looks for the file's one PR
	}
	title, _ := model.PullRequestText(row.File, []model.Bump{row.Bump()})
	return c.markOpenPR(ctx, []*model.DependencyStatus{row}, github.BranchName(row.File, row.Dependency), title)
}

// markGroupPR looks for the grouped PR of a file's outdated dependencies.
func (c *Charts) markGroupPR(ctx context.Context, rows []model.DependencyStatus) {
	var out []*model.DependencyStatus
	var bumps []model.Bump
	for i := range rows {
		if rows[i].State == model.StateOutdated {
			out = append(out, &rows[i])
			bumps = append(bumps, rows[i].Bump())
		}
	}
	if len(out) == 0 {
		return
	}
	title, _ := model.PullRequestText(out[0].File, bumps)
	if err := c.markOpenPR(ctx, out, github.BranchName(out[0].File, "all"), title); err != nil {
		for _, r := range out {
			r.State, r.Error = model.StateError, err.Error()
		}
	}
}

// markOpenPR sets rows to pr-open when their branch already has an open PR
// with exactly the title a run would give it (it carries the newest
// versions); an open PR with another title is older and stays "outdated".
func (c *Charts) markOpenPR(ctx context.Context, rows []*model.DependencyStatus, branch, title string) error {
	owner, name, _ := strings.Cut(rows[0].Repository, "/")
	out, err := c.gh.Inspect(ctx, github.Proposal{Owner: owner, Repo: name, Base: rows[0].Base, Path: rows[0].File,
		Branch: branch, Title: title, Fork: c.fork})
	if err != nil {
		return err
	}
	for _, r := range rows {
		r.PRNumber, r.PRURL = out.Number, out.URL
		if out.Status == github.StatusOpen {
			r.State = model.StatePROpen
		}
	}
	return nil
}

// Proposal is what opening a PR would do, for a confirm box or a dry run.
type Proposal struct {
	Repository string
	File       string
	Base       string
	Branch     string
	Title      string
	Body       string
	// Diff shows the changed lines: "-old" and "+new", with line numbers.
	Diff string
}

// Preview describes the PR for one dependency, or for several of one file
// (a grouped PR), from the file as last checked.
func (c *Charts) Preview(deps []model.DependencyStatus) (Proposal, error) {
	if len(deps) == 0 {
		return Proposal{}, errors.New("no dependency to bump")
	}
	first := deps[0]
	bumps := make([]model.Bump, 0, len(deps))
	for _, d := range deps {
		if d.Repository != first.Repository || d.File != first.File {
			return Proposal{}, fmt.Errorf("a pull request bumps one file; got %s %s and %s %s", first.Repository, first.File, d.Repository, d.File)
		}
		if d.Latest.Version == "" || d.State == model.StateUpToDate || d.State == model.StateError {
			return Proposal{}, fmt.Errorf("dependency %s in %s is not outdated", d.Dependency, d.File)
		}
		bumps = append(bumps, d.Bump())
	}
	c.mu.Lock()
	fs, ok := c.files[fileKey{first.Repository, first.File}]
	c.mu.Unlock()
	if !ok {
		return Proposal{}, fmt.Errorf("%s %s has not been read yet: refresh first", first.Repository, first.File)
	}
	edited, err := applyBumps(fs.content, deps)
	if err != nil {
		return Proposal{}, err
	}
	branchDep := first.Dependency
	if len(deps) > 1 || first.Group {
		branchDep = "all"
	}
	title, body := model.PullRequestText(first.File, bumps)
	return Proposal{
		Repository: first.Repository, File: first.File, Base: fs.base,
		Branch: github.BranchName(first.File, branchDep),
		Title:  title, Body: body, Diff: LineDiff(fs.content, edited),
	}, nil
}

func applyBumps(content []byte, deps []model.DependencyStatus) ([]byte, error) {
	out := content
	for _, d := range deps {
		var err error
		out, err = chartfile.SetVersion(out, d.Dependency, d.Latest.Version)
		if err != nil {
			return nil, fmt.Errorf("bump %s in %s: %w", d.Dependency, d.File, err)
		}
	}
	return out, nil
}

// Open opens (or updates) the pull request that bumps deps: one dependency,
// or several of one file for a grouped PR. It returns the rows as they now
// stand.
func (c *Charts) Open(ctx context.Context, deps []model.DependencyStatus) ([]model.DependencyStatus, error) {
	p, err := c.Preview(deps)
	if err != nil {
		return nil, err
	}
	owner, name, _ := strings.Cut(p.Repository, "/")
	e := c.entry(p.Repository, p.File)
	out, err := c.gh.Propose(ctx, github.Proposal{
		Owner: owner, Repo: name, Base: p.Base, Path: p.File, Branch: p.Branch,
		Title: p.Title, Body: p.Body, CommitMessage: p.Title,
		Labels: e.Labels, Reviewers: e.Reviewers, TeamReviewers: e.TeamReviewers,
		Fork: c.fork,
		Edit: func(cur github.Files) (github.Files, error) {
			out, err := applyBumps(cur[p.File], deps)
			return github.Files{p.File: out}, err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("bump %s: %w", strings.Join(depNames(deps), ", "), err)
	}
	rows := make([]model.DependencyStatus, len(deps))
	for i, d := range deps {
		d.State = model.DependencyState(out.Status)
		d.PRNumber, d.PRURL = out.Number, out.URL
		d.Warning = strings.Join(out.Warnings, "; ")
		rows[i] = d
	}
	return rows, nil
}

func (c *Charts) entry(repo, file string) config.Chart {
	for _, e := range c.entries {
		if e.Repository == repo && e.File == file {
			return e
		}
	}
	return config.Chart{}
}

func depNames(deps []model.DependencyStatus) []string {
	n := make([]string, len(deps))
	for i, d := range deps {
		n[i] = d.Dependency
	}
	return n
}

// LineDiff shows the lines that differ between two versions of a file with
// the same number of lines, as "-N: old" / "+N: new" pairs.
func LineDiff(before, after []byte) string {
	a := bytes.Split(before, []byte("\n"))
	b := bytes.Split(after, []byte("\n"))
	var sb strings.Builder
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y []byte
		if i < len(a) {
			x = bytes.TrimRight(a[i], "\r")
		}
		if i < len(b) {
			y = bytes.TrimRight(b[i], "\r")
		}
		if !bytes.Equal(x, y) {
			fmt.Fprintf(&sb, "-%d: %s\n+%d: %s\n", i+1, x, i+1, y)
		}
	}
	return sb.String()
}
