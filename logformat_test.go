package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/headless"
)

// --log-format json: every stderr line of a run is one JSON object with
// slog's time, level and msg; the report on stdout is unchanged.
func TestLogFormatJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--demo", "--headless", "--json", "--log-format", "json"}, &stdout, &stderr, func(string) string { return "" })
	if code != headless.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("want log lines on stderr, got %q", stderr.String())
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON (%v): %q", err, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line lacks %q: %q", k, line)
			}
		}
	}
	var rep headless.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Errorf("stdout is not the report: %v", err)
	}
}

// Text is the default.
func TestLogFormatText(t *testing.T) {
	for _, args := range [][]string{nil, {"--log-format", "text"}} {
		if f, err := parseFlags(args, &bytes.Buffer{}); err != nil || f.logFormat != "text" {
			t.Errorf("%v: log format %q, %v; want text", args, f.logFormat, err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--demo", "--headless"}, &stdout, &stderr, func(string) string { return "" }); code != headless.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") {
			t.Errorf("not a text log line: %q", line)
		}
	}
}

func TestLogFormatBadValue(t *testing.T) {
	for _, v := range []string{"xml", "JSON", ""} {
		var out bytes.Buffer
		code := run(context.Background(), []string{"--headless", "--log-format", v}, &out, &out, func(string) string { return "" })
		if code != headless.ExitUsage {
			t.Errorf("--log-format %q: exit %d, want %d", v, code, headless.ExitUsage)
		}
		if !strings.Contains(out.String(), "--log-format") || !strings.Contains(out.String(), "text or json") {
			t.Errorf("--log-format %q: message %q does not name the flag and its values", v, out.String())
		}
	}
}
