package charts

import (
	"slices"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// Image rows (an image a values file pins) sit beside the chart rows: the
// DEPENDENCY column says "image" and the image's short name, FILE is the
// values file, CURRENT and NEWEST are tags, and the details under the
// table give the image in full, its YAML path and file:line.

// shortImage is an image's name without its registry's host or
// organisation (repo2docker for quay.io/jupyterhub/repo2docker, nginx):
// the details under the table give it in full.
func shortImage(image string) string {
	name := model.ImageDisplayName(image)
	return name[strings.LastIndexByte(name, '/')+1:]
}

// depCell is a row's DEPENDENCY column: the dependency, or "image" and
// the image's short name (the word first, so that a narrow column keeps
// it); a values file that could not be read is "images".
func depCell(r model.DependencyStatus) string {
	switch {
	case !r.IsImage():
		return r.Dependency
	case r.Path == "":
		return "images"
	}
	return "image " + shortImage(r.Image)
}

// rowName is how messages call a row: the dependency, "image NAME at
// PATH", or "the images of FILE".
func rowName(r model.DependencyStatus) string {
	switch {
	case !r.IsImage():
		return r.Dependency
	case r.Path == "":
		return "the images of " + r.File
	}
	return "image " + shortImage(r.Image) + " at " + r.Path
}

// kinds counts the chart and image rows.
func kinds(rows []model.DependencyStatus) (charts, images int) {
	for _, r := range rows {
		if r.IsImage() {
			images++
		} else {
			charts++
		}
	}
	return charts, images
}

// rowsCount says what rows are: "4 chart dependencies", or with images
// "4 charts and 1 image".
func rowsCount(rows []model.DependencyStatus) string {
	charts, images := kinds(rows)
	if images == 0 {
		return common.Count(charts, "chart dependency")
	}
	return common.Count(charts, "chart") + " and " + common.Count(images, "image")
}

// entryFiles names the files of row's charts entry among rows, for a
// message: "hub/Chart.yaml", "hub/Chart.yaml and hub/values.yaml".
func entryFiles(rows []model.DependencyStatus, row model.DependencyStatus) string {
	var files []string
	for _, r := range rows {
		if r.Repository == row.Repository && r.EntryFile() == row.EntryFile() && !slices.Contains(files, r.File) {
			files = append(files, r.File)
		}
	}
	return strings.Join(files, " and ")
}

// changed lists the files a proposal changes.
func changed(p engine.Proposal) []string {
	if len(p.Files) > 0 {
		return p.Files
	}
	return []string{p.File}
}
