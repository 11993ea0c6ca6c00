package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// Registry kinds the demo runs behind (--demo-registry).
const (
	RegistryACR    = "acr"
	RegistryECR    = "ecr"
	RegistryGAR    = "gar"
	RegistryHarbor = "harbor"
)

// RegistryKinds are the kinds --demo-registry takes, the default first.
var RegistryKinds = []string{RegistryACR, RegistryECR, RegistryGAR, RegistryHarbor}

// WithRegistry puts the demo's registry behind the stand-in of kind (one
// of RegistryKinds; default RegistryACR).
func WithRegistry(kind string) Option { return func(o *options) { o.kind = kind } }

// demoLifecycle is the lifecycle policy the demo's ECR gives one
// repository: what ECR would expire on its own.
const demoLifecycle = `{"rules":[{"rulePriority":1,"description":"untagged","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`

// ecrDemo puts the demo's registry behind the ECR stand-in: push times
// from the seeded configs, a pull record on every third image (spread
// over the last 60 days, so that keep_pulled_within holds some), a
// lifecycle policy on the first repository, and the bot's own reads not
// counted as pulls (as a pull time update exclusion does).
func ecrDemo(ctx context.Context, env *Env, reg *registrytest.Registry, now time.Time) (*ecrtest.Server, error) {
	srv, err := ecrtest.New(ctx, reg, ecrtest.WithClock(func() time.Time { return now }))
	if err != nil {
		return nil, fmt.Errorf("demo: ECR stand-in: %w", err)
	}
	env.closers = append(env.closers, func() { _ = srv.Close() })
	srv.ExcludeFromPullTime(ecrtest.AccessKeyID)
	stamp(env.Seeded, now, srv.SetPushed, srv.SetPulled)
	if len(env.Seeded.Images) > 0 {
		srv.SetLifecyclePolicy(env.Seeded.Images[0].Repository, demoLifecycle)
	}
	return srv, nil
}

// stamp gives the seeded images (and their children) push times from
// their configs through push and, when pull is not nil, a pull record on
// every third image, spread over the last 60 days.
func stamp(seeded *registrytest.Seeded, now time.Time, push, pull func(repo, digest string, t time.Time)) {
	for k, im := range seeded.Images {
		pushed := pushTime(im, now)
		push(im.Repository, im.Digest, pushed)
		for _, c := range im.Children {
			push(im.Repository, c, pushed)
		}
		if pull != nil && k%3 == 0 {
			pull(im.Repository, im.Digest, now.Add(-time.Duration(k%60)*24*time.Hour-time.Hour))
		}
	}
}
