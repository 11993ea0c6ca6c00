package demo

import (
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// lockLevels locks the demo's ACR at the levels beyond a manifest's own
// (lockedImage): an archive of recent builds (archivedRepository) with its
// writes disabled (every image in it held), "base" with its deletes only
// disabled (it holds nothing), the newest BinderHub image's branch tag (its
// image held), and an index's last platform manifest (the index held).
// None of them holds an image the demo's policy plan deletes.
func lockLevels(srv *acrtest.Server, s *registrytest.Seeded, now time.Time) {
	if repo := archivedRepository(s, now); repo != "" {
		srv.LockRepository(repo, true, false)
	}
	for _, im := range s.Images {
		if im.Repository == "base" {
			srv.LockRepository("base", false, true)
			break
		}
	}
	if im, tag := branchTagged(s, now); im != nil {
		srv.LockTag(im.Repository, tag, false, true)
	}
	for _, im := range s.Images {
		if len(im.Children) > 0 {
			srv.Lock(im.Repository, im.Children[len(im.Children)-1], false, true)
			break
		}
	}
}

// archivedRepository is the BinderHub repository the demo locks for
// writes, as an archive: the one whose oldest image is the newest (so the
// policy plan deletes none of it). Nobody launches its images.
func archivedRepository(s *registrytest.Seeded, now time.Time) string {
	oldest := map[string]time.Time{}
	for _, im := range s.Images {
		if !strings.HasPrefix(unprefixed(im.Repository), "binder-") {
			continue
		}
		if t, ok := oldest[im.Repository]; !ok || pushTime(im, now).Before(t) {
			oldest[im.Repository] = pushTime(im, now)
		}
	}
	pick := ""
	for repo, t := range oldest {
		if pick == "" || t.After(oldest[pick]) || (t.Equal(oldest[pick]) && repo < pick) {
			pick = repo
		}
	}
	return pick
}

// branchTagged is the newest BinderHub image with a tag that names
// neither a commit (commitTag) nor the default branch (develop, dev, v2.0), and that
// tag.
func branchTagged(s *registrytest.Seeded, now time.Time) (*registrytest.SeededImage, string) {
	var pick *registrytest.SeededImage
	tag := ""
	for k := range s.Images {
		im := &s.Images[k]
		if !strings.HasPrefix(unprefixed(im.Repository), "binder-") || (pick != nil && !pushTime(*im, now).After(pushTime(*pick, now))) {
			continue
		}
		for _, t := range im.Tags {
			if !commitTag.MatchString(t) && t != "master" && t != "main" && t != "latest" {
				pick, tag = im, t
				break
			}
		}
	}
	return pick, tag
}
