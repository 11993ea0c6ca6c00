package model_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// repo2dockerPins reads testdata/repo2docker-pins.txt: every repo2docker
// image mybinder.org pinned, by image, each tag with the day it was first
// pinned as its created time (the image was built before).
func repo2dockerPins(t *testing.T) map[string][]model.ImageTag {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "repo2docker-pins.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]model.ImageTag{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		day, ref, ok := strings.Cut(line, " ")
		image, tag, ok2 := strings.Cut(ref, ":")
		created, err := time.Parse(time.DateOnly, day)
		if !ok || !ok2 || err != nil {
			t.Fatalf("bad line %q", line)
		}
		out[image] = append(out[image], model.ImageTag{Tag: tag, Created: created})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImageTagKind(t *testing.T) {
	tests := []struct {
		tag  string
		want model.TagKind
	}{
		{"2021.08.0-136.g47ea95a", model.TagDescribe},
		{"v1.2.3-4-gabcdef0", model.TagDescribe},
		{"0.10.0-42.gafb24a4.dirty", model.TagUnordered},
		{"2025.12.1.dev6-gc8b2679fa", model.TagDevBuild},
		{"1.0.dev3", model.TagDevBuild},
		{"9f081a2", model.TagHash},
		{"ff894f44", model.TagHash},
		{"1234567", model.TagRelease}, // all digits: a number
		{"9F081A2", model.TagUnordered},
		{"v1.7.1", model.TagRelease},
		{"3.19", model.TagRelease},
		{"20240115", model.TagRelease},
		{"1.25.3-alpine", model.TagRelease},
		{"7.2.4-debian-12-r9", model.TagRelease},
		{"1.2.3-rc.1", model.TagPrerelease},
		{"v1.8.0-beta.0", model.TagPrerelease},
		{"1.0.0-0.dev.git.3983.h383374de", model.TagPrerelease},
		{"4.0.0-beta.4.git.6831.habe06f4d", model.TagPrerelease},
		{"1.2.3-01", model.TagUnordered}, // a leading zero: not semver
		{"0.1.0-fd778a3", model.TagUnordered},
		{"0.2.0-658032c", model.TagUnordered},
		{"0.2.0-n653.h195caac", model.TagUnordered},
		{"1.2.3.4.5", model.TagUnordered},
		{"latest", model.TagUnordered},
		{"LATEST", model.TagUnordered},
		{"stable-alpine", model.TagUnordered},
		{"main", model.TagUnordered},
		{"", model.TagUnordered},
		{"99999999999999999999.0", model.TagUnordered},
	}
	for _, tt := range tests {
		if got := model.ImageTagKind(tt.tag); got != tt.want {
			t.Errorf("ImageTagKind(%q) = %s, want %s", tt.tag, got, tt.want)
		}
	}
}

// newestCase is a pin, the tags it is compared with, and the tag
// NewestImageTag should choose ("" for none).
type newestCase struct {
	name  string
	pin   string
	tags  []model.ImageTag
	rules model.ImageRules
	want  string
}

func runNewestCases(t *testing.T, tests []newestCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := model.NewestImageTag(tt.pin, tt.tags, tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if got.Tag != tt.want || ok != (tt.want != "") {
				t.Errorf("NewestImageTag(%s) = %q %v, want %q", tt.pin, got.Tag, ok, tt.want)
			}
		})
	}
}

