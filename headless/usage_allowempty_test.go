package headless

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
)

// TestAllowEmptyTrustsAnEmptyEventsFile: with allow_empty: true, an empty
// events file is read as "nobody launched anything there": no usage
// error, and the run plans as without it.
func TestAllowEmptyTrustsAnEmptyEventsFile(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := startDemo(t, demo.WithConfigure(func(c *config.Config) {
		c.Registry.Policy.Usage = append(c.Registry.Policy.Usage, config.UsageSource{Events: empty, AllowEmpty: true})
	}))
	_, rep, code := runJSON(t, env, false)
	u := rep.Registry.Usage
	if code != ExitOK || u == nil || len(u.Errors) != 0 || len(rep.Registry.Plan) == 0 || rep.Registry.Held["usage-unknown"] != 0 {
		t.Errorf("exit %d, usage %+v, planned %d", code, u, len(rep.Registry.Plan))
	}
}
