package acrtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// store is where the stand-in's repositories and manifests come from: the
// embedded registry's storage ([New]) or a population made up on the spot
// ([NewSynthetic]). Tokens, listings' paging and order, changeable
// attributes, locks and request records are the Server's, whichever store.
type store interface {
	// repositories lists, sorted, at most n repositories after last that
	// hold a manifest.
	repositories(ctx context.Context, last string, n int) ([]string, error)
	// snapshot describes every manifest of repo (errNameUnknown when it has
	// none). With reuse a recent description may be returned unchecked.
	snapshot(ctx context.Context, repo string, reuse bool) (*repoSnapshot, error)
	// untag removes tag from repo (errTagUnknown, errNameUnknown).
	untag(ctx context.Context, repo, tag string) error
	// digestOf is the digest tag of repo points at, "" when none.
	digestOf(ctx context.Context, repo, tag string) string
	// deleteRepository deletes every tag and manifest of repo and names
	// them, sorted (errNameUnknown when it holds no manifest).
	deleteRepository(ctx context.Context, repo string) (manifests, tags []string, err error)
	// serveV2 answers an authorized /v2/ request.
	serveV2(w http.ResponseWriter, r *http.Request, rt v2Route)
	close()
}

// registryStore reads the embedded registry's storage and passes /v2/
// requests on to it.
type registryStore struct {
	s     *Server
	reg   *registrytest.Registry
	proxy *registrytest.Proxy
}

func newRegistryStore(s *Server, reg *registrytest.Registry) *registryStore {
	return &registryStore{s: s, reg: reg, proxy: reg.Proxy()}
}

func (rs *registryStore) repositories(ctx context.Context, last string, n int) ([]string, error) {
	var page []string
	err := rs.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, _ storagedriver.StorageDriver) error {
		names, err := registrytest.RepositoryNames(ctx, ns)
		if err != nil {
			return err
		}
		slices.Sort(names)
		for _, name := range names {
			if name <= last {
				continue
			}
			if len(page) == n {
				break
			}
			has, err := hasManifests(ctx, ns, name)
			if err != nil {
				return err
			}
			if has {
				page = append(page, name)
			}
		}
		return nil
	})
	return page, err
}

func (rs *registryStore) snapshot(ctx context.Context, repo string, reuse bool) (*repoSnapshot, error) {
	s := rs.s
	var snap *repoSnapshot
	err := rs.withRepo(ctx, repo, func(ctx context.Context, rp distribution.Repository, d storagedriver.StorageDriver) error {
		s.mu.Lock()
		snap = s.snapshots[repo]
		s.mu.Unlock()
		if reuse && snap != nil && time.Since(snap.taken) <= snapshotTTL {
			return nil
		}
		fp, err := fingerprint(ctx, d, repo)
		if err != nil {
			return err
		}
		if snap != nil && snap.fingerprint == fp {
			s.mu.Lock()
			snap.taken = time.Now()
			s.mu.Unlock()
			return nil
		}
		if snap, err = s.read(ctx, rp, d, repo); err != nil {
			return err
		}
		snap.fingerprint = fp
		s.mu.Lock()
		s.snapshots[repo] = snap
		s.mu.Unlock()
		return nil
	})
	return snap, err
}

// withRepo runs fn with repository name of the registry's storage.
func (rs *registryStore) withRepo(ctx context.Context, name string, fn func(ctx context.Context, rp distribution.Repository, d storagedriver.StorageDriver) error) error {
	return rs.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver) error {
		rp, err := openRepo(ctx, ns, name)
		if err != nil {
			return err
		}
		return fn(ctx, rp, d)
	})
}

func (rs *registryStore) untag(ctx context.Context, repo, tag string) error {
	err := rs.withRepo(ctx, repo, func(ctx context.Context, rp distribution.Repository, _ storagedriver.StorageDriver) error {
		ts := rp.Tags(ctx)
		if _, err := ts.Get(ctx, tag); err != nil {
			return err
		}
		return ts.Untag(ctx, tag)
	})
	var unknown distribution.ErrTagUnknown
	var repoUnknown distribution.ErrRepositoryUnknown
	switch {
	case errors.As(err, &unknown):
		return errTagUnknown
	case errors.As(err, &repoUnknown), registrytest.IsPathNotFound(err):
		return errNameUnknown
	}
	return err
}

func (rs *registryStore) digestOf(ctx context.Context, repo, tag string) string {
	dgst := ""
	_ = rs.withRepo(ctx, repo, func(ctx context.Context, rp distribution.Repository, _ storagedriver.StorageDriver) error {
		desc, err := rp.Tags(ctx).Get(ctx, tag)
		if err == nil {
			dgst = desc.Digest.String()
		}
		return err
	})
	return dgst
}

func (rs *registryStore) deleteRepository(ctx context.Context, repo string) (manifests, tags []string, err error) {
	err = rs.withRepo(ctx, repo, func(ctx context.Context, rp distribution.Repository, _ storagedriver.StorageDriver) error {
		ts := rp.Tags(ctx)
		all, err := ts.All(ctx)
		var unknown distribution.ErrRepositoryUnknown
		if err != nil && !errors.As(err, &unknown) && !registrytest.IsPathNotFound(err) {
			return err
		}
		ms, _, err := manifestsOf(ctx, rp)
		if err != nil {
			return err
		}
		digests, err := registrytest.ManifestDigests(ctx, ms)
		if err != nil {
			return err
		}
		if len(digests) == 0 {
			return errNameUnknown
		}
		for _, tag := range all {
			if err := ts.Untag(ctx, tag); err != nil {
				return fmt.Errorf("untag %s: %w", tag, err)
			}
			tags = append(tags, tag)
		}
		for _, dg := range digests {
			if err := ms.Delete(ctx, dg); err != nil {
				return fmt.Errorf("delete %s: %w", dg, err)
			}
			manifests = append(manifests, dg.String())
		}
		return nil
	})
	var repoUnknown distribution.ErrRepositoryUnknown
	if errors.As(err, &repoUnknown) {
		err = errNameUnknown
	}
	slices.Sort(manifests)
	slices.Sort(tags)
	return manifests, tags, err
}

func (rs *registryStore) serveV2(w http.ResponseWriter, r *http.Request, _ v2Route) {
	rs.proxy.ServeHTTP(w, r)
}

func (rs *registryStore) close() { rs.proxy.Close() }
