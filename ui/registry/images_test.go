package registry

import (
	"slices"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

func smallIndex(t *testing.T) *imageIndex {
	t.Helper()
	b := model.NewInventoryBuilder("r", uitest.FixedNow)
	add := func(repo, digest string, tags []string, age time.Duration, size int64, problem model.CreatedProblem) {
		im := model.Image{Repository: repo, Digest: model.ParseDigest(digest), Tags: tags, CreatedProblem: problem}
		if problem == model.CreatedOK {
			im.Created = uitest.FixedNow.Add(-age)
		}
		if err := b.AddImage(im, []model.Blob{{Digest: "sha256:" + digest[7:] + "-layer", Size: size}, {Digest: "sha256:shared", Size: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	add("beta", "sha256:aaaa1111", []string{"v2"}, 10*day, 300, model.CreatedOK)           // 0
	add("alpha", "sha256:bbbb2222", []string{"Release-X"}, 30*day, 100, model.CreatedOK)   // 1
	add("alpha", "sha256:cccc3333", []string{"a1"}, 20*day, 200, model.CreatedOK)          // 2
	add("gamma", "sha256:dddd4444", nil, 0, 50, model.CreatedMissing)                      // 3
	add("beta", "sha256:eeee5555", []string{"v1", "stable"}, 40*day, 300, model.CreatedOK) // 4
	return newImageIndex(b.Inventory(), model.Policy{})
}

func TestImageIndexSort(t *testing.T) {
	x := smallIndex(t)
	cases := []struct {
		key     sortKey
		reverse bool
		want    []int
	}{
		{sortAge, false, []int{4, 1, 2, 0, 3}}, // unknown age last: treated as newest
		{sortAge, true, []int{3, 0, 2, 1, 4}},
		{sortSize, false, []int{0, 4, 2, 1, 3}}, // ties by index
		{sortSize, true, []int{3, 1, 2, 0, 4}},
		{sortReclaim, false, []int{0, 4, 2, 1, 3}},
		{sortName, false, []int{1, 2, 4, 0, 3}}, // repository, then first tag (byte order: R < a)
		{sortName, true, []int{3, 0, 4, 2, 1}},
	}
	for _, c := range cases {
		x.setSort(c.key, c.reverse)
		if !slices.Equal(x.order, c.want) {
			t.Errorf("sort %s reverse=%v: %v, want %v", c.key, c.reverse, x.order, c.want)
		}
	}
}

func TestImageIndexFilter(t *testing.T) {
	x := smallIndex(t)
	x.setSort(sortName, false)
	cases := []struct {
		filter string
		want   []int
	}{
		{"", []int{1, 2, 4, 0, 3}},
		{"alpha", []int{1, 2}},
		{"ALPHA", []int{1, 2}},
		{"release-x", []int{1}}, // tags keep their case; the filter ignores it
		{"stable", []int{4}},
		{"beta:v", []int{4, 0}},
		{"eeee55", []int{4}},    // a digest
		{"sha256:dd", []int{3}}, // a digest with its algorithm
		{"nothing", []int{}},
	}
	for _, c := range cases {
		x.setFilter(c.filter)
		if !slices.Equal(x.view, c.want) {
			t.Errorf("filter %q: %v, want %v", c.filter, x.view, c.want)
		}
	}
	// A re-sort keeps the filter.
	x.setFilter("beta")
	x.setSort(sortSize, true)
	if !slices.Equal(x.view, []int{0, 4}) {
		t.Errorf("re-sorted filter: %v", x.view)
	}
}

func TestImageName(t *testing.T) {
	x := smallIndex(t)
	if got := imageName(&x.inv.Images[4]); got != "beta:v1" {
		t.Errorf("imageName = %q", got)
	}
	im := model.Image{Repository: "r", Digest: model.ParseDigest("sha256:0123456789abcdef0123")}
	if got := imageName(&im); got != "r@sha256:0123456789ab" {
		t.Errorf("untagged imageName = %q", got)
	}
}
