package registrytest

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// plan builds a population's truth without pushing it.
func plan(t *testing.T, p Population) *Seeded {
	t.Helper()
	p, err := p.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := buildPopulation(p)
	if err != nil {
		t.Fatal(err)
	}
	return pl.seeded(p)
}

func TestPopulationIsDeterministic(t *testing.T) {
	t.Parallel()
	p := DefaultPopulation()
	p.Now = testNow
	a, b := plan(t, p), plan(t, p)
	if !slices.EqualFunc(a.Images, b.Images, sameImage) || !slices.Equal(a.Repositories, b.Repositories) {
		t.Error("the same population planned twice differs")
	}
	p.Seed++
	c := plan(t, p)
	if slices.EqualFunc(a.Images, c.Images, sameImage) {
		t.Error("another seed gives the same population")
	}
}

func sameImage(a, b SeededImage) bool {
	return a.Repository == b.Repository && a.Digest == b.Digest && a.MediaType == b.MediaType &&
		slices.Equal(a.Tags, b.Tags) && a.Created.Equal(b.Created) && a.CreatedMissing == b.CreatedMissing &&
		slices.Equal(a.Children, b.Children) && slices.Equal(a.Blobs, b.Blobs)
}

var (
	binderName = regexp.MustCompile(`^binder-[a-z0-9]+(-[a-z0-9]+)*-[0-9a-f]{6}$`)
	tagSyntax  = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	commitTag  = regexp.MustCompile(`^[0-9a-f]{40}$|^[0-9a-f]{7}$`)
)

func TestDefaultPopulationIsRealistic(t *testing.T) {
	t.Parallel()
	p := DefaultPopulation()
	p.Now = testNow
	s := plan(t, p)

	if len(s.Repositories) != 12 || !slices.IsSorted(s.Repositories) {
		t.Fatalf("repositories %v: want 12, sorted", s.Repositories)
	}
	for _, want := range []string{hubRepository, baseRepository} {
		if !slices.Contains(s.Repositories, want) {
			t.Errorf("no %s repository", want)
		}
	}
	binderRepos := 0
	for _, r := range s.Repositories {
		if r != hubRepository && r != baseRepository {
			binderRepos++
			if !binderName.MatchString(r) {
				t.Errorf("binder repository %q is not binder-<org>-<repo>-<hash>", r)
			}
		}
	}
	if s.Tags() != 12*8 {
		t.Errorf("%d tags, want %d", s.Tags(), 12*8)
	}

	var indexes, epoch, missing, old, recent, multiTag, commitTags int
	perRepoTags := make(map[string]map[string]bool)
	for _, im := range s.Images {
		if perRepoTags[im.Repository] == nil {
			perRepoTags[im.Repository] = make(map[string]bool)
		}
		for _, tag := range im.Tags {
			if !tagSyntax.MatchString(tag) {
				t.Errorf("%s: invalid tag %q", im.Repository, tag)
			}
			if perRepoTags[im.Repository][tag] {
				t.Errorf("%s: tag %q used twice", im.Repository, tag)
			}
			perRepoTags[im.Repository][tag] = true
			if commitTag.MatchString(tag) {
				commitTags++
			}
		}
		if len(im.Tags) > 1 {
			multiTag++
		}
		if len(im.Children) > 0 {
			indexes++
			if !slices.Equal(im.Platforms, []string{"linux/amd64", "linux/arm64"}) {
				t.Errorf("index platforms %v", im.Platforms)
			}
		}
		switch {
		case im.CreatedMissing:
			missing++
			if !im.Created.IsZero() {
				t.Errorf("%s: no created field but Created %v", im.Ref(), im.Created)
			}
		case im.Created.Equal(time.Unix(0, 0)):
			epoch++
		case testNow.Sub(im.Created) > 90*24*time.Hour:
			old++
		default:
			recent++
		}
		if age := testNow.Sub(im.Created); !im.CreatedMissing && im.Created.Year() != 1970 && (age < 0 || age > 366*24*time.Hour) {
			t.Errorf("%s created %v, outside the year before Now", im.Ref(), im.Created)
		}
		if im.Blobs[0].Digest != im.Digest {
			t.Errorf("%s: first blob %s is not the manifest", im.Ref(), im.Blobs[0].Digest)
		}
	}
	if indexes != 1 || epoch != 1 || missing != 1 {
		t.Errorf("indexes %d, 1970 images %d, images without created %d; want one each", indexes, epoch, missing)
	}
	if old == 0 || recent <= old {
		t.Errorf("%d images older than 90 days, %d recent: want a few old, most recent", old, recent)
	}
	if multiTag == 0 || commitTags < s.Tags()/2 {
		t.Errorf("%d multi-tag images, %d commit-sha tags of %d", multiTag, commitTags, s.Tags())
	}

	// A few large base layers are shared by most binder images; each image
	// has small layers of its own.
	users := make(map[string]int)
	size := make(map[string]int64)
	binderImages := 0
	for _, im := range s.Images {
		if !binderName.MatchString(im.Repository) {
			continue
		}
		binderImages++
		for _, b := range im.Blobs {
			users[b.Digest]++
			size[b.Digest] = b.Size
		}
	}
	var shared []string
	for d, n := range users {
		if n*2 > binderImages {
			shared = append(shared, d)
		}
	}
	if len(shared) < 2 {
		t.Errorf("%d blobs shared by most of %d binder images, want an OS and a conda layer at least", len(shared), binderImages)
	}
	for _, d := range shared {
		if size[d] < 25*DefaultScale {
			t.Errorf("shared layer %s is %d bytes, want a large base layer", d, size[d])
		}
	}
	total := s.StoredBytes()
	if total < 1<<20 || total > 20<<20 {
		t.Errorf("default population stores %d bytes, want a few MB", total)
	}
	var sumOfImages int64
	for i := range s.Images {
		sumOfImages += s.Images[i].Size()
	}
	if sumOfImages < 3*total {
		t.Errorf("images total %d bytes over %d stored: too little sharing", sumOfImages, total)
	}
}

func TestPopulationTagTotalsAndSmallCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		repos, tags   int
		multiPlatform bool
	}{
		{1, 1, false}, {1, 1, true}, {2, 3, true}, {3, 1, false}, {5, 2, true}, {20, 100, true}, {30, 2, false},
	}
	for _, tc := range cases {
		s := plan(t, Population{Repositories: tc.repos, TagsPerRepository: tc.tags, Now: testNow, Scale: 1, MultiPlatform: tc.multiPlatform})
		if len(s.Repositories) != tc.repos || s.Tags() != tc.repos*tc.tags {
			t.Errorf("%d×%d: %d repositories, %d tags", tc.repos, tc.tags, len(s.Repositories), s.Tags())
		}
		seen := make(map[string]bool)
		for _, im := range s.Images {
			if len(im.Tags) == 0 {
				t.Errorf("%d×%d: %s has no tag", tc.repos, tc.tags, im.Ref())
			}
			if seen[im.Ref()] {
				t.Errorf("%d×%d: %s twice", tc.repos, tc.tags, im.Ref())
			}
			seen[im.Ref()] = true
		}
		indexes := slices.IndexFunc(s.Images, func(im SeededImage) bool { return len(im.Children) > 0 })
		if (indexes >= 0) != tc.multiPlatform {
			t.Errorf("%d×%d MultiPlatform=%v: index at %d", tc.repos, tc.tags, tc.multiPlatform, indexes)
		}
	}
}

func TestPopulationValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		p    Population
		want string
	}{
		{"no repositories", Population{TagsPerRepository: 1}, "Repositories"},
		{"no tags", Population{Repositories: 1}, "TagsPerRepository"},
		{"negative scale", Population{Repositories: 1, TagsPerRepository: 1, Scale: -1}, "Scale"},
		{"negative concurrency", Population{Repositories: 1, TagsPerRepository: 1, Concurrency: -2}, "Concurrency"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Seed(t.Context(), "127.0.0.1:1", tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Seed error %v, want one naming %s", err, tc.want)
			}
		})
	}
	if _, err := Seed(t.Context(), "", Population{Repositories: 1, TagsPerRepository: 1}); err == nil {
		t.Error("Seed with an empty host succeeded")
	}
}

func TestSeedReportsPushFailure(t *testing.T) {
	t.Parallel()
	r, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	host := r.Host()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Seed(t.Context(), host, Population{Repositories: 1, TagsPerRepository: 1, Now: testNow, Scale: 1},
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if err == nil || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "push ") {
		t.Errorf("Seed to a closed registry: %v; want an error naming the host and the push", err)
	}
}

func TestExclusive(t *testing.T) {
	t.Parallel()
	blob := func(d string, n int64) Blob { return Blob{Digest: d, Size: n} }
	s := &Seeded{Images: []SeededImage{
		{Blobs: []Blob{blob("m0", 1), blob("os", 100), blob("a", 10)}},
		{Blobs: []Blob{blob("m1", 1), blob("os", 100), blob("a", 10), blob("b", 20)}},
		{Blobs: []Blob{blob("m2", 1), blob("os", 100), blob("c", 30)}},
	}}
	cases := []struct {
		images []int
		want   []string
	}{
		{nil, nil},
		{[]int{0}, []string{"m0"}},
		{[]int{1}, []string{"b", "m1"}},
		{[]int{0, 1}, []string{"a", "b", "m0", "m1"}},
		{[]int{0, 1, 2}, []string{"a", "b", "c", "m0", "m1", "m2", "os"}},
	}
	for _, tc := range cases {
		var got []string
		for _, b := range s.Exclusive(tc.images...) {
			got = append(got, b.Digest)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Exclusive(%v) = %v, want %v", tc.images, got, tc.want)
		}
	}
	if got := s.StoredBytes(); got != 1+1+1+100+10+20+30 {
		t.Errorf("StoredBytes = %d", got)
	}
	if i := (&Seeded{Images: []SeededImage{{Repository: "r", Digest: "d", Tags: []string{"x"}}}}).Find("r", "x"); i != 0 {
		t.Errorf("Find by tag = %d", i)
	}
}
