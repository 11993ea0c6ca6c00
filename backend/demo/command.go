package demo

import (
	"context"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
)

// ForCommand starts the demo as `helmupgradebot --demo` runs it: the engine
// with the command line's options and, with faults above 0
// (--demo-faults), a fault-injecting proxy failing that share of requests
// in front of every service, the registry behind the stand-in of
// registryKind (--demo-registry; "" ACR). It returns what the command runs on and stop,
// which takes the demo down.
//
// The command links it only in a build with the demo tag (the root
// package's demo_linked.go) and in its tests: the production binary leaves
// this package, and the embedded registry it brings, out.
func ForCommand(ctx context.Context, faults float64, registryKind string, engineOpts ...engine.Option) (reg *engine.Registry, charts *engine.Charts, store *history.Store, stop func(), err error) {
	opts := []Option{WithEngineOptions(engineOpts...), WithRegistry(registryKind)}
	if faults > 0 {
		opts = append(opts, WithFaults(faulttest.Options{Seed: 1, Rate: faults, Stall: 6 * time.Second}))
	}
	env, err := Start(ctx, opts...)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return env.Registry, env.Charts, env.History, env.Close, nil
}
