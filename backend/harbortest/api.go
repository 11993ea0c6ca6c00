package harbortest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serveAPI answers /api/v2.0/ for the logged-in account name.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, name string) {
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v2.0/"), "/")
	for i, x := range seg {
		u, err := url.PathUnescape(x) // a repository name arrives encoded twice
		if err != nil {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", "bad path")
			return
		}
		seg[i] = u
	}
	get, del := r.Method == http.MethodGet, r.Method == http.MethodDelete
	switch {
	case len(seg) == 1 && seg[0] == "projects" && get:
		s.count("projects")
		s.serveProjects(w, r)
	case len(seg) == 2 && seg[0] == "projects" && get:
		s.count("projects")
		s.serveProject(w, r, seg[1])
	case len(seg) == 3 && seg[0] == "projects" && seg[2] == "repositories" && get:
		s.count("repositories")
		s.serveRepositories(w, r, seg[1])
	case len(seg) == 5 && seg[0] == "projects" && seg[2] == "repositories" && seg[4] == "artifacts" && get:
		s.count("artifacts")
		s.serveArtifacts(w, r, seg[1]+"/"+seg[3], "")
	case len(seg) == 6 && seg[0] == "projects" && seg[2] == "repositories" && seg[4] == "artifacts" && get:
		s.count("artifact")
		s.serveArtifacts(w, r, seg[1]+"/"+seg[3], seg[5])
	case len(seg) == 6 && seg[0] == "projects" && seg[2] == "repositories" && seg[4] == "artifacts" && del:
		s.count("delete")
		if !s.canDelete(name) {
			writeError(w, http.StatusForbidden, "FORBIDDEN", "forbidden")
			return
		}
		s.serveDelete(w, r, seg[1]+"/"+seg[3], seg[5])
	case len(seg) == 3 && seg[0] == "projects" && seg[2] == "immutabletagrules" && get:
		s.count("immutabletagrules")
		p, ok := s.findProject(w, r, seg[1])
		if ok {
			s.mu.Lock()
			rules := slices.Clone(p.rules)
			s.mu.Unlock()
			page(w, r, rules)
		}
	case len(seg) == 2 && seg[0] == "retentions" && get:
		s.count("retentions")
		s.serveRetention(w, seg[1])
	case len(seg) == 3 && seg[0] == "users" && seg[1] == "current" && seg[2] == "permissions" && get:
		s.count("permissions")
		perms := []Permission{{Resource: "repository", Action: "list"}, {Resource: "repository", Action: "pull"},
			{Resource: "artifact", Action: "list"}, {Resource: "artifact", Action: "read"}}
		if s.canDelete(name) {
			perms = append(perms, Permission{Resource: "artifact", Action: "delete"}, Permission{Resource: "repository", Action: "delete"})
		}
		writeJSON(w, http.StatusOK, perms)
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "not found")
	}
}

// allProjects is every project: those made, and each stored repository's
// first path segment.
func (s *Server) allProjects(ctx context.Context) ([]*project, map[string][]string, error) {
	repos, err := s.repositories(ctx)
	if err != nil {
		return nil, nil, err
	}
	byProject := map[string][]string{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range repos {
		if p, _, ok := strings.Cut(r, "/"); ok {
			s.projectLocked(p)
			byProject[p] = append(byProject[p], r)
		}
	}
	var out []*project
	for _, p := range s.projects {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *project) int { return strings.Compare(a.name, b.name) })
	return out, byProject, nil
}

func (s *Server) projectJSON(p *project, repos int) Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	md := map[string]string{"public": "false"}
	if p.retention != nil {
		md["retention_id"] = strconv.FormatInt(p.retention.ID, 10)
	}
	return Project{ProjectID: int32(p.id), OwnerID: 1, Name: p.name, CreationTime: Time(p.created), UpdateTime: Time(p.created),
		OwnerName: "admin", CurrentUserRoleID: 1, CurrentUserRoleIDs: []int32{1}, RepoCount: repos, Metadata: md}
}

