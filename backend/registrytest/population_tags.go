package registrytest

import (
	"fmt"
	"slices"
	"time"
)

// The tags of a Population's images: repo2docker's, the hub's and the base
// image's, each unique in its repository.

func (b *builder) planTags() {
	for _, r := range b.repos {
		used := make(map[string]bool)
		switch r.kind {
		case kindBinder:
			b.binderTags(r, used)
		case kindHub:
			b.hubTags(r, used)
		case kindBase:
			b.baseTags(r, used)
		}
	}
}

func claim(used map[string]bool, tag string) string {
	t := tag
	for n := 2; used[t]; n++ {
		t = fmt.Sprintf("%s-%d", tag, n)
	}
	used[t] = true
	return t
}

func (b *builder) binderTags(r *repoPlan, used map[string]bool) {
	extras := slices.Clone(extraBranches)
	b.rng.Shuffle(len(extras), func(i, j int) { extras[i], extras[j] = extras[j], extras[i] })
	for _, im := range r.images {
		primary := im.commit
		if b.rng.Float64() < 0.1 {
			primary = im.commit[:7]
		}
		im.tags = []string{claim(used, primary)}
		if im.ntags < 2 {
			continue
		}
		var second string
		switch {
		case im.j == 0:
			second = []string{"main", "master"}[b.rng.IntN(2)]
		case len(extras) > 0:
			second, extras = extras[0], extras[1:]
		case len(primary) == 40:
			second = primary[:7]
		default:
			second = "ref-" + b.hex(8)
		}
		im.tags = append(im.tags, claim(used, second))
	}
}

// hubTags are chartpress versions, newest first: dev builds
// `X.Y.(Z+1)-0.dev.git.N.hHASH` between stable releases `X.Y.Z`.
func (b *builder) hubTags(r *repoPlan, used map[string]bool) {
	major, minor, patch := 4+len(r.images)/40, 1+b.rng.IntN(3), b.rng.IntN(4)
	build := 6800 + b.rng.IntN(400)
	for _, im := range r.images {
		var v string
		if im.j%5 == 1 {
			v = fmt.Sprintf("%d.%d.%d", major, minor, patch)
			if patch--; patch < 0 {
				patch = 3
				if minor--; minor < 0 {
					minor, major = 3, major-1
				}
			}
		} else {
			v = fmt.Sprintf("%d.%d.%d-0.dev.git.%d.h%s", major, minor, patch+1, build, im.commit[:8])
			build -= 1 + b.rng.IntN(25)
		}
		im.version = v
		im.tags = []string{claim(used, v)}
		if im.ntags < 2 {
			continue
		}
		second := "latest"
		if im.j > 0 {
			second = fmt.Sprintf("%d.%d", major, minor)
		}
		im.tags = append(im.tags, claim(used, second))
	}
}

func (b *builder) baseTags(r *repoPlan, used map[string]bool) {
	for _, im := range r.images {
		built := b.p.Now.Add(-im.age)
		im.tags = []string{claim(used, built.Format("2006-01-02"))}
		if im.ntags < 2 {
			continue
		}
		second := "latest"
		if im.j > 0 {
			second = im.tags[0] + "-" + osRelease(im.age)
		}
		im.tags = append(im.tags, claim(used, second))
	}
}

func osRelease(age time.Duration) string {
	if age > 200*day {
		return "jammy"
	}
	return "noble"
}