// The pins mybinder.org made over seven years, against the tags they came
// from: every describe or dev pin on quay.io follows to the newest dev
// build, every hash pin to the newest hash of its length on Docker Hub.
func TestNewestImageTagRepo2docker(t *testing.T) {
	images := repo2dockerPins(t)
	quay, hub := images["quay.io/jupyterhub/repo2docker"], images["jupyter/repo2docker"]
	if len(quay) < 100 || len(hub) < 150 {
		t.Fatalf("fixture has %d quay.io and %d Docker Hub tags", len(quay), len(hub))
	}
	tests := []newestCase{
		{"mybinder's pin", "2021.08.0-136.g47ea95a", quay, model.ImageRules{}, "2026.4.1.dev44-g97bb4e45a"},
		{"a constraint keeps the describes", "2021.08.0-136.g47ea95a", quay, model.ImageRules{Constraint: "<2025.12.0"}, "2025.08.0-83.g2456a4d"},
		{"a constraint on the year", "2021.08.0-10.g5b5b759", quay, model.ImageRules{Constraint: "~2021"}, "2021.08.0-136.g47ea95a"},
		{"a release pin takes releases", "2025.08.0", quay, model.ImageRules{}, "2025.12.0"},
		{"a release pin with prereleases", "2025.08.0", quay, model.ImageRules{Prereleases: true}, "2026.4.1.dev44-g97bb4e45a"},
		{"a dev pin", "2025.12.1.dev6-gc8b2679fa", quay, model.ImageRules{}, "2026.4.1.dev44-g97bb4e45a"},
		{"the newest", "2026.4.1.dev44-g97bb4e45a", quay, model.ImageRules{}, ""},
		{"7 hex digits", "9f081a2", hub, model.ImageRules{}, "9bcc41a"},
		{"8 hex digits", "ff894f44", hub, model.ImageRules{}, "b20eb6a8"},
		{"the newest 7", "9bcc41a", hub, model.ImageRules{}, ""},
		{"a describe on Docker Hub", "0.10.0-46.g2bbd8ee", hub, model.ImageRules{}, "2021.03.0-70.g43891a6"},
		{"a constraint within 0.10", "0.10.0-46.g2bbd8ee", hub, model.ImageRules{Constraint: "<0.11"}, "0.10.0-186.g900d280"},
	}
	runNewestCases(t, tests)

	// Every pin moves to the newest of its kind, or is it.
	for _, tc := range []struct {
		tags   []model.ImageTag
		kind   func(string) bool
		newest string
	}{
		{quay, func(tag string) bool { return model.ImageTagKind(tag) != model.TagRelease }, "2026.4.1.dev44-g97bb4e45a"},
		{quay, func(tag string) bool { return model.ImageTagKind(tag) == model.TagRelease }, "2025.12.0"},
		{hub, func(tag string) bool { return model.ImageTagKind(tag) == model.TagHash && len(tag) == 7 }, "9bcc41a"},
		{hub, func(tag string) bool { return model.ImageTagKind(tag) == model.TagHash && len(tag) == 8 }, "b20eb6a8"},
		{hub, func(tag string) bool { return model.ImageTagKind(tag) == model.TagDescribe }, "2021.03.0-70.g43891a6"},
	} {
		for _, pin := range tc.tags {
			if !tc.kind(pin.Tag) {
				continue
			}
			got, ok, err := model.NewestImageTag(pin.Tag, tc.tags, model.ImageRules{})
			switch {
			case err != nil:
				t.Errorf("pin %s: %v", pin.Tag, err)
			case pin.Tag == tc.newest && ok:
				t.Errorf("pin %s is the newest, got %s", pin.Tag, got.Tag)
			case pin.Tag != tc.newest && (!ok || got.Tag != tc.newest):
				// Equal created days leave some hashes without a newer one.
				if !(model.ImageTagKind(pin.Tag) == model.TagHash && !ok) {
					t.Errorf("pin %s: got %q %v, want %s", pin.Tag, got.Tag, ok, tc.newest)
				}
			}
		}
	}
}