func (s *Server) serveProjects(w http.ResponseWriter, r *http.Request) {
	ps, repos, err := s.allProjects(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	name := r.URL.Query().Get("name")
	var out []Project
	for _, p := range ps {
		if name == "" || strings.Contains(p.name, name) {
			out = append(out, s.projectJSON(p, len(repos[p.name])))
		}
	}
	page(w, r, out)
}

// findProject finds project name, answering 404 when there is none.
func (s *Server) findProject(w http.ResponseWriter, r *http.Request, name string) (*project, bool) {
	ps, _, err := s.allProjects(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return nil, false
	}
	k := slices.IndexFunc(ps, func(p *project) bool { return p.name == name })
	if k < 0 {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", name))
		return nil, false
	}
	return ps[k], true
}

func (s *Server) serveProject(w http.ResponseWriter, r *http.Request, name string) {
	p, ok := s.findProject(w, r, name)
	if !ok {
		return
	}
	_, repos, _ := s.allProjects(r.Context())
	writeJSON(w, http.StatusOK, s.projectJSON(p, len(repos[name])))
}

func (s *Server) serveRepositories(w http.ResponseWriter, r *http.Request, name string) {
	p, ok := s.findProject(w, r, name)
	if !ok {
		return
	}
	_, repos, _ := s.allProjects(r.Context())
	var out []Repository
	for _, repo := range repos[name] {
		out = append(out, Repository{ID: s.id("repository", repo), ProjectID: p.id, Name: repo,
			CreationTime: Time(p.created), UpdateTime: Time(p.created)})
	}
	page(w, r, out)
}

func (s *Server) serveRetention(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.projects {
		if p.retention != nil && strconv.FormatInt(p.retention.ID, 10) == id {
			writeJSON(w, http.StatusOK, p.retention)
			return
		}
	}
	writeError(w, http.StatusNotFound, "NOT_FOUND", "retention policy "+id+" not found")
}

// artifacts describes repo's artifacts: every manifest but the untagged
// ones an index references. all lists those too.
func (s *Server) artifacts(ctx context.Context, repo string, all bool) ([]Artifact, []*stored, error) {
	ms, err := s.repository(ctx, repo)
	if err != nil {
		return nil, nil, err
	}
	project, name, _ := strings.Cut(repo, "/")
	referenced := map[string]bool{}
	for _, m := range ms {
		for _, c := range m.children {
			referenced[c] = true
		}
	}
	s.mu.Lock()
	p := s.projectLocked(project)
	rules := slices.Clone(p.rules)
	s.mu.Unlock()
	repoID := s.id("repository", repo)
	var out []Artifact
	var listed []*stored
	for _, m := range ms {
		if len(m.tags) == 0 && referenced[m.digest] && !all {
			continue
		}
		c := m.content
		artID := s.id("artifact", repo+"@"+m.digest)
		s.mu.Lock()
		pushed, ok := s.pushTimes[repo+"@"+m.digest]
		if !ok {
			pushed = m.pushed
		}
		pulled := s.pullTimes[repo+"@"+m.digest]
		s.mu.Unlock()
		a := Artifact{ID: artID, Type: "IMAGE", MediaType: c.configMediaType, ManifestMediaType: c.mediaType,
			ArtifactType: c.configMediaType, ProjectID: p.id, RepositoryID: repoID, RepositoryName: repo, Digest: m.digest,
			Size: c.size, PushTime: Time(pushed), PullTime: Time(pulled), Annotations: map[string]string{},
			ExtraAttrs: map[string]any{}, References: []Reference{}, Tags: []Tag{}, Labels: []any{}, Accessories: []any{},
			AdditionLinks: map[string]AdditionLink{}}
		if len(c.children) == 0 {
			a.ExtraAttrs = map[string]any{"architecture": c.arch, "os": c.os, "author": c.author, "created": c.created, "config": c.config}
			a.AdditionLinks["build_history"] = AdditionLink{Href: "/api/v2.0/projects/" + project + "/repositories/" +
				url.PathEscape(url.PathEscape(name)) + "/artifacts/" + m.digest + "/additions/build_history"}
		}
		for _, ch := range c.children {
			ref := Reference{ParentID: artID, ChildID: s.id("artifact", repo+"@"+ch.digest), ChildDigest: ch.digest, Annotations: map[string]string{}, URLs: []string{}}
			if ch.os != "" {
				ref.Platform = &Platform{Architecture: ch.arch, OS: ch.os, OSVersion: ch.ver, Variant: ch.variant}
			}
			a.References = append(a.References, ref)
		}
		for _, t := range m.tags {
			a.Tags = append(a.Tags, Tag{ID: s.id("tag", repo+":"+t), RepositoryID: repoID, ArtifactID: artID, Name: t,
				PushTime: Time(pushed), PullTime: Time(pulled), Immutable: immutable(rules, name, t)})
		}
		out = append(out, a)
		listed = append(listed, m)
	}
	return out, listed, nil
}

// immutable reports whether an enabled rule makes tag of repository name
// (within its project) immutable.
func immutable(rules []ImmutableRule, name, tag string) bool {
	for _, r := range rules {
		if r.Disabled {
			continue
		}
		ok := true
		for _, sel := range r.ScopeSelectors["repository"] {
			ok = ok && selected(sel, name)
		}
		for _, sel := range r.TagSelectors {
			ok = ok && selected(sel, tag)
		}
		if ok {
			return true
		}
	}
	return false
}

func selected(sel ImmutableSelector, what string) bool {
	m := globMatch(sel.Pattern, what)
	if strings.HasSuffix(strings.ToLower(sel.Decoration), "excludes") {
		return !m
	}
	return m
}

// serveArtifacts lists repo's artifacts, or answers the one ref names (a
// digest or a tag).
func (s *Server) serveArtifacts(w http.ResponseWriter, r *http.Request, repo, ref string) {
	arts, _, err := s.artifacts(r.Context(), repo, ref != "")
	if errors.Is(err, errNoRepository) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("repository %s not found", repo))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	withTag := r.URL.Query().Get("with_tag") != "false"
	withImmutable := r.URL.Query().Get("with_immutable_status") == "true"
	for i := range arts {
		if !withTag {
			arts[i].Tags = nil
		}
		if !withImmutable {
			for k := range arts[i].Tags {
				arts[i].Tags[k].Immutable = false
			}
		}
	}
	if ref == "" {
		page(w, r, arts)
		return
	}
	for _, a := range arts {
		if a.Digest == ref || slices.ContainsFunc(a.Tags, func(t Tag) bool { return t.Name == ref }) {
			writeJSON(w, http.StatusOK, a)
			return
		}
	}
	writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("artifact %s@%s not found", repo, ref))
}

