package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The crontab: its schedules, checked field by field.

// cronLines reads crontab: the schedule of each chore, after checking every
// line's schedule and command.
func cronLines(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("crontab")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 6 {
			t.Errorf("crontab:%d: want five schedule fields and a command: %q", n, line)
			continue
		}
		sched := strings.Join(fields[:5], " ")
		if err := checkCronSchedule(sched); err != "" {
			t.Errorf("crontab:%d: %s", n, err)
		}
		cmd := fields[5:]
		if !filepath.IsAbs(cmd[0]) || filepath.Base(cmd[0]) != "helmupgradebot" {
			t.Errorf("crontab:%d: command %q: want helmupgradebot by its full path (cron's PATH is short)", n, cmd[0])
		}
		if strings.Contains(line, "%") {
			t.Errorf("crontab:%d: an unescaped %% ends a cron command", n)
		}
		if !slices.Contains(cmd, "--headless") || !slices.Contains(cmd, "--apply") {
			t.Errorf("crontab:%d: want --headless --apply", n)
		}
		out[flagValue(cmd, "--only")] = sched
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCrontab(t *testing.T) {
	lines := cronLines(t)
	if !regexp.MustCompile(`^\d+ \d+ \* \* \*$`).MatchString(lines["charts"]) {
		t.Errorf("charts: schedule %q, want daily", lines["charts"])
	}
	if !regexp.MustCompile(`^\d+ \d+ \d+ \* \*$`).MatchString(lines["registry"]) {
		t.Errorf("registry: schedule %q, want monthly", lines["registry"])
	}
}

// checkCronSchedule checks five cron fields (numbers, *, ranges, lists and
// steps within each field's bounds); it returns what is wrong, or "".
func checkCronSchedule(s string) string {
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return "want 5 fields"
	}
	bounds := [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	for i, f := range fields {
		for _, part := range strings.Split(f, ",") {
			base, step, hasStep := strings.Cut(part, "/")
			if hasStep {
				if n, err := strconv.Atoi(step); err != nil || n < 1 {
					return "bad step in " + f
				}
			}
			if base == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(base, "-")
			if !isRange {
				hi = lo
			}
			a, errA := strconv.Atoi(lo)
			b, errB := strconv.Atoi(hi)
			if errA != nil || errB != nil || a > b || a < bounds[i][0] || b > bounds[i][1] {
				return "field " + strconv.Itoa(i+1) + " " + f + " is out of bounds or not a number"
			}
		}
	}
	return ""
}
