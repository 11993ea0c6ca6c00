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
	b.AdoptBlobs(&s.blobs)
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
		for _, w := range info.warnings() {
			errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
		}
		im := model.Image{
			Repository:     repo,
			Digest:         model.ParseDigest(digest),
			Tags:           tags,
			MediaType:      info.mediaType,
			Created:        info.created,
			CreatedProblem: info.problem,
			Platform:       info.platform,
			Platforms:      slices.Clone(info.platforms()),
			Children:       model.ParseDigests(info.children()),
			Subject:        model.DigestRef(info.subject()),
		}
		if err := info.addTo(b, im); err != nil {
			errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
		}
	}
	return withErrors(b, errs)
}

// withErrors adds errs to b, sorted by repository, reference and message,
// each once, and returns the inventory.
func withErrors(b *model.InventoryBuilder, errs []model.ScanError) *model.Inventory {
	slices.SortFunc(errs, func(x, y model.ScanError) int {
		return cmp.Or(cmp.Compare(x.Repository, y.Repository), cmp.Compare(x.Reference, y.Reference), cmp.Compare(x.Error, y.Error))
	})
	for _, e := range slices.Compact(errs) {
		b.AddError(e)
	}
	return b.Inventory()
}

// agePushed dates im on a registry that records push times (ACR, ECR):
// ageFrom AgeFromBuilt makes its age its config's created time, else
// (AgeFromPushed) its push time, undated when there is none; Pushed is
// the push time either way.
func agePushed(im *model.Image, ageFrom string, pushed time.Time, info *manifestInfo) {
	im.Pushed = pushed
	switch {
	case ageFrom == AgeFromBuilt:
		im.Created, im.CreatedProblem = info.created, info.problem
	case pushed.IsZero(): // no push time: undated
		im.CreatedProblem = model.CreatedMissing
	default:
		im.Created = pushed
	}
}
