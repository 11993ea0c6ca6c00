package engine

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

const (
	// notesTimeout bounds reading one bump's release notes from GitHub, so
	// that a slow GitHub delays the check by no more.
	notesTimeout = 20 * time.Second
	// notesTTL is how long notes read from GitHub are reused: a refresh
	// does not ask again, yet notes written after a release appear.
	notesTTL = time.Hour
)

// releaseNotes remembers the notes read from GitHub releases, by source
// repository, chart and versions. The zero value is ready to use.
type releaseNotes struct {
	mu   sync.Mutex
	byKV map[string]cachedNotes
}

type cachedNotes struct {
	notes *model.ReleaseNotes // nil: the releases have none for the bump
	read  time.Time
}

func (r *releaseNotes) get(key string, now time.Time) (*model.ReleaseNotes, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.byKV[key]
	if !ok || now.Sub(c.read) > notesTTL || now.Before(c.read) {
		return nil, false
	}
	return c.notes, true
}

func (r *releaseNotes) put(key string, notes *model.ReleaseNotes, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKV == nil {
		r.byKV = map[string]cachedNotes{}
	}
	for k, c := range r.byKV {
		if now.Sub(c.read) > notesTTL {
			delete(r.byKV, k)
		}
	}
	r.byKV[key] = cachedNotes{notes: notes, read: now}
}

// gatherNotes sets the release notes of an outdated row, the bump of chart
// among versions (the chart repository's list): from the versions'
// artifacthub.io/changes annotations, else from the GitHub releases of
// the chart's source repository (on GitHub.com only, since its links name
// github.com). Nothing here fails the row: a source that is not on GitHub
// has no notes, and a GitHub that cannot be read leaves a note that says
// so in the pull request's body.
func (c *Charts) gatherNotes(ctx context.Context, row *model.DependencyStatus, chart string, versions []model.ChartVersion) {
	repo, hasRepo := row.Bump().SourceRepository()
	// A range's notes start after the highest version it admitted.
	from := row.Current
	if row.CurrentVersion != nil {
		from = row.CurrentVersion.Version
	}
	if notes, ok := model.ChangeNotes(from, row.Latest, versions, repo); ok {
		row.Notes = &notes
		return
	}
	if !hasRepo || c.gh == nil || !c.gh.ServesGitHubCom() {
		return
	}
	key := strings.Join([]string{repo, chart, from, row.Latest.Version}, " ")
	if notes, ok := c.notes.get(key, c.now()); ok {
		row.Notes = notes
		return
	}
	owner, name, _ := strings.Cut(strings.TrimPrefix(repo, "https://github.com/"), "/")
	ctx, cancel := context.WithTimeout(ctx, notesTimeout)
	defer cancel()
	releases, err := c.gh.Releases(ctx, owner, name, func(page []model.Release) bool {
		return model.ReleasesReach(chart, from, page)
	})
	if err != nil {
		row.Notes = &model.ReleaseNotes{Source: model.NotesFromReleases, Repository: repo, MoreURL: repo + "/releases", Problem: err.Error()}
		return
	}
	var notes *model.ReleaseNotes
	if n, ok := model.GitHubReleaseNotes(chart, from, row.Latest, repo, releases); ok {
		notes = &n
	}
	c.notes.put(key, notes, c.now())
	row.Notes = notes
}
