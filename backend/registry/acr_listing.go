package registry

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unique"

	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
)

// acrEntry is one manifest as a listing kind gives it (ACR's
// _manifests, Harbor's artifacts).
type acrEntry struct {
	digest    string
	tags      []string
	created   time.Time
	mediaType string
	// platform is "os/arch" from the listing (the image config's), "" when
	// it gives none
	platform string
	// locked: the manifest's own attributes refuse deletes
	locked bool
	// last: no later entry of the scan names this digest (markLastUses)
	last bool
	// pulled is the registry's record of its last pull (Harbor's
	// pull_time); zero when unknown
	pulled time.Time
}

func entryOf(m *azcontainerregistry.ManifestAttributes) (acrEntry, bool) {
	if m == nil || m.Digest == nil {
		return acrEntry{}, false
	}
	e := acrEntry{digest: *m.Digest}
	if len(m.Tags) > 0 {
		e.tags = make([]string, 0, len(m.Tags))
	}
	for _, t := range m.Tags {
		if t != nil {
			e.tags = append(e.tags, *t)
		}
	}
	slices.Sort(e.tags)
	if m.CreatedOn != nil {
		e.created = *m.CreatedOn
	}
	if m.MediaType != nil {
		e.mediaType = unique.Make(*m.MediaType).Value() // a handful of values over 100,000 entries
	}
	if m.OperatingSystem != nil && m.Architecture != nil && *m.OperatingSystem != "" && *m.Architecture != "" {
		e.platform = unique.Make(string(*m.OperatingSystem) + "/" + string(*m.Architecture)).Value()
	}
	if a := m.ChangeableAttributes; a != nil {
		e.locked = refuses(a.CanDelete, a.CanWrite)
	}
	return e, true
}

// refuses reports whether changeable attributes refuse deletes:
// deleteEnabled or writeEnabled false (absent counts as true).
func refuses(canDelete, canWrite *bool) bool {
	return (canDelete != nil && !*canDelete) || (canWrite != nil && !*canWrite)
}

// listManifests lists every manifest of a repository, page by page.
func (a *ACR) listManifests(ctx context.Context, repo string) ([]acrEntry, error) {
	var out []acrEntry
	pager := a.az.NewListManifestsPager(repo, &azcontainerregistry.ClientListManifestsOptions{MaxNum: a.page})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return out, acrCallError(fmt.Sprintf("list manifests of %s after %d", repo, len(out)), err)
		}
		if out == nil { // most repositories are one page: no room to spare
			out = make([]acrEntry, 0, len(page.Attributes))
		}
		for _, m := range page.Attributes {
			if e, ok := entryOf(m); ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}
