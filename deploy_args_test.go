package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Every helmupgradebot command line in deploy/ (crontab, the systemd
// service, the Kubernetes CronJobs, the image's default arguments) is one
// this program's flags accept, as a headless run that applies.
func TestDeployCommandLines(t *testing.T) {
	lines := map[string][]string{} // where: arguments

	crontab, err := os.ReadFile(filepath.Join("deploy", "crontab"))
	if err != nil {
		t.Fatal(err)
	}
	for n, line := range strings.Split(string(crontab), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var args []string
		for _, a := range f[6:] { // after the schedule and the binary
			if strings.ContainsAny(a[:1], "<>|&;") || strings.HasPrefix(a, "2>") {
				break // the shell's redirections
			}
			args = append(args, a)
		}
		lines[fmt.Sprintf("crontab line %d", n+1)] = args
	}

	unit, err := os.ReadFile(filepath.Join("deploy", "systemd", "helmupgradebot@.service"))
	if err != nil {
		t.Fatal(err)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=\S+ (.*)$`).FindSubmatch(unit)
	if execStart == nil {
		t.Fatal("helmupgradebot@.service: no ExecStart")
	}
	for _, chore := range []string{"charts", "registry"} {
		lines["helmupgradebot@"+chore+".service"] = strings.Fields(strings.ReplaceAll(string(execStart[1]), "%i", chore))
	}

	cronjobs, err := os.ReadFile(filepath.Join("deploy", "kubernetes", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(cronjobs), -1) {
		var cj struct {
			Metadata struct{ Name string }
			Spec     struct {
				JobTemplate struct {
					Spec struct {
						Template struct {
							Spec struct{ Containers []struct{ Args []string } }
						}
					}
				} `json:"jobTemplate"`
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &cj); err != nil {
			t.Fatal(err)
		}
		for _, c := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers {
			lines["CronJob "+cj.Metadata.Name] = c.Args
		}
	}
	if len(lines) != 6 {
		t.Errorf("found %d command lines in deploy/, want 6 (2 crontab, 2 systemd, 2 CronJobs): %v", len(lines), lines)
	}
	for where, args := range lines {
		f, err := parseFlags(args, &bytes.Buffer{})
		if err != nil {
			t.Errorf("%s: %q: %v", where, args, err)
			continue
		}
		if !f.headless || !f.apply || f.only == "" || f.config == "" || f.logFormat != "json" {
			t.Errorf("%s: %q: want a headless run that applies one chore of a given configuration, logging JSON", where, args)
		}
	}

	// The image's default arguments parse too.
	docker, err := os.ReadFile(filepath.Join("deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindSubmatch(docker)
	var args []string
	if cmd == nil || yaml.Unmarshal(cmd[1], &args) != nil {
		t.Fatal("Dockerfile: no CMD in exec form")
	}
	if _, err := parseFlags(args, &bytes.Buffer{}); err != nil {
		t.Errorf("Dockerfile CMD %q: %v", args, err)
	}
}
