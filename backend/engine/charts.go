package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/imagetags"
	"github.com/helmupgradebot/helmupgradebot/backend/values"
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
	aliases map[string]config.Repository // repository: "@name" (chartrepos.go)
	fork    bool
	now     func() time.Time

	mu    sync.Mutex
	files map[fileKey]fileState // last content read per deployment file

	prs prTracker // pull requests known open, for merged ones (prstatus.go)

	notes releaseNotes // read from GitHub releases (notes.go)

	// newImages makes the image tag client of a check (images.go); nil:
	// values files are not followed.
	newImages func() *imagetags.Client

	statusIssues *StatusIssues // github.status_issue; nil when off (statusissues.go)
}

type fileKey struct{ repo, file string }

type fileState struct {
	base    string
	content []byte
	lock    []byte // the Chart.lock (requirements.lock) beside it; nil when none
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
// compares each followed dependency with the newest accepted version, and
// each image its values files pin with its newest tag (images.go). A
// problem with one file or dependency becomes an error row; the rest are
// still checked. Rows with an open pull request get its age, mergeable
// and checks; a pull request merged since the last run is noted
// (prstatus.go).
func (c *Charts) Check(ctx context.Context) []model.DependencyStatus {
	images := c.startImages(ctx)
	var out []model.DependencyStatus
	for i, e := range c.entries {
		rows := entryRows(e, c.checkFile(ctx, e), images(i))
		// A grouped PR (group: true, or P in the console) may carry what
		// is still outdated.
		c.markGroupPR(ctx, rows, e.Group)
		out = append(out, rows...)
	}
	c.describePRs(ctx, out)
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
	lock, _, err := c.gh.GetFile(ctx, owner, name, chartfile.LockPath(e.File), base)
	if err != nil && !errors.Is(err, github.ErrNotFound) {
		return fail("", err)
	}
	c.mu.Lock()
	c.files[fileKey{e.Repository, e.File}] = fileState{base: base, content: content, lock: lock}
	c.mu.Unlock()

	var rows []model.DependencyStatus
	seen := map[string]bool{}
	for _, d := range f.Dependencies {
		key := d.Key()
		opts, listed := e.Dependencies[key]
		if d.Skipped() != nil {
			if row, ok := skippedRow(e, base, d, listed); ok {
				rows = append(rows, row)
				seen[key] = listed
			}
			continue
		}
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
	return rows
}

// skippedRow is the row of a chart file entry that cannot be read, as
// helm skips it: shown when it has no name (it may be one the
// configuration lists), or when it would be followed.
func skippedRow(e config.Chart, base string, d chartfile.Dependency, listed bool) (model.DependencyStatus, bool) {
	key := d.Key()
	if key != "" && !listed && (len(e.Dependencies) > 0 || (d.Repository != "" && !followable(d.Repository))) {
		return model.DependencyStatus{}, false
	}
	if key == "" {
		key = fmt.Sprintf("(no name, line %d)", d.Line)
	}
	return model.DependencyStatus{Repository: e.Repository, File: e.File, Base: base, Dependency: key,
		ChartRepository: d.Repository, Current: d.Version, Group: e.Group, State: model.StateSkipped,
		Warning: fmt.Sprintf("%v; skipped, as helm skips it", d.Skipped())}, true
}

// followable reports whether a dependency's repository is a chart
// repository whose versions can be listed.
func followable(repo string) bool {
	return strings.HasPrefix(repo, "https://") || strings.HasPrefix(repo, "http://") || strings.HasPrefix(repo, "oci://") || isAlias(repo)
}

func (c *Charts) checkDependency(ctx context.Context, row *model.DependencyStatus, d chartfile.Dependency, opts config.Dependency) error {
	d, err := c.resolveAlias(d)
	if err != nil {
		return err
	}
	if !followable(d.Repository) {
		return fmt.Errorf("dependency %s: repository %q is not an http(s):// or oci:// chart repository", d.Key(), d.Repository)
	}
	if err := d.CanSetVersion(); err != nil {
		return fmt.Errorf("%s %s: %w", row.Repository, row.File, err)
	}
	versions, err := c.repos.Versions(ctx, d.Repository, d.Name)
	if err != nil {
		return err
	}
	res, err := model.Resolve(d.Version, versions, model.SelectOptions{Prereleases: opts.Prereleases, Constraint: opts.Constraint, Range: model.RangeStrategy(opts.Range)})
	row.CurrentVersion = res.Current
	if err != nil {
		return fmt.Errorf("dependency %s (%s): %w", d.Key(), d.Repository, err)
	}
	latest := res.Latest
	if !res.Outdated() {
		row.State, row.Latest = model.StateUpToDate, latest
		return nil
	}
	if res.Range {
		row.NewPin = res.Pin
	}
	if d2, ok := c.repos.(describer); ok && latest.Created.IsZero() && strings.HasPrefix(d.Repository, "oci://") {
		// Best effort: the PR body is better with it, the bump works without.
		if full, err := d2.Describe(ctx, d.Repository, d.Name, latest.Version); err == nil {
			latest = full
		}
	}
	row.Latest = latest
	row.State = model.StateOutdated
	c.gatherNotes(ctx, row, d.Name, versions)
	if row.Group {
		return nil // markGroupPR looks for the file's one PR
	}
	_, err = c.markPR(ctx, []*model.DependencyStatus{row}, github.BranchName(row.File, row.Dependency))
	return err
}

// markGroupPR looks for the grouped PR of an entry's outdated dependencies
// and images. In a grouped entry, a row whose new version a closed grouped
// PR proposed is pr-closed, and the rest are looked at without it; in an
// entry that is not grouped, only an open grouped PR (P in the console)
// counts.
func (c *Charts) markGroupPR(ctx context.Context, rows []model.DependencyStatus, grouped bool) {
	var out []*model.DependencyStatus
	for i := range rows {
		if rows[i].State == model.StateOutdated {
			out = append(out, &rows[i])
		}
	}
	if len(out) == 0 {
		return
	}
	branch := github.BranchName(out[0].EntryFile(), "all")
	fail := func(err error) {
		for _, r := range out {
			r.State, r.Error = model.StateError, err.Error()
		}
	}
	if !grouped {
		found, err := c.inspect(ctx, out, branch)
		if err != nil {
			fail(err)
		} else if found.Status == github.StatusOpen {
			setState(out, found)
		}
		return
	}
	closed, err := c.markPR(ctx, out, branch)
	if err != nil {
		fail(err)
		return
	}
	var rest []*model.DependencyStatus
	for _, r := range out {
		if r.State != model.StateOutdated && r.State != model.StatePROpen {
			return // edited, or every version declined together
		}
		declined := false
		for _, pr := range closed {
			if model.Declines(pr.Title, pr.Body, "", []model.Bump{r.Bump()}) {
				setState([]*model.DependencyStatus{r}, github.Outcome{Status: github.StatusClosed, Number: pr.Number, URL: pr.URL,
					Warnings: []string{fmt.Sprintf("grouped pull request #%d proposing %s %s was closed without merging: not proposed again", pr.Number, r.Dependency, r.Latest.Version)}})
				declined = true
				break
			}
		}
		if !declined {
			rest = append(rest, r)
		}
	}
	if len(rest) > 0 && len(rest) < len(out) {
		for _, r := range rest {
			r.State, r.PRNumber, r.PRURL, r.Warning = model.StateOutdated, 0, "", ""
		}
		if _, err := c.markPR(ctx, rest, branch); err != nil {
			fail(err)
		}
	}
}

// markPR sets rows to what opening their PR on branch would meet: pr-open
// when it is open with exactly the title a run would give it (it carries
// the newest versions), edited, pr-closed, or still outdated (with the
// number of an older open PR to update). It returns the branch's PRs
// closed without merging.
func (c *Charts) markPR(ctx context.Context, rows []*model.DependencyStatus, branch string) ([]github.PullRequest, error) {
	out, err := c.inspect(ctx, rows, branch)
	if err != nil {
		return nil, err
	}
	setState(rows, out)
	return out.Closed, nil
}

// inspect asks GitHub what proposing rows on branch would do.
func (c *Charts) inspect(ctx context.Context, rows []*model.DependencyStatus, branch string) (github.Outcome, error) {
	bumps := make([]model.Bump, len(rows))
	for i, r := range rows {
		bumps[i] = r.Bump()
	}
	title, _ := model.PullRequestText(rows[0].EntryFile(), bumps)
	owner, name, _ := strings.Cut(rows[0].Repository, "/")
	return c.gh.Inspect(ctx, github.Proposal{Owner: owner, Repo: name, Base: rows[0].Base, Path: rows[0].File,
		Branch: branch, Title: title, Fork: c.fork, Declined: declined(title, bumps)})
}

// declined reads a closed pull request as declining bumps (model.Declines).
func declined(title string, bumps []model.Bump) func(github.PullRequest) bool {
	return func(pr github.PullRequest) bool { return model.Declines(pr.Title, pr.Body, title, bumps) }
}

// setState records what Inspect or Propose said about rows' pull request.
func setState(rows []*model.DependencyStatus, out github.Outcome) {
	for _, r := range rows {
		forgetPRStatus(r, out)
		r.PRNumber, r.PRURL = out.Number, out.URL
		r.Warning = strings.Join(out.Warnings, "; ")
		if out.Status != "" {
			r.State = model.DependencyState(out.Status)
		}
	}
}

// Proposal is what opening a PR would do, for a confirm box or a dry run.
type Proposal struct {
	Repository string
	File       string
	// Files are the files the PR changes, File first: the chart file and
	// the values files of a grouped entry (a lock file aside).
	Files  []string
	Base   string
	Branch string
	Title  string
	Body   string
	// Diff shows the changed lines: "-old" and "+new", with line numbers,
	// those of a file other than File after its name.
	Diff string
}

// Preview describes the PR for one dependency or image, or for several of
// one configuration entry (a grouped PR), from the files as last checked.
func (c *Charts) Preview(deps []model.DependencyStatus) (Proposal, error) {
	if len(deps) == 0 {
		return Proposal{}, errors.New("no dependency to bump")
	}
	first := deps[0]
	bumps := make([]model.Bump, 0, len(deps))
	for _, d := range deps {
		if d.Repository != first.Repository || d.EntryFile() != first.EntryFile() {
			return Proposal{}, fmt.Errorf("a pull request bumps the files of one charts entry; got %s %s and %s %s", first.Repository, first.EntryFile(), d.Repository, d.EntryFile())
		}
		if d.Latest.Version == "" || d.State == model.StateUpToDate || d.State == model.StateError {
			return Proposal{}, fmt.Errorf("dependency %s in %s is not outdated", d.Dependency, d.File)
		}
		bumps = append(bumps, d.Bump())
	}
	var diff, base string
	var files, notes []string
	for i, g := range byFile(deps) {
		c.mu.Lock()
		fs, ok := c.files[fileKey{first.Repository, g.file}]
		c.mu.Unlock()
		if !ok {
			return Proposal{}, fmt.Errorf("%s %s has not been read yet: refresh first", first.Repository, g.file)
		}
		prefix := ""
		if i == 0 {
			base = fs.base
		} else {
			prefix = g.file + ":"
		}
		d, note, err := previewFile(g.file, prefix, fs, g.deps)
		if err != nil {
			return Proposal{}, err
		}
		diff += d
		files = append(files, g.file)
		if note != "" {
			notes = append(notes, note)
		}
	}
	branch := github.BranchName(first.File, first.Dependency)
	if len(deps) > 1 || first.Group {
		branch = github.BranchName(first.EntryFile(), "all")
	}
	title, body := model.PullRequestText(first.EntryFile(), bumps, notes...)
	return Proposal{
		Repository: first.Repository, File: first.File, Files: files, Base: base,
		Branch: branch, Title: title, Body: body, Diff: diff,
	}, nil
}

// previewFile is the diff of one file's edit (prefix before its line
// numbers), and for a chart file with a lock file the note saying what
// becomes of the lock.
func previewFile(file, prefix string, fs fileState, deps []model.DependencyStatus) (diff, note string, err error) {
	edited, err := applyBumps(fs.content, deps)
	if err != nil {
		return "", "", err
	}
	diff = lineDiff(prefix, fs.content, edited)
	if fs.lock != nil && !deps[0].IsImage() {
		lockPath := chartfile.LockPath(file)
		up, err := chartfile.UpdateLock(fs.lock, fs.content, edited, lockedVersions(deps))
		if err != nil {
			up = chartfile.LockUpdate{Content: fs.lock, Problem: err.Error()}
		}
		note = lockNote(file, lockPath, up)
		diff += lineDiff(lockPath+":", fs.lock, up.Content)
	}
	return diff, note, nil
}

// lockNote tells a pull request's reviewer what happened to the lock file.
func lockNote(file, lockPath string, up chartfile.LockUpdate) string {
	if up.DigestUpdated {
		return fmt.Sprintf("`%s` is updated in the same commit: the locked versions and its digest, as `helm dependency update` computes it.", lockPath)
	}
	return fmt.Sprintf("**`%s` must be regenerated** before merging: run `helm dependency update %s` and commit the result. "+
		"This pull request updates its locked versions but not its digest, because %s.", lockPath, path.Dir(file), up.Problem)
}

// applyFiles is a PR's edit: the bumps in the chart file and, when there
// is one, in its lock file.
func applyFiles(file string, cur github.Files, deps []model.DependencyStatus) (github.Files, error) {
	edited, err := applyBumps(cur[file], deps)
	if err != nil {
		return nil, err
	}
	out := github.Files{file: edited}
	lockPath := chartfile.LockPath(file)
	if cur[lockPath] != nil {
		// A lock that cannot be updated stays as it is; the body says so.
		if up, err := chartfile.UpdateLock(cur[lockPath], cur[file], edited, lockedVersions(deps)); err == nil {
			out[lockPath] = up.Content
		}
	}
	return out, nil
}

// lockedVersions are the versions the bumped dependencies resolve to, as
// their repository spells them: what helm writes in a lock file.
func lockedVersions(deps []model.DependencyStatus) map[string]string {
	out := make(map[string]string, len(deps))
	for _, d := range deps {
		out[d.Dependency] = d.Latest.Version
	}
	return out
}

// applyBumps writes each dependency's new pin: its newest version in the
// pin's own spelling, or its rewritten range; or an image's newest tag.
func applyBumps(content []byte, deps []model.DependencyStatus) ([]byte, error) {
	out := content
	for _, d := range deps {
		set := chartfile.SetVersion
		if d.IsImage() {
			set = values.SetTag // at its YAML path, the row's Dependency
		}
		var err error
		out, err = set(out, d.Dependency, d.Bump().Pin())
		if err != nil {
			return nil, fmt.Errorf("bump %s in %s: %w", d.Dependency, d.File, err)
		}
	}
	return out, nil
}

// Open opens (or updates) the pull request that bumps deps: one dependency
// or image, or several of one entry for a grouped PR. It returns the rows
// as they now stand.
func (c *Charts) Open(ctx context.Context, deps []model.DependencyStatus) ([]model.DependencyStatus, error) {
	p, err := c.Preview(deps)
	if err != nil {
		return nil, err
	}
	owner, name, _ := strings.Cut(p.Repository, "/")
	e := c.entry(p.Repository, deps[0].EntryFile())
	bumps := make([]model.Bump, len(deps))
	also := slices.Clone(p.Files[1:])
	for i, d := range deps {
		bumps[i] = d.Bump()
		if lock := chartfile.LockPath(d.File); !d.IsImage() && !slices.Contains(also, lock) {
			also = append(also, lock)
		}
	}
	out, err := c.gh.Propose(ctx, github.Proposal{
		Owner: owner, Repo: name, Base: p.Base, Path: p.File, Also: also, Branch: p.Branch,
		Title: p.Title, Body: p.Body, CommitMessage: p.Title,
		Labels: e.Labels, Reviewers: e.Reviewers, TeamReviewers: e.TeamReviewers,
		Fork:     c.fork,
		Edit:     func(cur github.Files) (github.Files, error) { return editEntry(cur, deps) },
		Declined: declined(p.Title, bumps),
	})
	if err != nil {
		return nil, fmt.Errorf("bump %s: %w", strings.Join(depNames(deps), ", "), err)
	}
	rows := slices.Clone(deps)
	ptrs := make([]*model.DependencyStatus, len(rows))
	for i := range rows {
		ptrs[i] = &rows[i]
	}
	setState(ptrs, out)
	c.prs.remember(rows)
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
func LineDiff(before, after []byte) string { return lineDiff("", before, after) }

// lineDiff is LineDiff with prefix (a file name) before each line number.
func lineDiff(prefix string, before, after []byte) string {
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
			fmt.Fprintf(&sb, "-%s%d: %s\n+%s%d: %s\n", prefix, i+1, x, prefix, i+1, y)
		}
	}
	return sb.String()
}
