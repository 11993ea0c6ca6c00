package registrytest

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// IsPathNotFound reports whether err is the storage driver's answer for a
// path that is not there.
func IsPathNotFound(err error) bool {
	var nf storagedriver.PathNotFoundError
	return errors.As(err, &nf)
}

// RepositoryNames lists every repository of ns, as Walk walks it.
func RepositoryNames(ctx context.Context, ns distribution.Namespace) ([]string, error) {
	en, ok := ns.(distribution.RepositoryEnumerator)
	if !ok {
		return nil, fmt.Errorf("storage namespace %T cannot enumerate repositories", ns)
	}
	var names []string
	err := Walk(func() (int, error) {
		names = names[:0]
		err := en.Enumerate(ctx, func(n string) error { names = append(names, n); return nil })
		return len(names), err
	})
	if err != nil {
		return nil, fmt.Errorf("list the repositories: %w", err)
	}
	return names, nil
}

// ManifestDigests lists every manifest of ms, as Walk walks it; none for
// a repository the walk cannot enter.
func ManifestDigests(ctx context.Context, ms distribution.ManifestService) ([]digest.Digest, error) {
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return nil, fmt.Errorf("manifest service %T cannot enumerate", ms)
	}
	var out []digest.Digest
	err := Walk(func() (int, error) {
		out = out[:0]
		err := en.Enumerate(ctx, func(dg digest.Digest) error { out = append(out, dg); return nil })
		return len(out), err
	})
	return out, err
}

// Walk runs a storage walk (which says how much it found) until it ends
// without meeting a path removed under it. The walk stops at a directory a
// deletion removes meanwhile and would leave out the rest, and one that
// meets such a path before anything may not have started where the
// content is. Only walks that find nothing at every attempt (a repository
// that is not there) find nothing, without an error.
func Walk(walk func() (int, error)) error {
	var err error
	var found int
	for range walkAttempts {
		found, err = walk()
		if err == nil || !IsPathNotFound(err) {
			return err
		}
	}
	if found == 0 {
		return nil
	}
	return fmt.Errorf("the storage changed under %d walks: %w", walkAttempts, err)
}

// walkAttempts bounds the walks of a storage changing under them.
const walkAttempts = 8
