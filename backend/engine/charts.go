package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/imagetags"
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