func TestNewestImageTag(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	tags := func(names ...string) []model.ImageTag {
		out := make([]model.ImageTag, len(names))
		for i, n := range names {
			out[i] = model.ImageTag{Tag: n}
		}
		return out
	}
	certManager := tags("v1.7.0", "v1.7.1", "v1.7.2", "v1.8.0-alpha.0", "v1.8.0-beta.0", "latest")
	tests := []newestCase{
		{"v tags", "v1.7.1", certManager, model.ImageRules{}, "v1.7.2"},
		{"v tags with prereleases", "v1.7.1", certManager, model.ImageRules{Prereleases: true}, "v1.8.0-beta.0"},
		{"a prerelease pin takes prereleases", "v1.8.0-alpha.0", certManager, model.ImageRules{}, "v1.8.0-beta.0"},
		{"a pin without v against v tags", "1.7.1", certManager, model.ImageRules{}, "v1.7.2"},
		{"both spellings: the pin's wins", "1.7.1", tags("v1.8.0", "1.8.0", "v1.8.0"), model.ImageRules{}, "1.8.0"},
		{"both spellings, v pin", "v1.7.1", tags("1.8.0", "v1.8.0"), model.ImageRules{}, "v1.8.0"},
		{"as many numbers as the pin", "3.19", tags("3", "3.19", "3.19.1", "3.20", "3.20.3", "edge", "latest"), model.ImageRules{}, "3.20"},
		{"three numbers", "3.19.1", tags("3", "3.19", "3.19.1", "3.20", "3.20.3"), model.ImageRules{}, "3.20.3"},
		{"bitnami revisions", "7.2.4-debian-12-r9", tags("7.2.4-debian-12-r10", "7.2.4-debian-12-r9", "7.2.4-debian-12-r8", "7.2.5-debian-12-r0", "7.4.0"), model.ImageRules{}, "7.2.5-debian-12-r0"},
		{"bitnami never changes its base", "7.2.4-debian-12-r9", tags("7.2.4-debian-12-r10", "7.4.1-debian-11-r0", "7.4.1-debian-13-r0"), model.ImageRules{}, "7.2.4-debian-12-r10"},
		{"nginx variants", "1.25.3-alpine", tags("1.25.3", "1.25.4-alpine", "1.26.0-alpine", "1.26.0", "1.26-alpine", "stable-alpine", "1.27.0-alpine-slim"), model.ImageRules{}, "1.26.0-alpine"},
		{"alpine revision", "1.25.3-alpine3.18", tags("1.25.3-alpine3.19", "1.25.3-alpine4.0", "1.25.3-alpine"), model.ImageRules{}, "1.25.3-alpine3.19"},
		{"git describe with a dash", "v1.2.3-4-gabcdef0", tags("v1.2.3-10-g1234567", "v1.2.4", "v1.2.4-1-gfedcba9", "v1.2.3"), model.ImageRules{}, "v1.2.4-1-gfedcba9"},
		{"a describe orders after its base, a prerelease before", "2021.08.0", tags("2021.08.0-136.g47ea95a", "2021.08.0-rc1", "2021.09.0-rc1"), model.ImageRules{Prereleases: true}, "2021.09.0-rc1"},
		{"a describe is newer than its release", "2021.08.0", tags("2021.08.0-136.g47ea95a", "2021.08.0-rc1"), model.ImageRules{Prereleases: true}, "2021.08.0-136.g47ea95a"},
		{"a describe pin takes a newer release", "2021.08.0-136.g47ea95a", tags("2021.08.0", "2022.02.0", "2021.08.0-99.gaaaaaaa"), model.ImageRules{}, "2022.02.0"},
		{"its own release is older", "2021.08.0-136.g47ea95a", tags("2021.08.0", "2021.08.0-99.gaaaaaaa"), model.ImageRules{}, ""},
		{"a dev build orders before its version", "2025.12.1.dev6-gc8b2679fa", tags("2025.12.0", "2025.12.1.dev53-ga0a7fec67", "2025.12.1"), model.ImageRules{}, "2025.12.1"},
		{"dev before rc", "2025.12.1.dev6-gc8b2679fa", tags("2025.12.1.dev53-ga0a7fec67", "2025.12.1-rc1"), model.ImageRules{}, "2025.12.1-rc1"},
		{"dirty builds are never chosen", "0.10.0-17.g82cd28d", tags("0.10.0-42.gafb24a4.dirty", "0.10.0-31.ge646419.dirty"), model.ImageRules{}, ""},
		{"hash-shaped suffixes have no order", "0.2.0", tags("0.2.0-889380c", "0.2.0-fd778a3"), model.ImageRules{Prereleases: true}, ""},
		{"never a downgrade", "2.0.0", tags("1.9.9", "2.0.0-rc.1", "2.0.0"), model.ImageRules{Prereleases: true}, ""},
		{"never latest", "1.0", tags("latest", "Latest"), model.ImageRules{}, ""},
		{"a constraint", "1.2.3", tags("1.3.0", "2.0.0"), model.ImageRules{Constraint: "<2"}, "1.3.0"},
		{"four numbers", "1.2.3.4", tags("1.2.3.5", "1.2.4"), model.ImageRules{}, "1.2.3.5"},
		{"four numbers and a constraint", "1.2.3.4", tags("1.2.3.5"), model.ImageRules{Constraint: ">=1"}, ""},
		{"chartpress", "1.0.0-0.dev.git.3983.h383374de", tags("1.0.0-0.dev.git.3990.h1111111", "1.0.0-0.dev.git.999.h2222222", "0.2.0"), model.ImageRules{}, "1.0.0-0.dev.git.3990.h1111111"},
		{"hash by created", "9f081a2", []model.ImageTag{{"9f081a2", day(2)}, {"abcdef1", day(5)}, {"1234567", day(9)}, {"bcdef12", day(4)}, {"0123abcd", day(9)}, {"cdef123", day(1)}}, model.ImageRules{}, "abcdef1"},
		{"hash: 1970 is no time", "9f081a2", []model.ImageTag{{"9f081a2", day(2)}, {"abcdef1", time.Unix(0, 0)}}, model.ImageRules{}, ""},
		{"hash: the same time is not newer", "9f081a2", []model.ImageTag{{"9f081a2", day(2)}, {"abcdef1", day(2)}}, model.ImageRules{}, ""},
	}
	runNewestCases(t, tests)
}

