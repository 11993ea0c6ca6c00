package config

import (
	"slices"
	"testing"
)

const imagesHead = "github:\n  token: env:T\ncharts:\n  - repository: a/b\n    file: hub/Chart.yaml\n"

func TestValuesAndImages(t *testing.T) {
	c, err := Parse([]byte(imagesHead + `    values: [hub/values.yaml, config/prod.yaml]
    images:
      include: ["quay.io/jupyterhub/*"]
      exclude: ["quay.io/*/k8s-hub"]
      prereleases: true
      constraint: ">=2023"
`))
	if err != nil {
		t.Fatal(err)
	}
	ch := c.Charts[0]
	if !slices.Equal(ch.Values, []string{"hub/values.yaml", "config/prod.yaml"}) {
		t.Errorf("values = %v", ch.Values)
	}
	r := ch.Images.Model()
	if !slices.Equal(r.Include, []string{"quay.io/jupyterhub/*"}) || !slices.Equal(r.Exclude, []string{"quay.io/*/k8s-hub"}) || !r.Prereleases || r.Constraint != ">=2023" {
		t.Errorf("images = %+v", r)
	}
	if !r.Admits("quay.io/jupyterhub/repo2docker") || r.Admits("quay.io/jupyterhub/k8s-hub") || r.Admits("docker.io/library/nginx") {
		t.Errorf("rules admit the wrong images: %+v", r)
	}
}
