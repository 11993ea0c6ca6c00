package registrytest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// This file and population_tags.go turn a Population into a plan of
// repositories, images, ages and tags drawn from one seeded generator;
// population_bytes.go then makes the bytes of every layer, config and
// manifest. Nothing here does I/O.

const day = 24 * time.Hour

// Repositories that are not repo2docker builds.
const (
	hubRepository  = "jupyterhub/k8s-hub"
	baseRepository = "base"
)

// binderSources are GitHub repositories of the kind people launch on
// mybinder.org, turned into repo2docker-style image names.
var binderSources = [][2]string{
	{"binder-examples", "requirements"}, {"binder-examples", "conda"},
	{"binder-examples", "r"}, {"binder-examples", "julia-python"},
	{"jupyterlab", "jupyterlab-demo"}, {"ipython", "ipython-in-depth"},
	{"norvig", "pytudes"}, {"jakevdp", "PythonDataScienceHandbook"},
	{"ageron", "handson-ml2"}, {"QuantEcon", "lecture-python.myst"},
	{"data-8", "materials-sp22"}, {"numpy", "numpy-tutorials"},
	{"pangeo-data", "pangeo-tutorial"}, {"holoviz", "panel"},
	{"bokeh", "bokeh-notebooks"}, {"spacetelescope", "jdaviz"},
	{"rasbt", "deeplearning-models"}, {"mybinder-org", "example"},
	{"jupyter-widgets", "ipywidgets"}, {"voila-dashboards", "voila-gallery"},
	{"executablebooks", "jupyter-book"}, {"scikit-image", "skimage-tutorials"},
	{"fastai", "fastbook"}, {"jupyterhub", "binder-examples"},
}

// extraBranches are second tags for binder images besides the newest.
var extraBranches = []string{"develop", "gh-pages", "stable", "latest", "dev", "binder", "staging", "v1.0", "v2.0", "release"}

type repoKind int

const (
	kindBinder repoKind = iota
	kindHub
	kindBase
)

type createdKind int

const (
	createdNormal createdKind = iota
	createdEpoch
	createdMissing
)

type repoPlan struct {
	name     string
	kind     repoKind
	source   string    // GitHub URL, binder only
	envMB    []float64 // environment layer versions, oldest first, binder only
	tagCount int
	images   []*imagePlan // newest first
}

type imagePlan struct {
	repo    *repoPlan
	j       int           // position in repo, 0 = newest
	age     time.Duration // build age, also for images whose config lies
	ntags   int
	tags    []string
	kind    createdKind
	index   bool
	commit  string // 40 hex, the image's revision label
	version string // k8s-hub only
	// sizes in MB of the image's own layers (postBuildMB 0: none)
	topMB, postBuildMB float64
}

type populationPlan struct {
	repositories []string
	images       []plannedImage
}

func (pl *populationPlan) seeded(p Population) *Seeded {
	out := &Seeded{Population: p, Repositories: pl.repositories}
	for _, im := range pl.images {
		out.Images = append(out.Images, im.truth)
	}
	return out
}

type builder struct {
	p      Population
	rng    *rand.Rand
	repos  []*repoPlan
	blobs  map[string]*layerBlob // by layer id
	layers map[layerKey]*blobLayer
}

func buildPopulation(p Population) (*populationPlan, error) {
	b := &builder{
		p:      p,
		rng:    rand.New(rand.NewPCG(uint64(p.Seed), 0x62696e646572)),
		blobs:  make(map[string]*layerBlob),
		layers: make(map[layerKey]*blobLayer),
	}
	b.planRepositories()
	b.planImages()
	b.planSpecials()
	b.planTags()

	out := &populationPlan{}
	for _, r := range b.repos {
		out.repositories = append(out.repositories, r.name)
		for _, im := range r.images {
			pi, err := b.build(im)
			if err != nil {
				return nil, fmt.Errorf("build image %d of %s: %w", im.j, r.name, err)
			}
			out.images = append(out.images, pi)
		}
	}
	return out, nil
}

var nonNameChars = regexp.MustCompile(`[^a-z0-9]+`)

