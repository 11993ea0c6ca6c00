package chartrepo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// HelmConfigMediaType is the config media type of a Helm chart stored in an
// OCI registry.
const HelmConfigMediaType = "application/vnd.cncf.helm.config.v1+json"

// maxConfigSize bounds a chart's OCI config blob (its Chart.yaml as JSON).
const maxConfigSize = 4 << 20

// DefaultCacheDir returns $XDG_CACHE_HOME/helmupgradebot/charts, or the
// platform's equivalent.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory: %w", err)
	}
	return filepath.Join(dir, "helmupgradebot", "charts"), nil
}

// ociRepository turns an oci:// chart repository and a chart name into a
// registry repository. Plain HTTP is allowed for loopback hosts only.
func ociRepository(repository, chart string) (name.Repository, error) {
	rest, opts, err := ociPath(repository)
	if err != nil {
		return name.Repository{}, fmt.Errorf("chart %s: %w", chart, err)
	}
	repo, err := name.NewRepository(rest+"/"+chart, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("chart %s: OCI repository %s: %w", chart, redactRaw(repository), err)
	}
	return repo, nil
}

// ociPath is an oci:// repository's HOST/PATH, and the name options its
// host takes (plain HTTP for a loopback host).
func ociPath(repository string) (string, []name.Option, error) {
	rest := strings.TrimRight(repository[len("oci://"):], "/")
	host, _, _ := strings.Cut(rest, "/")
	if host == "" || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return "", nil, fmt.Errorf("OCI repository %s has no registry host (want oci://HOST/PATH)", redactRaw(repository))
	}
	var opts []name.Option
	if loopback.Host(host) {
		opts = append(opts, name.Insecure)
	}
	return rest, opts, nil
}

// remoteOptions are the options of a request to the OCI repository.
func (c *Client) remoteOptions(ctx context.Context, repository string) []remote.Option {
	opts := make([]remote.Option, 0, len(c.remoteOpts)+8)
	opts = append(opts, c.remoteOpts...)
	opts = append(opts, c.ociAuth(repository)...)
	return append(opts,
		remote.WithTransport(loopback.RequireTLS(c.transport)),
		remote.WithUserAgent(c.userAgent),
		remote.WithContext(ctx),
		// go-containerregistry's retries off: the retry transport retries.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	)
}

func (c *Client) ociVersions(ctx context.Context, repository, chart string) ([]model.ChartVersion, error) {
	repo, err := ociRepository(repository, chart)
	if err != nil {
		return nil, err
	}
	tags, err := c.tags.get(repo.String(), func() ([]string, error) {
		return remote.List(repo, c.remoteOptions(ctx, repository)...)
	})
	if err != nil {
		return nil, fmt.Errorf("list tags of chart %s in oci://%s: %w%s", chart, repo, err, c.authHint(repository, err))
	}
	vs := make([]model.ChartVersion, len(tags))
	for i, tag := range tags {
		// Helm stores a version's "+" as "_" in a tag.
		vs[i] = model.ChartVersion{Version: strings.ReplaceAll(tag, "_", "+")}
	}
	return vs, nil
}

// helmConfig is the part of a chart's OCI config (its Chart.yaml as JSON)
// that a pull request shows.
type helmConfig struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	AppVersion string   `json:"appVersion"`
	Home       string   `json:"home"`
	Sources    []string `json:"sources"`
}

func (c *Client) ociDescribe(ctx context.Context, repository, chart, version string) (model.ChartVersion, error) {
	repo, err := ociRepository(repository, chart)
	if err != nil {
		return model.ChartVersion{}, err
	}
	ref := repo.Tag(strings.ReplaceAll(version, "+", "_"))
	fail := func(err error) (model.ChartVersion, error) {
		return model.ChartVersion{}, fmt.Errorf("describe chart oci://%s: %w%s", ref, err, c.authHint(repository, err))
	}
	opts := c.remoteOptions(ctx, repository)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return fail(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return fail(fmt.Errorf("manifest %s: %w", desc.Digest, err))
	}
	if m.Config.MediaType != HelmConfigMediaType {
		return fail(fmt.Errorf("not a Helm chart: config media type is %q, want %q", m.Config.MediaType, HelmConfigMediaType))
	}
	cv := model.ChartVersion{Version: version, Digest: desc.Digest.String()}
	if t, err := time.Parse(time.RFC3339Nano, m.Annotations["org.opencontainers.image.created"]); err == nil {
		cv.Created = t
	}
	cv.Home = m.Annotations["org.opencontainers.image.url"]
	if s := m.Annotations["org.opencontainers.image.source"]; s != "" {
		cv.Sources = []string{s}
	}
	if m.Config.Size > maxConfigSize {
		return fail(fmt.Errorf("config blob is %d bytes, more than %d", m.Config.Size, maxConfigSize))
	}
	layer, err := remote.Layer(repo.Digest(m.Config.Digest.String()), opts...)
	if err != nil {
		return fail(fmt.Errorf("config blob %s: %w", m.Config.Digest, err))
	}
	rc, err := layer.Compressed()
	if err != nil {
		return fail(fmt.Errorf("config blob %s: %w", m.Config.Digest, err))
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigSize))
	if err != nil {
		return fail(fmt.Errorf("config blob %s: %w", m.Config.Digest, err))
	}
	var cfg helmConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fail(fmt.Errorf("config blob %s is not Helm chart metadata: %w", m.Config.Digest, err))
	}
	cv.AppVersion = cfg.AppVersion
	if cfg.Home != "" {
		cv.Home = cfg.Home
	}
	if len(cfg.Sources) > 0 {
		cv.Sources = cfg.Sources
	}
	return cv, nil
}
