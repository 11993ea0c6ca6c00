package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/imagetags"
)

// ValuesFile is the deployment's values file, whose repo2docker image the
// demo follows as henchbot did for mybinder.org.
const ValuesFile = "hub/values.yaml"

// Repo2docker is the demo's repo2docker image, under the chart registry's
// host: its tags as quay.io/jupyterhub/repo2docker has them, releases and
// git-describe builds between them.
const Repo2docker = "jupyterhub/repo2docker"

// repo2dockerTags are the demo's repo2docker tags and when each was built.
var repo2dockerTags = []struct {
	tag   string
	built time.Time
}{
	{"2021.08.0-136.g47ea95a", time.Date(2021, 11, 3, 10, 12, 0, 0, time.UTC)},
	{"2022.02.0", time.Date(2022, 2, 7, 15, 40, 0, 0, time.UTC)},
	{"2022.10.0-101.g8ed6d2a", time.Date(2023, 3, 21, 8, 5, 0, 0, time.UTC)},
	{"2023.06.0", time.Date(2023, 6, 13, 12, 0, 0, 0, time.UTC)},
	{"2024.07.0-184.g5e9e3d0", time.Date(2025, 1, 14, 17, 30, 0, 0, time.UTC)},
}

// Repo2dockerPinned is the tag the demo's values file pins, and
// Repo2dockerNewest the newest of its shape.
const (
	Repo2dockerPinned = "2021.08.0-136.g47ea95a"
	Repo2dockerNewest = "2024.07.0-184.g5e9e3d0"
)

// pushRepo2docker pushes a small image per repo2docker tag to the
// registry at host, each labelled with repo2docker's source repository.
func pushRepo2docker(ctx context.Context, host string) error {
	for _, t := range repo2dockerTags {
		if err := pushImage(ctx, host, Repo2docker, t.tag, t.built); err != nil {
			return err
		}
	}
	return nil
}

// PushImage pushes a small image as repo:tag to the registry of the demo's
// images (ImageRegistry), built at built and labelled with repo2docker's
// source repository: a test's new tag.
func (e *Env) PushImage(ctx context.Context, repo, tag string, built time.Time) error {
	return pushImage(ctx, e.imageHost, repo, tag, built)
}

func pushImage(ctx context.Context, host, repo, tag string, built time.Time) error {
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return fmt.Errorf("demo: image %s:%s: %w", repo, tag, err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Created: v1.Time{Time: built}, OS: "linux", Architecture: "amd64",
		Config: v1.Config{Labels: map[string]string{
			imagetags.LabelSource:              "https://github.com/jupyterhub/repo2docker",
			"org.opencontainers.image.version": tag,
		}},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return fmt.Errorf("demo: image %s: %w", ref, err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("demo: push %s: %w", ref, err)
	}
	return nil
}

// deploymentValues is the deployment's values file: repo2docker pinned to
// an old git-describe build on the registry at host, an image chartpress
// sets (a placeholder: no row), quotes and comments as real ones have.
func deploymentValues(host string) string {
	return `# The hub's values
binderhub:
  config:
    BinderHub:
      use_registry: true
      # henchbot kept this current for mybinder.org
      build_image: ` + host + "/" + Repo2docker + ":" + Repo2dockerPinned + ` # the image BinderHub builds with
  image:
    name: ` + host + `/jupyterhub/k8s-binderhub
    tag: "set-by-chartpress"
jupyterhub:
  hub:
    config:
      BinderSpawner:
        cors_allow_origin: "*"
`
}