func TestNewestImageTagErrors(t *testing.T) {
	var unordered *model.UnorderedTagError
	tests := []struct {
		name  string
		pin   string
		tags  []model.ImageTag
		rules model.ImageRules
		check func(error) bool
	}{
		{"a branch", "main", nil, model.ImageRules{}, func(err error) bool { return errors.As(err, &unordered) && unordered.Tag == "main" }},
		{"latest", "latest", nil, model.ImageRules{}, func(err error) bool { return errors.As(err, &unordered) }},
		{"a dirty build", "0.10.0-42.gafb24a4.dirty", nil, model.ImageRules{}, func(err error) bool { return errors.As(err, &unordered) }},
		{"a hash not listed", "9f081a2", []model.ImageTag{{Tag: "abcdef1", Created: time.Now()}}, model.ImageRules{},
			func(err error) bool {
				return errors.Is(err, model.ErrNoCreatedTime) && strings.Contains(err.Error(), "9f081a2")
			}},
		{"a bad constraint", "1.0.0", nil, model.ImageRules{Constraint: "~>banana"},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "~>banana") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := model.NewestImageTag(tt.pin, tt.tags, tt.rules)
			if ok || !tt.check(err) {
				t.Errorf("NewestImageTag(%s) = %q %v %v", tt.pin, got.Tag, ok, err)
			}
		})
	}
}

// For chartpress-built images (tagged with their chart's version) the
// choice agrees with the chart side's SelectNewest, a separate
// implementation on Masterminds/semver, over the real JupyterHub index.
func TestNewestImageTagAgreesWithSelectNewest(t *testing.T) {
	ix := fixtureIndex(t)
	for _, chart := range []string{"binderhub", "jupyterhub"} {
		vs := ix[chart]
		tags := make([]model.ImageTag, len(vs))
		for i, v := range vs {
			tags[i] = model.ImageTag{Tag: v.Version}
		}
		for _, prereleases := range []bool{false, true} {
			compared := 0
			for i, pin := range vs {
				if i%5 != 0 {
					continue // a fifth of the pins: each is compared with every tag
				}
				kind := model.ImageTagKind(pin.Version)
				if kind != model.TagRelease && kind != model.TagPrerelease {
					continue // chartpress's oldest versions (0.1.0-fd778a3): variants here, prereleases to semver
				}
				want, wantOK, err := model.SelectNewest(pin.Version, vs, model.SelectOptions{Prereleases: prereleases || kind == model.TagPrerelease})
				if err != nil {
					continue
				}
				got, ok, err := model.NewestImageTag(pin.Version, tags, model.ImageRules{Prereleases: prereleases})
				if err != nil || ok != wantOK || got.Tag != want.Version {
					t.Errorf("%s %s (prereleases %v): NewestImageTag = %q %v %v; SelectNewest = %q %v", chart, pin.Version, prereleases, got.Tag, ok, err, want.Version, wantOK)
				}
				compared++
			}
			if compared < 30 {
				t.Errorf("%s: only %d pins compared", chart, compared)
			}
		}
	}
}

