package uitest

import (
	"context"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
)

// DemoNow fixes the demo's clock so its screens are reproducible.
var DemoNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// StartDemo runs the real embedded demo (registry, chart repository,
// GitHub stand-in) for one test.
func StartDemo(t testing.TB, opts ...demo.Option) *demo.Env {
	t.Helper()
	env, err := demo.Start(context.Background(), append([]demo.Option{demo.WithNow(DemoNow)}, opts...)...)
	if err != nil {
		t.Fatalf("start demo: %v", err)
	}
	t.Cleanup(env.Close)
	return env
}
