package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Scan lists the projects, their repositories and every artifact in each,
// reads each project's immutable-tag rules and retention policy, then
// reads each distinct manifest (and config) by digest, at most once.
func (h *Harbor) Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newScanner(h.Client)
	known := h.prev.take(true) // before the listing: seed.go
	defer s.endCache(nil)      // a failed scan is not a cache generation
	scannedAt := h.now()
	stop := s.runProgress(progress)
	defer stop()

	projects, err := h.listProjects(ctx)
	if err != nil {
		if len(projects) == 0 || ctx.Err() != nil {
			return nil, err
		}
		s.addError(model.ScanError{Error: err.Error() + "; the projects listed so far are scanned"})
	}

	// Each project's rules, retention policy and repositories.
	rules := make(map[string][]harborRule, len(projects))
	var repos []string
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.concurrency)
	for _, p := range projects {
		g.Go(func() error {
			rs, rerr := h.immutableRules(gctx, p.Name)
			pol, perr := h.retention(gctx, p)
			names, lerr := listAll[harborRepository](gctx, h, harborAPI+"/projects/"+url.PathEscape(p.Name)+"/repositories", nil,
				"list the repositories of project "+p.Name)
			if gctx.Err() != nil {
				return gctx.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			rules[p.Name] = rs
			if lerr != nil {
				s.addError(model.ScanError{Error: lerr.Error()})
			}
			for _, n := range names {
				repos = append(repos, n.Name)
				if rerr != nil {
					s.addError(model.ScanError{Repository: n.Name, Error: rerr.Error()})
				}
			}
			switch note := retentionNote(p.Name, pol); {
			case perr != nil:
				s.addError(model.ScanError{Repository: p.Name, Reference: "retention " + p.Metadata.RetentionID, Error: perr.Error(), Warning: true})
			case note != "":
				s.addError(model.ScanError{Repository: p.Name, Reference: "retention " + p.Metadata.RetentionID, Error: note, Warning: true})
			}
			s.nRepos.Store(int64(len(repos)))
			s.bump()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.Sort(repos)
	repos = slices.Compact(repos)
	s.repoList = repos

	// Every repository's artifacts, with their tags' immutable status.
	entries := make([][]acrEntry, len(repos))
	locks := make([]acrLocks, len(repos))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(h.concurrency)
	for k, repo := range repos {
		g.Go(func() error {
			arts, err := h.listArtifacts(gctx, repo)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				s.addError(model.ScanError{Repository: repo, Error: err.Error()})
			}
			entries[k], locks[k] = harborEntries(repo, arts)
			s.nImages.Add(int64(len(entries[k])))
			s.nReposDone.Add(1)
			s.bump()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	inv, err := scanListed(ctx, s, repos, entries, locks, known, nil, scannedAt, listedRules{age: ageFromPushTime, name: immutableReason(rules)})
	if err != nil {
		return nil, err
	}
	s.configs.reset() // what the manifests took from their configs is in them
	s.endCache(inv)   // when no batch ended it (no repository)
	h.prev.set(inv)
	return inv, nil
}

// harborEntries turns a repository's artifacts into the listing kinds'
// entries, and its immutable tags into tag locks.
func harborEntries(repo string, arts []harborArtifact) ([]acrEntry, acrLocks) {
	lk := acrLocks{repo: model.RepositoryLock{Repository: repo}}
	es := make([]acrEntry, 0, len(arts))
	for i := range arts {
		e, immutable := arts[i].entry()
		es = append(es, e)
		if len(immutable) > 0 {
			if lk.tags == nil {
				lk.tags = map[string][]string{}
			}
			lk.tags[e.digest] = immutable
		}
	}
	return es, lk
}

// Current re-reads a repository's artifacts: their tags, the children of
// the indexes among them (Harbor's references, so no manifest is read),
// and which tags are immutable now.
func (h *Harbor) Current(ctx context.Context, repository string, known func(digest string) bool) (Current, error) {
	cur := Current{Tags: map[string][]string{}, Referenced: map[string]bool{}, Locked: map[string]string{}}
	arts, err := h.listArtifacts(ctx, repository)
	if isHarborNotFound(err) {
		return cur, nil // the repository is gone
	}
	if err != nil {
		return cur, err
	}
	es, lk := harborEntries(repository, arts)
	children := map[string][]string{}
	for i, e := range es {
		if len(e.tags) > 0 {
			cur.Tags[e.digest] = e.tags
		}
		for _, r := range arts[i].References {
			children[e.digest] = append(children[e.digest], r.ChildDigest)
			if !known(e.digest) {
				cur.Referenced[r.ChildDigest] = true
			}
		}
	}
	cur.Cascade = harborCascade(es, children)
	if len(lk.tags) == 0 {
		return cur, nil
	}
	rules := map[string][]harborRule{}
	if project, _, err := splitRepository(repository); err == nil {
		// The rules only name the lock: without them it still holds.
		rules[project], _ = h.immutableRules(ctx, project)
	}
	name := immutableReason(rules)
	for d, why := range lockReasons(repository, es, lk, func(d string) ([]string, []string) { return children[d], nil }) {
		cur.Locked[d] = name(repository, cmp.Or(why, model.LockManifest))
	}
	return cur, nil
}

// harborCascade is what deleting each index would delete with it now:
// Harbor deletes an index's children that are untagged and that no other
// artifact references.
func harborCascade(es []acrEntry, children map[string][]string) map[string][]string {
	tagged := map[string]bool{}
	for _, e := range es {
		if len(e.tags) > 0 {
			tagged[e.digest] = true
		}
	}
	refs := map[string]int{}
	for _, cs := range children {
		for _, c := range cs {
			refs[c]++
		}
	}
	out := map[string][]string{}
	for idx, cs := range children {
		for _, c := range cs {
			if !tagged[c] && refs[c] == 1 {
				out[idx] = append(out[idx], c)
			}
		}
	}
	return out
}

// artifactPath is the API path of repository@digest.
func artifactPath(repository, digest string) (string, error) {
	if _, err := v1.NewHash(digest); err != nil {
		return "", fmt.Errorf("not a digest: %w", err)
	}
	project, name, err := splitRepository(repository)
	if err != nil {
		return "", err
	}
	return repositoryPath(project, name) + "/artifacts/" + url.PathEscape(digest), nil
}

// DeleteManifest deletes the artifact repository@digest with its tags
// (and, for an index, its untagged children nothing else references).
// Harbor refuses it with 412 while an immutable tag is on it (ErrLocked)
// or an index references it.
func (h *Harbor) DeleteManifest(ctx context.Context, repository, digest string) error {
	ref := repository + "@" + digest
	p, err := artifactPath(repository, digest)
	if err != nil {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	resp, err := h.call(ctx, http.MethodDelete, p, "delete "+ref)
	if err == nil {
		_ = resp.Body.Close()
		return nil
	}
	var ce *CallError
	if ctx.Err() != nil || !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.Status == http.StatusNotFound:
		ce.sentinel, ce.Hint = ErrNotFound, "already gone"
	case ce.Status == http.StatusPreconditionFailed && ce.HasCode("PRECONDITION"):
		ce.sentinel, ce.Hint = ErrLocked, "an immutable tag holds it: a Harbor immutable-tag rule matches one of its tags"
	case ce.Status == http.StatusPreconditionFailed:
		ce.Hint = "Harbor refuses it: an index references it"
	case ce.Status == http.StatusForbidden:
		ce.Hint = "the account may not delete in this project; give the robot account the permission to delete artifacts"
	}
	return ce
}

// Exists reports whether the artifact repository@digest is there (Harbor's
// artifact API: not a pull).
func (h *Harbor) Exists(ctx context.Context, repository, digest string) (bool, error) {
	p, err := artifactPath(repository, digest)
	if err != nil {
		return false, fmt.Errorf("look up %s@%s: %w", repository, digest, err)
	}
	resp, err := h.call(ctx, http.MethodGet, p+"?with_tag=false", "look up "+repository+"@"+digest)
	switch {
	case err == nil:
		_ = resp.Body.Close()
		return true, nil
	case isHarborNotFound(err):
		return false, nil
	}
	return false, err
}

// Probe lists one page of the projects and of the first one's
// repositories, and asks Harbor what the login may do in that project
// (/users/current/permissions): nothing is deleted.
func (h *Harbor) Probe(ctx context.Context) (Probe, error) {
	var projects []harborProject
	if h.projects != nil {
		var err error
		if projects, err = h.listProjects(ctx); err != nil {
			return Probe{}, err
		}
	} else if _, err := h.getJSON(ctx, harborAPI+"/projects?page=1&page_size="+strconv.Itoa(ProbePage), "list the projects of "+h.host, &projects); err != nil {
		return Probe{}, err
	}
	p := Probe{Delete: DeleteUnknown}
	if len(projects) == 0 {
		p.DeleteDetail = "the credentials see no project"
		return p, nil
	}
	first := projects[0]
	var repos []harborRepository
	if _, err := h.getJSON(ctx, harborAPI+"/projects/"+url.PathEscape(first.Name)+"/repositories?page=1&page_size="+strconv.Itoa(ProbePage),
		"list the repositories of project "+first.Name, &repos); err != nil {
		return Probe{}, err
	}
	for _, r := range repos {
		p.Repositories = append(p.Repositories, r.Name)
	}
	var perms []struct {
		Resource string `json:"resource"`
		Action   string `json:"action"`
	}
	q := url.Values{"scope": {"/project/" + strconv.FormatInt(first.ProjectID, 10)}, "relative": {"true"}}
	if _, err := h.getJSON(ctx, harborAPI+"/users/current/permissions?"+q.Encode(), "read the login's permissions in project "+first.Name, &perms); err != nil {
		p.DeleteDetail = err.Error() + " (a robot account cannot read its own permissions: check it may delete artifacts in " + first.Name + ")"
		return p, nil
	}
	var actions []string
	for _, x := range perms {
		if x.Resource == "artifact" {
			actions = append(actions, x.Action)
		}
	}
	if slices.Contains(actions, "delete") {
		p.Delete, p.DeleteDetail = DeleteGranted, "Harbor grants the login delete on artifacts in project "+first.Name
	} else {
		p.Delete, p.DeleteDetail = DeleteDenied, fmt.Sprintf("Harbor grants the login %s on artifacts in project %s, not delete", orNone(actions), first.Name)
	}
	return p, nil
}
