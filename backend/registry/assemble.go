package registry

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// assemble builds the inventory from the tags read.
func (s *scanner) assemble(scannedAt time.Time) *model.Inventory {
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetRepositories(len(s.repoList))
	errs := s.errs
	slices.SortFunc(s.tags, func(a, b tagRef) int {
		return cmp.Or(cmp.Compare(a.repo, b.repo), cmp.Compare(a.digest, b.digest), cmp.Compare(a.tag, b.tag))
	})
	for i := 0; i < len(s.tags); {
		j := i
		var tags []string
		for ; j < len(s.tags) && s.tags[j].repo == s.tags[i].repo && s.tags[j].digest == s.tags[i].digest; j++ {
			tags = append(tags, s.tags[j].tag)
		}
		repo, digest := s.tags[i].repo, s.tags[i].digest
		i = j
		ref := repo + "@" + digest
		info := s.manifests.peek(digest)
		if info.err != nil {
			errs = append(errs, model.ScanError{Repository: repo, Reference: ref,
				Error: fmt.Sprintf("%v (tags %s)", info.err, strings.Join(tags, ", "))})
			continue
		}
		for _, w := range info.warnings {
			errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
		}
		im := model.Image{
			Repository:     repo,
			Digest:         digest,
			Tags:           tags,
			MediaType:      info.mediaType,
			Created:        info.created,
			CreatedProblem: info.problem,
			Platform:       info.platform,
			Platforms:      slices.Clone(info.platforms),
			Children:       slices.Clone(info.children),
			Subject:        info.subject,
		}
		if err := info.addTo(b, im); err != nil {
			errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
		}
	}
	slices.SortFunc(errs, func(a, b model.ScanError) int {
		return cmp.Or(cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Error, b.Error))
	})
	errs = slices.Compact(errs)
	for _, e := range errs {
		b.AddError(e)
	}
	return b.Inventory()
}
