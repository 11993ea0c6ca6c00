package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/gartest"
	"github.com/helmupgradebot/helmupgradebot/backend/harbortest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// demoProject is the project the demo's repositories are under behind the
// GAR and Harbor stand-ins (registry.root for gar, registry.projects for
// harbor).
const demoProject = "proj"

// Environment variables the demo's engine reads its registry secrets
// from (its own getenv, never the process's).
const (
	garKeyEnv      = "HELMUPGRADEBOT_DEMO_GAR_KEY"
	harborPassEnv  = "HELMUPGRADEBOT_DEMO_HARBOR_PASSWORD"
	harborRobot    = "robot$" + demoProject + "+helmupgradebot"
	harborPassword = "demo-robot-secret"
)

// garDemo puts the demo's registry behind the Google Artifact Registry
// stand-in, with upload times from the seeded configs. The engine logs in
// with the stand-in's service-account key, whose token endpoint is the
// stand-in: never the metadata server.
func garDemo(ctx context.Context, env *Env, reg *registrytest.Registry, now time.Time) (*gartest.Server, error) {
	srv, err := gartest.New(ctx, reg)
	if err != nil {
		return nil, fmt.Errorf("demo: GAR stand-in: %w", err)
	}
	env.closers = append(env.closers, func() { _ = srv.Close() })
	stamp(env.Seeded, now, srv.SetUploaded, nil)
	return srv, nil
}

// harborDemo puts the demo's registry behind the Harbor stand-in: push
// times from the seeded configs, a pull on every third image (as ECR's),
// and a robot account that may delete, which the engine logs in as.
func harborDemo(ctx context.Context, env *Env, reg *registrytest.Registry, now time.Time) (*harbortest.Server, error) {
	srv, err := harbortest.New(ctx, reg, harbortest.WithClock(func() time.Time { return now }))
	if err != nil {
		return nil, fmt.Errorf("demo: Harbor stand-in: %w", err)
	}
	env.closers = append(env.closers, func() { _ = srv.Close() })
	srv.AddUser(harborRobot, harborPassword, true)
	srv.AddProject(demoProject)
	stamp(env.Seeded, now, srv.SetPushTime, srv.SetPullTime)
	return srv, nil
}

// unprefixed is repo without the demo's project (gar and harbor put every
// repository under it), for the demo's picks by name.
func unprefixed(repo string) string { return strings.TrimPrefix(repo, demoProject+"/") }
