package model_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

func TestPullRequestText(t *testing.T) {
	binderhub := model.Bump{
		Dependency:      "binderhub",
		ChartRepository: "https://jupyterhub.github.io/helm-chart",
		From:            "1.0.0-0.dev.git.3497.hf25ee22",
		To: model.ChartVersion{
			Version:    "1.0.0-0.dev.git.3506.hba24eb2a",
			Created:    time.Date(2024, 8, 8, 18, 5, 34, 0, time.UTC),
			Home:       "https://binderhub.readthedocs.io/en/latest/",
			Sources:    []string{"https://github.com/jupyterhub/binderhub"},
			AppVersion: "1.1",
		},
		FromVersion: &model.ChartVersion{Version: "1.0.0-0.dev.git.3497.hf25ee22", AppVersion: "1.0"},
	}
	jupyterhub := model.Bump{
		Dependency:      "jupyterhub",
		ChartRepository: "https://jupyterhub.github.io/helm-chart",
		From:            "3.3.7",
		To: model.ChartVersion{
			Version:    "3.3.8",
			Created:    time.Date(2024, 8, 7, 23, 30, 0, 0, time.FixedZone("x", -3*3600)),
			Home:       "https://z2jh.jupyter.org",
			Sources:    []string{"https://github.com/jupyterhub/zero-to-jupyterhub-k8s"},
			AppVersion: "4.1.6",
		},
	}
	traefik := model.Bump{
		Dependency:      "traefik",
		ChartRepository: "oci://ghcr.io/traefik/helm",
		From:            "41.1.1",
		To:              model.ChartVersion{Version: "41.2.0"},
	}
	tests := []struct {
		name      string
		file      string
		bumps     []model.Bump
		wantTitle string
		want      []string // substrings of the body
		notWant   []string
	}{
		{
			name:      "single chartpress bump with compare link",
			file:      "mybinder/Chart.yaml",
			bumps:     []model.Bump{binderhub},
			wantTitle: "Bump binderhub from 1.0.0-0.dev.git.3497.hf25ee22 to 1.0.0-0.dev.git.3506.hba24eb2a",
			want: []string{
				"| Dependency | From | To | Chart repository | Released |",
				"| binderhub | `1.0.0-0.dev.git.3497.hf25ee22` | `1.0.0-0.dev.git.3506.hba24eb2a` | https://jupyterhub.github.io/helm-chart | 2024-08-08 |",
				"- Home: https://binderhub.readthedocs.io/en/latest/\n",
				"- Sources: https://github.com/jupyterhub/binderhub\n",
				"- appVersion: `1.0` → `1.1`\n",
				"- Changes: https://github.com/jupyterhub/binderhub/compare/f25ee22...ba24eb2a\n",
				"made by helmupgradebot",
				"`mybinder/Chart.yaml`",
			},
		},
		{
			name:      "grouped bumps",
			file:      "mybinder/Chart.yaml",
			bumps:     []model.Bump{binderhub, jupyterhub, traefik},
			wantTitle: "Bump binderhub to 1.0.0-0.dev.git.3506.hba24eb2a, jupyterhub to 3.3.8, traefik to 41.2.0 in mybinder/Chart.yaml",
			want: []string{
				"| jupyterhub | `3.3.7` | `3.3.8` | https://jupyterhub.github.io/helm-chart | 2024-08-08 |", // created converted to UTC
				"| traefik | `41.1.1` | `41.2.0` | oci://ghcr.io/traefik/helm | unknown |",
				"### binderhub\n",
				"### jupyterhub\n",
				"- appVersion: `4.1.6`\n",
				"compare/f25ee22...ba24eb2a",
			},
			notWant: []string{
				"### traefik", // nothing known beyond the table
				"zero-to-jupyterhub-k8s/compare",
			},
		},
		{
			name: "compare link needs a GitHub source",
			file: "Chart.yaml",
			bumps: []model.Bump{{
				Dependency: "binderhub", From: "1.0.0-0.dev.git.1.h1111111",
				To: model.ChartVersion{Version: "1.0.0-0.dev.git.2.h2222222", Sources: []string{"https://gitlab.com/a/b"}},
			}},
			wantTitle: "Bump binderhub from 1.0.0-0.dev.git.1.h1111111 to 1.0.0-0.dev.git.2.h2222222",
			want:      []string{"- Sources: https://gitlab.com/a/b\n"},
			notWant:   []string{"compare", "Home:"},
		},
		{
			name: "compare link from a folder of a GitHub repository and the old version's sources",
			file: "Chart.yaml",
			bumps: []model.Bump{{
				Dependency: "cryptnono", From: "0.3.2-0.dev.git.267.h766bf8f",
				To:          model.ChartVersion{Version: "0.3.2-0.dev.git.270.h0abcdef"},
				FromVersion: &model.ChartVersion{Sources: []string{"https://github.com/cryptnono/cryptnono.git/tree/main/helm"}},
			}},
			wantTitle: "Bump cryptnono from 0.3.2-0.dev.git.267.h766bf8f to 0.3.2-0.dev.git.270.h0abcdef",
			want:      []string{"- Changes: https://github.com/cryptnono/cryptnono/compare/766bf8f...0abcdef\n"},
		},
		{
			name: "unchanged appVersion and hostile strings",
			file: "Chart.yaml",
			bumps: []model.Bump{{
				Dependency: "a|b", ChartRepository: "https://x.example/|charts", From: "1.0.0",
				To: model.ChartVersion{
					Version: "1.0.1", AppVersion: "2`0", Home: "javascript:alert(1)",
					Sources: []string{"https://ok.example/src", "https://bad.example/x)(y"},
				},
				FromVersion: &model.ChartVersion{AppVersion: "2`0"},
			}},
			wantTitle: "Bump a|b from 1.0.0 to 1.0.1",
			want: []string{
				`| a\|b | ` + "`1.0.0`",
				`https://x.example/\|charts`,
				"- appVersion: `2'0` (unchanged)\n",
				"- Sources: https://ok.example/src\n",
			},
			notWant: []string{"javascript:", "bad.example"},
		},
		{
			name: "range rewritten",
			file: "Chart.yaml",
			bumps: []model.Bump{{
				Dependency: "cert-manager", From: ">=1.2.3 <2", To: model.ChartVersion{Version: "v2.1.0"}, ToPin: ">=2.1.0 <3",
			}},
			wantTitle: "Bump cert-manager from >=1.2.3 <2 to >=2.1.0 <3",
			want: []string{
				"| cert-manager | `>=1.2.3 <2` | `>=2.1.0 <3` |",
				"- Range: `>=1.2.3 <2` → `>=2.1.0 <3`, which now admits `v2.1.0`",
			},
		},
		{
			name: "range widened with ||",
			file: "Chart.yaml",
			bumps: []model.Bump{{
				Dependency: "redis", From: "^1.0.0", To: model.ChartVersion{Version: "2.0.0"}, ToPin: "^1.0.0 || ^2.0.0",
			}},
			wantTitle: "Bump redis from ^1.0.0 to ^1.0.0 || ^2.0.0",
			want:      []string{"| redis | `^1.0.0` | `^1.0.0 \\|\\| ^2.0.0` |", "- Range: `^1.0.0` → `^1.0.0 || ^2.0.0`, which now admits `2.0.0`"},
		},
		{
			name:      "a v pin keeps its v; the repository's spelling does not matter",
			file:      "Chart.yaml",
			bumps:     []model.Bump{{Dependency: "cert-manager", From: "v1.7.1", To: model.ChartVersion{Version: "1.8.0"}}},
			wantTitle: "Bump cert-manager from v1.7.1 to v1.8.0",
			want:      []string{"| cert-manager | `v1.7.1` | `v1.8.0` |"},
			notWant:   []string{"Range:"},
		},
		{
			name:      "a bare pin drops the repository's v",
			file:      "Chart.yaml",
			bumps:     []model.Bump{{Dependency: "cert-manager", From: "1.7.1", To: model.ChartVersion{Version: "v1.8.0"}}},
			wantTitle: "Bump cert-manager from 1.7.1 to 1.8.0",
			want:      []string{"| cert-manager | `1.7.1` | `1.8.0` |"},
		},
		{
			name: "one image, its source and compare range", file: "hub/values.yaml", bumps: []model.Bump{r2dBump},
			wantTitle: "Bump quay.io/jupyterhub/repo2docker from 2021.08.0-136.g47ea95a to 2024.07.0-184.g5e9e3d0",
			want: []string{
				"This pull request bumps an image tag in `hub/values.yaml`.\n",
				"| Image | File | Path | From | To | Released |",
				"| quay.io/jupyterhub/repo2docker | `hub/values.yaml` | `binderhub.config.BinderHub.build_image` | `2021.08.0-136.g47ea95a` | `2024.07.0-184.g5e9e3d0` | 2024-07-30 |",
				"### quay.io/jupyterhub/repo2docker at `binderhub.config.BinderHub.build_image`\n",
				"- Source: https://github.com/jupyterhub/repo2docker\n",
				"- Changes: https://github.com/jupyterhub/repo2docker/compare/47ea95a...5e9e3d0\n",
				`<!-- helmupgradebot-bumps: {"hub/values.yaml:binderhub.config.BinderHub.build_image":"2024.07.0-184.g5e9e3d0"} -->`,
			},
			notWant: []string{"| Dependency |", "chart dependenc"},
		},
		{
			name: "an image without source: no links; the tag as listed, v or not", file: "hub/other.yaml", bumps: []model.Bump{nginxBump},
			wantTitle: "Bump nginx from v1.25 to 1.27",
			want:      []string{"| nginx | `hub/other.yaml` | `proxy.image` | `v1.25` | `1.27` | unknown |"},
			notWant:   []string{"### nginx", "Source:", "v1.27"},
		},
		{
			name: "a chart and images of one entry, grouped", file: "hub/Chart.yaml", bumps: []model.Bump{entryChartBump, r2dBump, nginxBump},
			wantTitle: "Bump binderhub to 1.1.0, quay.io/jupyterhub/repo2docker to 2024.07.0-184.g5e9e3d0, nginx to 1.27 in hub/Chart.yaml, hub/values.yaml, hub/other.yaml",
			want: []string{
				"This pull request bumps a chart dependency in `hub/Chart.yaml` and image tags in `hub/values.yaml` and `hub/other.yaml`.\n",
				"| binderhub | `1.0.0` | `1.1.0` |",
				"|\n\n| Image | File | Path |",
				"| nginx | `hub/other.yaml` |",
				`"binderhub":"1.1.0"`, `"hub/other.yaml:proxy.image":"1.27"`,
			},
		},
		{
			name:      "no bumps",
			file:      "Chart.yaml",
			wantTitle: "Bump chart dependencies in Chart.yaml",
			want:      []string{"helmupgradebot"},
			notWant:   []string{"| Dependency"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, body := model.PullRequestText(tt.file, tt.bumps)
			if title != tt.wantTitle {
				t.Errorf("title = %q, want %q", title, tt.wantTitle)
			}
			checkText(t, body, tt.want, tt.notWant)
			// Every table row has its header's column count.
			header := 0
			for _, line := range strings.Split(body, "\n") {
				if !strings.HasPrefix(line, "|") {
					header = 0
					continue
				}
				cols := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") - 1
				if header == 0 {
					header = cols
				}
				if cols != header {
					t.Errorf("table row has %d columns, its header %d: %q", cols, header, line)
				}
			}
		})
	}
}

