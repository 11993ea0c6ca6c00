package headless

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestSkippedEntry: a chart file entry without a name is a skipped row in
// the summary and the JSON report, with its warning; it is no error (the
// exit code stays 0) and the file's other dependencies are still reported.
func TestSkippedEntry(t *testing.T) {
	env := startDemo(t)
	chart := appendFile(t, env, demo.File, "  - version: 1.0.0\n    repository: "+env.ChartRepository+"\n")
	line := strings.Count(chart, "\n") - 1
	var out bytes.Buffer
	if code := Run(context.Background(), Options{Charts: env.Charts, Stdout: &out}); code != ExitOK {
		t.Errorf("exit %d, want %d: a skipped entry is no error", code, ExitOK)
	}
	want := fmt.Sprintf("skipped      %s/%s %s: (no name, line %d): chart file line %d: dependency 5: has no name; skipped, as helm skips it",
		demo.Owner, demo.Repo, demo.File, line, line)
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "outdated") {
		t.Errorf("summary lacks %q:\n%s", want, out.String())
	}
	_, rep, _ := runJSON(t, env, false)
	var skipped, others int
	for _, c := range rep.Charts {
		switch {
		case c.Status == string(model.StateSkipped) && strings.Contains(c.Warning, "has no name") && c.Error == "":
			skipped++
		case c.Status != string(model.StateError):
			others++
		}
	}
	if skipped != 1 || others != 5 { // four charts and the image
		t.Errorf("%d skipped rows and %d others, want 1 and 5: %+v", skipped, others, rep.Charts)
	}
}