func (b *builder) planRepositories() {
	n := b.p.Repositories
	nonBinder := 0
	switch {
	case n >= 6:
		nonBinder = 2
	case n >= 3:
		nonBinder = 1
	}
	sources := slices.Clone(binderSources)
	b.rng.Shuffle(len(sources), func(i, j int) { sources[i], sources[j] = sources[j], sources[i] })
	seen := make(map[string]bool)
	for i := 0; i < n-nonBinder; i++ {
		org, repo := sources[i%len(sources)][0], sources[i%len(sources)][1]
		if i >= len(sources) {
			repo = fmt.Sprintf("%s-%d", repo, i/len(sources))
		}
		slug := strings.Trim(nonNameChars.ReplaceAllString(strings.ToLower(org+"-"+repo), "-"), "-")
		var nm string
		for nm == "" || seen[nm] {
			nm = "binder-" + slug + "-" + b.hex(6)
		}
		seen[nm] = true
		envs := make([]float64, 1+b.rng.IntN(3))
		for k := range envs {
			envs[k] = 20 + 280*b.rng.Float64()
		}
		b.repos = append(b.repos, &repoPlan{name: nm, kind: kindBinder, source: "https://github.com/" + org + "/" + repo, envMB: envs})
	}
	if nonBinder >= 1 {
		b.repos = append(b.repos, &repoPlan{name: hubRepository, kind: kindHub})
	}
	if nonBinder >= 2 {
		b.repos = append(b.repos, &repoPlan{name: baseRepository, kind: kindBase})
	}
	for _, r := range b.repos {
		r.name = b.p.Prefix + r.name
	}
	slices.SortFunc(b.repos, func(x, y *repoPlan) int { return strings.Compare(x.name, y.name) })

	// Split the tags unevenly: a few busy repositories, many quiet ones.
	total := n * b.p.TagsPerRepository
	weights := make([]float64, n)
	var sum float64
	for i := range weights {
		weights[i] = 0.3 + b.rng.ExpFloat64()
		sum += weights[i]
	}
	spare := total - n
	given := 0
	type rem struct {
		i    int
		frac float64
	}
	rems := make([]rem, n)
	for i, r := range b.repos {
		share := float64(spare) * weights[i] / sum
		whole := int(math.Floor(share))
		r.tagCount = 1 + whole
		given += whole
		rems[i] = rem{i, share - float64(whole)}
	}
	slices.SortStableFunc(rems, func(x, y rem) int {
		switch {
		case x.frac > y.frac:
			return -1
		case x.frac < y.frac:
			return 1
		}
		return 0
	})
	for k := 0; k < spare-given; k++ {
		b.repos[rems[k].i].tagCount++
	}
}

func (b *builder) planImages() {
	for _, r := range b.repos {
		var counts []int
		for left := r.tagCount; left > 0; {
			n := 1
			if left >= 2 && (len(counts) == 0 || b.rng.Float64() < 0.12) {
				n = 2 // the newest image always carries a moving tag too
			}
			counts = append(counts, n)
			left -= n
		}
		ages := make([]time.Duration, len(counts))
		for k := range ages {
			if b.rng.Float64() < 0.8 {
				ages[k] = 10*time.Minute + time.Duration(b.rng.Int64N(int64(89*day)))
			} else {
				ages[k] = 91*day + time.Duration(b.rng.Int64N(int64(274*day)))
			}
		}
		slices.Sort(ages)
		for k, n := range counts {
			im := &imagePlan{repo: r, j: k, age: ages[k], ntags: n, commit: b.hex(40)}
			switch r.kind {
			case kindBinder:
				// repository contents: 50 kB to 20 MB, log-uniform
				im.topMB = math.Exp(math.Log(0.05) + b.rng.Float64()*math.Log(20/0.05))
				if b.rng.Float64() < 0.3 {
					im.postBuildMB = 1 + 59*b.rng.Float64()
				}
			case kindHub:
				im.topMB = 2 + 2*b.rng.Float64()
			case kindBase:
				im.topMB = 60 + 30*b.rng.Float64()
			}
			r.images = append(r.images, im)
		}
	}

	// At least one image past 90 days, whatever the draw: the oldest image
	// of the busiest repository (ages are sorted, so it stays the oldest).
	old := false
	total := 0
	for _, r := range b.repos {
		total += len(r.images)
		old = old || slices.ContainsFunc(r.images, func(im *imagePlan) bool { return im.age > 90*day })
	}
	if total >= 2 && !old {
		busiest := slices.MaxFunc(b.repos, func(x, y *repoPlan) int { return len(x.images) - len(y.images) })
		busiest.images[len(busiest.images)-1].age = 120*day + time.Duration(b.rng.Int64N(int64(200*day)))
	}
}

// planSpecials picks the multi-platform index, the 1970 image and the image
// without a created field.
func (b *builder) planSpecials() {
	if b.p.MultiPlatform {
		target := b.repos[0]
		for _, r := range b.repos {
			if r.kind == kindHub {
				target = r
			}
		}
		target.images[0].index = true
	}

	var epoch *imagePlan
	for _, r := range b.repos {
		if r.kind == kindBase {
			epoch = r.images[len(r.images)-1]
		}
	}
	if epoch == nil {
		for i := len(b.repos) - 1; i >= 0 && epoch == nil; i-- {
			for k := len(b.repos[i].images) - 1; k >= 0; k-- {
				if im := b.repos[i].images[k]; !im.index {
					epoch = im
					break
				}
			}
		}
	}

	var candidates []*imagePlan
	for _, r := range b.repos {
		if r.kind != kindBinder {
			continue
		}
		for _, im := range r.images {
			if !im.index && im != epoch {
				candidates = append(candidates, im)
			}
		}
	}
	if epoch != nil && len(candidates) > 0 {
		epoch.kind = createdEpoch
		candidates[b.rng.IntN(len(candidates))].kind = createdMissing
	}
}
