package model

import (
	"fmt"
	"slices"
	"strings"
)

// What a pull request says of the image tags it bumps in values files,
// beside (or instead of) chart dependencies.

// ImageDisplayName is an image's name as people write it: Docker Hub's
// images without index.docker.io (nginx, bitnami/redis), others in full
// (quay.io/jupyterhub/repo2docker).
func ImageDisplayName(image string) string {
	for _, p := range []string{"index.docker.io/library/", "docker.io/library/", "index.docker.io/", "docker.io/"} {
		if rest, ok := strings.CutPrefix(image, p); ok && rest != "" {
			return rest
		}
	}
	return image
}

// name is how titles call the bump: the dependency, or the image.
func (b Bump) name() string {
	if b.Kind == KindImage && b.Image != "" {
		return ImageDisplayName(b.Image)
	}
	return b.Dependency
}

// markerKey is the bump's key in the body's marker: the dependency's
// name, or for an image its file and YAML path (a values file's path
// cannot be taken for a chart's name).
func (b Bump) markerKey() string {
	if b.Kind == KindImage {
		return b.File + ":" + b.Dependency
	}
	return b.Dependency
}

// released is the day To was published, or "unknown".
func (b Bump) released() string {
	if b.To.Created.IsZero() {
		return "unknown"
	}
	return b.To.Created.UTC().Format("2006-01-02")
}

func splitBumps(bumps []Bump) (charts, images []Bump) {
	for _, b := range bumps {
		if b.Kind == KindImage {
			images = append(images, b)
		} else {
			charts = append(charts, b)
		}
	}
	return charts, images
}

// bumpFiles lists the files bumps edit, in order, each once; a bump
// without a File edits file.
func bumpFiles(file string, bumps []Bump) []string {
	var out []string
	for _, b := range bumps {
		f := b.File
		if f == "" {
			f = file
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// bumpsIntro says what a pull request with image bumps changes: "an
// image tag in `hub/values.yaml`", "chart dependencies in
// `hub/Chart.yaml` and image tags in `hub/values.yaml`".
func bumpsIntro(file string, charts, images []Bump) string {
	var parts []string
	if len(charts) > 0 {
		what := "a chart dependency"
		if len(charts) > 1 {
			what = "chart dependencies"
		}
		parts = append(parts, what+" in "+codeList(bumpFiles(file, charts)))
	}
	what := "an image tag"
	if len(images) > 1 {
		what = "image tags"
	}
	return strings.Join(append(parts, what+" in "+codeList(bumpFiles(file, images))), " and ")
}

// codeList writes names as code spans joined by commas and "and".
func codeList(names []string) string {
	spans := make([]string, len(names))
	for i, n := range names {
		spans[i] = "`" + codeSpan(n) + "`"
	}
	if len(spans) < 2 {
		return strings.Join(spans, "")
	}
	return strings.Join(spans[:len(spans)-1], ", ") + " and " + spans[len(spans)-1]
}

// imageTable writes the table of image bumps; gap separates it from a
// chart table before it.
func imageTable(sb *strings.Builder, file string, images []Bump, gap bool) {
	if len(images) == 0 {
		return
	}
	if gap {
		sb.WriteString("\n")
	}
	sb.WriteString("| Image | File | Path | From | To | Released |\n")
	sb.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, b := range images {
		f := b.File
		if f == "" {
			f = file
		}
		fmt.Fprintf(sb, "| %s | `%s` | `%s` | `%s` | `%s` | %s |\n",
			cell(ImageDisplayName(b.Image)), cell(codeSpan(f)), cell(codeSpan(b.Path)),
			cell(codeSpan(b.From)), cell(codeSpan(b.Pin())), b.released())
	}
}

// imageHeading heads an image bump's links.
func imageHeading(b Bump) string {
	return fmt.Sprintf("%s at `%s`", oneLine(ImageDisplayName(b.Image)), codeSpan(b.Path))
}

// imageDetailLines are the links of an image bump: the source repository
// the image names (org.opencontainers.image.source), and the compare
// range of the commits its two tags were built from.
func imageDetailLines(b Bump) []string {
	var lines []string
	for _, s := range b.To.Sources {
		if u, ok := webURL(s); ok {
			lines = append(lines, "Source: "+u)
			break
		}
	}
	if u, ok := webURL(b.Compare); ok {
		lines = append(lines, "Changes: "+u)
	}
	return lines
}
