package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
)

// chartContentMediaType is the media type of a Helm chart's packaged
// content in an OCI registry.
const chartContentMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// ociChart is a chart published to an OCI registry, as `helm push` does:
// a manifest whose config is the chart's metadata as JSON.
type ociChart struct {
	name, home, source, appVersion string
	versions                       []indexVersion
}

// rawManifest is a manifest pushed as given.
type rawManifest struct {
	mt   types.MediaType
	body []byte
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// pushOCIChart publishes every version of c under host/helm/<name>.
func pushOCIChart(ctx context.Context, host string, c ociChart) error {
	repo, err := name.NewRepository(host+"/helm/"+c.name, name.Insecure)
	if err != nil {
		return fmt.Errorf("demo: chart repository: %w", err)
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	for _, v := range c.versions {
		cfg, err := json.Marshal(map[string]any{
			"apiVersion": "v2", "name": c.name, "version": v.version, "appVersion": c.appVersion,
			"home": c.home, "sources": []string{c.source}, "description": "The " + c.name + " chart (demo)",
		})
		if err != nil {
			return err
		}
		content := []byte(fmt.Sprintf("%s-%s.tgz (demo)", c.name, v.version))
		var descs []v1.Descriptor
		for _, blob := range []struct {
			data []byte
			mt   types.MediaType
		}{{cfg, chartrepo.HelmConfigMediaType}, {content, chartContentMediaType}} {
			l := static.NewLayer(blob.data, blob.mt)
			if err := remote.WriteLayer(repo, l, opts...); err != nil {
				return fmt.Errorf("demo: push chart %s %s: %w", c.name, v.version, err)
			}
			d, _ := l.Digest()
			descs = append(descs, v1.Descriptor{MediaType: blob.mt, Size: int64(len(blob.data)), Digest: d})
		}
		m := v1.Manifest{
			SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: descs[0], Layers: descs[1:],
			Annotations: map[string]string{
				"org.opencontainers.image.created":     v.created.UTC().Format(time.RFC3339),
				"org.opencontainers.image.title":       c.name,
				"org.opencontainers.image.version":     v.version,
				"org.opencontainers.image.description": "The " + c.name + " chart (demo)",
			},
		}
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		tag := repo.Tag(strings.ReplaceAll(v.version, "+", "_"))
		if err := remote.Put(tag, rawManifest{mt: types.OCIManifestSchema1, body: body}, opts...); err != nil {
			return fmt.Errorf("demo: push chart %s: %w", tag, err)
		}
	}
	return nil
}

// demoOCIChart is traefik as mybinder.org pins it: from an OCI registry.
func demoOCIChart(now time.Time) ociChart {
	day := 24 * time.Hour
	var vs []indexVersion
	for i, v := range []string{"33.2.1", "34.0.0", "34.1.0", "35.0.0"} {
		vs = append(vs, indexVersion{version: v, created: now.Add(-time.Duration(4-i) * 21 * day)})
	}
	return ociChart{name: "traefik", home: "https://traefik.io/", source: "https://github.com/traefik/traefik-helm-chart", appVersion: "v3.3.2", versions: vs}
}