func TestImageRulesAdmits(t *testing.T) {
	tests := []struct {
		rules model.ImageRules
		names []string
		want  bool
	}{
		{model.ImageRules{}, []string{"quay.io/jupyterhub/repo2docker"}, true},
		{model.ImageRules{Include: []string{"quay.io/jupyterhub/*"}}, []string{"quay.io/jupyterhub/repo2docker"}, true},
		{model.ImageRules{Include: []string{"quay.io/*"}}, []string{"quay.io/jupyterhub/repo2docker"}, false}, // * stops at /
		{model.ImageRules{Include: []string{"nginx"}}, []string{"index.docker.io/library/nginx", "nginx"}, true},
		{model.ImageRules{Exclude: []string{"*/library/*"}}, []string{"index.docker.io/library/nginx", "nginx"}, false},
		{model.ImageRules{Include: []string{"quay.io/jupyterhub/*"}, Exclude: []string{"*/*/repo2docker"}}, []string{"quay.io/jupyterhub/repo2docker"}, false},
		{model.ImageRules{Include: []string{"["}}, []string{"["}, false},
	}
	for _, tt := range tests {
		if got := tt.rules.Admits(tt.names...); got != tt.want {
			t.Errorf("%+v.Admits(%v) = %v, want %v", tt.rules, tt.names, got, tt.want)
		}
	}
	if err := (model.ImageRules{Exclude: []string{"a", "["}}).Check(); err == nil || !strings.Contains(err.Error(), `"["`) {
		t.Errorf("Check of a bad pattern = %v", err)
	}
	if err := (model.ImageRules{Constraint: "~>banana"}).Check(); err == nil {
		t.Error("Check of a bad constraint passed")
	}
	if err := (model.ImageRules{Include: []string{"quay.io/*/*"}, Constraint: ">=1"}).Check(); err != nil {
		t.Errorf("Check of good rules: %v", err)
	}
}

func TestImageTagsNeedCreated(t *testing.T) {
	if !model.ImageTagsNeedCreated("9f081a2") || model.ImageTagsNeedCreated("2021.08.0-136.g47ea95a") {
		t.Error("only hash pins need created times")
	}
	tests := []struct {
		pin, tag string
		want     bool
	}{
		{"9f081a2", "abcdef1", true},
		{"9f081a2", "abcdef12", false},
		{"9f081a2", "9f081a2", false}, // the pin itself
		{"9f081a2", "1.2.3", false},
		{"1.2.3", "1.2.4", true},
		{"1.2.3", "1.2.4-rc.1", false},
		{"main", "1.2.4", false},
	}
	for _, tt := range tests {
		if got := model.ImageTagComparable(tt.pin, tt.tag, model.ImageRules{}); got != tt.want {
			t.Errorf("ImageTagComparable(%s, %s) = %v", tt.pin, tt.tag, got)
		}
	}
}

func TestImageTagCommitAndCompare(t *testing.T) {
	commits := map[string]string{
		"2021.08.0-136.g47ea95a":          "47ea95a",
		"2025.12.1.dev6-gc8b2679fa":       "c8b2679fa",
		"9f081a2":                         "9f081a2",
		"1.0.0-0.dev.git.3983.h383374de":  "383374de",
		"4.0.0-beta.4.git.6831.habe06f4d": "abe06f4d",
		"1.2.3":                           "",
		"latest":                          "",
	}
	for tag, want := range commits {
		got, ok := model.ImageTagCommit(tag)
		if got != want || ok != (want != "") {
			t.Errorf("ImageTagCommit(%s) = %q %v, want %q", tag, got, ok, want)
		}
	}
	tests := []struct {
		source, from, to, want string
	}{
		{"https://github.com/jupyterhub/repo2docker", "47ea95a", "97bb4e45a", "https://github.com/jupyterhub/repo2docker/compare/47ea95a...97bb4e45a"},
		{"https://github.com/jupyterhub/repo2docker.git", "47ea95a", "97bb4e45a", "https://github.com/jupyterhub/repo2docker/compare/47ea95a...97bb4e45a"},
		{"https://gitlab.com/a/b", "47ea95a", "97bb4e45a", ""},
		{"https://github.com/a/b", "47ea95a", "47ea95a", ""},
		{"https://github.com/a/b", "47ea95a", "main", ""},
		{"https://github.com/a/b", "", "47ea95a", ""},
	}
	for _, tt := range tests {
		got, ok := model.ImageCompareURL(tt.source, tt.from, tt.to)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ImageCompareURL(%s, %s, %s) = %q, want %q", tt.source, tt.from, tt.to, got, tt.want)
		}
	}
}
