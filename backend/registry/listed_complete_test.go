package registry

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestListedComplete: whether a listing kind's scan counts as complete
// for the digest cache is known before its inventory is made
// (listedComplete), and agrees with the inventory assembleRepos then
// makes: complete exactly when it holds no error but warnings.
func TestListedComplete(t *testing.T) {
	d := func(n int) string { return fmt.Sprintf("sha256:%064x", n) }
	const (
		image = iota
		index
		failed
		unread
	)
	type entry struct {
		digest int
		kind   int
		tagged bool
		kids   []int
	}
	tests := []struct {
		name    string
		entries []entry
		errs    []model.ScanError
		want    bool
	}{
		{"all read", []entry{{1, image, true, nil}, {2, image, false, nil}}, nil, true},
		{"a warning so far", []entry{{1, image, true, nil}}, []model.ScanError{{Repository: "r", Error: "config unread", Warning: true}}, true},
		{"an error so far", []entry{{1, image, true, nil}}, []model.ScanError{{Repository: "r", Error: "list tags"}}, false},
		{"a manifest that failed", []entry{{1, image, true, nil}, {2, failed, true, nil}}, nil, false},
		{"a manifest not read", []entry{{1, image, true, nil}, {2, unread, false, nil}}, nil, false},
		{"an untagged platform manifest not read", []entry{{1, index, true, []int{2}}, {2, unread, false, nil}}, nil, true},
		{"a tagged platform manifest not read", []entry{{1, index, true, []int{2}}, {2, unread, true, nil}}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := name.NewRegistry("registry.example")
			if err != nil {
				t.Fatal(err)
			}
			s := &scanner{reg: reg, errs: tc.errs}
			var es []acrEntry
			for _, e := range tc.entries {
				ae := acrEntry{digest: d(e.digest), created: time.Unix(1e9, 0)}
				if e.tagged {
					ae.tags = []string{fmt.Sprint("t", e.digest)}
				}
				es = append(es, ae)
				info := &manifestInfo{mediaType: "application/vnd.oci.image.manifest.v1+json", table: s.blobs.Table(),
					blobs: []int32{s.blobs.Intern(d(e.digest), 100), s.blobs.Intern(d(1000+e.digest), 10)}}
				switch e.kind {
				case index:
					info.mediaType = "application/vnd.oci.image.index.v1+json"
					for _, k := range e.kids {
						info.extra().children = append(info.extra().children, d(k))
					}
				case failed:
					info = &manifestInfo{err: errors.New("does not parse")}
				case unread:
					continue
				}
				s.manifests.preload(d(e.digest), info)
			}
			repos, entries := []string{"r"}, [][]acrEntry{es}
			got := listedComplete(s, repos, entries)
			markLastUses(entries, len(es))
			b := model.NewInventoryBuilder("registry.example", time.Unix(2e9, 0))
			inv := withErrors(b, append(s.errs, assembleRepos(s, b, repos, entries, make([]acrLocks, 1), listedRules{age: ageFromListing(AgeFromPushed), listedPlatform: true}, nil)...))
			whole := true
			for _, e := range inv.Errors {
				whole = whole && e.Warning
			}
			if got != tc.want || whole != tc.want {
				t.Errorf("listedComplete %v, the inventory whole %v (errors %v); want %v", got, whole, inv.Errors, tc.want)
			}
		})
	}
}
