package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/values"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Previewing and opening the pull request that bumps one dependency or
// image, or several of one file: the edit of the chart or values file and
// its Chart.lock, and its diff.

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