func TestBumpCompareURL(t *testing.T) {
	gh := []string{"https://github.com/jupyterhub/binderhub"}
	tests := []struct {
		name     string
		from, to string
		sources  []string
		want     string
	}{
		{"both chartpress", "1.0.0-0.dev.git.3497.hf25ee22", "1.0.0-0.dev.git.3506.hba24eb2a", gh,
			"https://github.com/jupyterhub/binderhub/compare/f25ee22...ba24eb2a"},
		{"tag-prerelease form", "4.0.0-beta.3.git.6800.h1234567", "4.0.0-beta.4.git.6831.habe06f4d",
			[]string{"https://github.com/jupyterhub/zero-to-jupyterhub-k8s/"},
			"https://github.com/jupyterhub/zero-to-jupyterhub-k8s/compare/1234567...abe06f4d"},
		{"old is a release", "3.3.7", "4.0.0-beta.4.git.6831.habe06f4d", gh, ""},
		{"new is a release", "1.0.0-0.dev.git.3497.hf25ee22", "1.0.0", gh, ""},
		{"same hash", "1.0.0-0.dev.git.1.hf25ee22", "1.0.0-0.dev.git.1.hf25ee22+b", gh, ""},
		{"owner only", "1.0.0-0.dev.git.1.h1111111", "1.0.0-0.dev.git.2.h2222222", []string{"https://github.com/jupyterhub"}, ""},
		{"not github", "1.0.0-0.dev.git.1.h1111111", "1.0.0-0.dev.git.2.h2222222", []string{"https://github.com.evil.example/a/b"}, ""},
		{"no sources", "1.0.0-0.dev.git.1.h1111111", "1.0.0-0.dev.git.2.h2222222", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := model.Bump{Dependency: "x", From: tt.from, To: model.ChartVersion{Version: tt.to, Sources: tt.sources}}
			got, ok := b.CompareURL()
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("CompareURL() = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func ExamplePullRequestText() {
	title, body := model.PullRequestText("mybinder/Chart.yaml", []model.Bump{{
		Dependency:      "binderhub",
		ChartRepository: "https://jupyterhub.github.io/helm-chart",
		From:            "1.0.0-0.dev.git.3497.hf25ee22",
		To: model.ChartVersion{
			Version: "1.0.0-0.dev.git.3506.hba24eb2a",
			Created: time.Date(2024, 8, 8, 18, 5, 34, 0, time.UTC),
			Home:    "https://binderhub.readthedocs.io/en/latest/",
			Sources: []string{"https://github.com/jupyterhub/binderhub"},
		},
	}})
	fmt.Println(title)
	fmt.Print(body)
	// Output:
	// Bump binderhub from 1.0.0-0.dev.git.3497.hf25ee22 to 1.0.0-0.dev.git.3506.hba24eb2a
	// This pull request bumps a chart dependency in `mybinder/Chart.yaml`.
	//
	// | Dependency | From | To | Chart repository | Released |
	// | --- | --- | --- | --- | --- |
	// | binderhub | `1.0.0-0.dev.git.3497.hf25ee22` | `1.0.0-0.dev.git.3506.hba24eb2a` | https://jupyterhub.github.io/helm-chart | 2024-08-08 |
	//
	// ### binderhub
	//
	// - Home: https://binderhub.readthedocs.io/en/latest/
	// - Sources: https://github.com/jupyterhub/binderhub
	// - Changes: https://github.com/jupyterhub/binderhub/compare/f25ee22...ba24eb2a
	//
	// ---
	// _This pull request was made by helmupgradebot._
	//
	// <!-- helmupgradebot-bumps: {"binderhub":"1.0.0-0.dev.git.3506.hba24eb2a"} -->
}

func TestDeclines(t *testing.T) {
	a := model.Bump{Dependency: "a", From: "1.0.0", To: model.ChartVersion{Version: "1.1.0"}}
	b := model.Bump{Dependency: "b-staging", From: "2.0.0", To: model.ChartVersion{Version: "2.1.0"}}
	title, body := model.PullRequestText("Chart.yaml", []model.Bump{a, b})
	if v, ok := model.ProposedVersions(body); !ok || v["a"] != "1.1.0" || v["b-staging"] != "2.1.0" || len(v) != 2 {
		t.Fatalf("ProposedVersions = %v, %v", v, ok)
	}
	newer := b
	newer.To.Version = "2.2.0"
	tests := []struct {
		name          string
		prTitle, body string
		bumps         []model.Bump
		want          bool
	}{
		{"the same bumps", title, body, []model.Bump{a, b}, true},
		{"one of them, alone", "other title", body, []model.Bump{a}, true},
		{"a newer version", title, body, []model.Bump{a, newer}, false},
		{"a dependency it did not bump", title, body, []model.Bump{{Dependency: "c", To: model.ChartVersion{Version: "1.1.0"}}}, false},
		{"no marker, same title", title, "hand-written", []model.Bump{a, b}, true},
		{"no marker, other title", "Bump a", "hand-written", []model.Bump{a}, false},
		{"broken marker", "x", "<!-- helmupgradebot-bumps: {nope -->", []model.Bump{a}, false},
	}
	for _, tt := range tests {
		if got := model.Declines(tt.prTitle, tt.body, title, tt.bumps); got != tt.want {
			t.Errorf("%s: Declines = %v, want %v", tt.name, got, tt.want)
		}
	}
	// The marker holds what the chart file gets: a rewritten range, or the
	// version in the pin's spelling.
	ranged := model.Bump{Dependency: "r", From: "~1.7.0", To: model.ChartVersion{Version: "1.8.0"}, ToPin: "~1.8.0"}
	spelled := model.Bump{Dependency: "v", From: "v1.0.0", To: model.ChartVersion{Version: "1.1.0"}}
	rtitle, rbody := model.PullRequestText("Chart.yaml", []model.Bump{ranged, spelled})
	if v, ok := model.ProposedVersions(rbody); !ok || v["r"] != "~1.8.0" || v["v"] != "v1.1.0" {
		t.Errorf("marker of a range and a v pin: %v, %v", v, ok)
	}
	wider := ranged
	wider.ToPin = "~1.7.0 || ~1.8.0"
	if !model.Declines(rtitle, rbody, rtitle, []model.Bump{ranged, spelled}) || model.Declines(rtitle, rbody, "", []model.Bump{wider}) {
		t.Error("a closed PR for ~1.8.0 must decline ~1.8.0 and nothing else")
	}
	// A hostile dependency name cannot end the marker early.
	_, body = model.PullRequestText("Chart.yaml", []model.Bump{{Dependency: "x-->", To: model.ChartVersion{Version: "1.0.0"}}})
	if v, ok := model.ProposedVersions(body); !ok || v["x-->"] != "1.0.0" {
		t.Errorf("marker with a hostile name: %v, %v\n%s", v, ok, body)
	}
	// Notes come before the footer.
	_, body = model.PullRequestText("Chart.yaml", []model.Bump{a}, "**Chart.lock must be regenerated.**")
	if i, j := strings.Index(body, "Chart.lock must"), strings.Index(body, "made by helmupgradebot"); i < 0 || i > j {
		t.Errorf("note misplaced:\n%s", body)
	}
}