// serveDelete deletes the artifact ref of repo, its tags and its untagged
// children that nothing else references, as Harbor's artifact controller
// does.
func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, repo, ref string) {
	s.delMu.Lock()
	defer s.delMu.Unlock()
	ctx := r.Context()
	ms, err := s.repository(ctx, repo)
	if err != nil && !errors.Is(err, errNoRepository) {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	k := slices.IndexFunc(ms, func(m *stored) bool { return m.digest == ref || slices.Contains(m.tags, ref) })
	if k < 0 {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("artifact %s@%s not found", repo, ref))
		return
	}
	target := ms[k]
	project, name, _ := strings.Cut(repo, "/")
	s.mu.Lock()
	rules := slices.Clone(s.projectLocked(project).rules)
	s.mu.Unlock()
	for _, t := range target.tags {
		if immutable(rules, name, t) {
			writeError(w, http.StatusPreconditionFailed, "PRECONDITION", fmt.Sprintf("the tag %s configured as immutable, cannot be deleted", t))
			return
		}
	}
	parents := func(d string, except string) bool {
		return slices.ContainsFunc(ms, func(m *stored) bool { return m.digest != except && slices.Contains(m.children, d) })
	}
	if parents(target.digest, "") {
		writeError(w, http.StatusPreconditionFailed, "VIOLATE_FOREIGN_KEY_CONSTRAINT", "the deleting artifact is referenced by others")
		return
	}
	if err := s.deleteManifest(ctx, repo, target.digest); err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	for _, c := range target.children {
		ck := slices.IndexFunc(ms, func(m *stored) bool { return m.digest == c })
		if ck < 0 || len(ms[ck].tags) > 0 || parents(c, target.digest) {
			continue // tagged, or another index's too: it stays
		}
		if err := s.deleteManifest(ctx, repo, c); err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// deleteManifest deletes repo@digest (and its tags) in the registry.
func (s *Server) deleteManifest(ctx context.Context, repo, digest string) error {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodDelete, "http://"+s.reg.Host()+"/v2/"+repo+"/manifests/"+digest, nil)
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(req.Context(), time.Minute)
	defer cancel()
	resp, err := (&http.Client{Transport: s.proxy.Transport()}).Do(req.WithContext(c))
	if err != nil {
		return fmt.Errorf("delete %s@%s in the registry: %w", repo, digest, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("delete %s@%s in the registry: %s", repo, digest, resp.Status)
	}
	s.mu.Lock()
	delete(s.pullTimes, repo+"@"+digest)
	s.mu.Unlock()
	return nil
}
