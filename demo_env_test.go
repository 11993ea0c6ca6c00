package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// demoEnvs are shells the demo must start in: each names a managed-identity
// endpoint (App Service, Service Fabric, Azure Arc, Cloud Shell, Azure ML)
// or a service principal that is not the demo's. The endpoints are
// loopback's discard port, where nothing answers.
var demoEnvs = []struct {
	name string
	env  map[string]string
}{
	{"App Service", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token", "IDENTITY_HEADER": "x"}},
	{"Service Fabric", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token", "IDENTITY_HEADER": "x", "IDENTITY_SERVER_THUMBPRINT": "00"}},
	{"Azure Arc", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token", "IMDS_ENDPOINT": "http://127.0.0.1:9"}},
	{"Cloud Shell", map[string]string{"MSI_ENDPOINT": "http://127.0.0.1:9/msi"}},
	{"Azure ML", map[string]string{"MSI_ENDPOINT": "http://127.0.0.1:9/msi", "MSI_SECRET": "x"}},
	{"service principal", map[string]string{"AZURE_CLIENT_ID": "junk", "AZURE_TENANT_ID": "junk", "AZURE_CLIENT_SECRET": "junk",
		"AZURE_AUTHORITY_HOST": "http://127.0.0.1:9", "AZURE_FEDERATED_TOKEN_FILE": "/nonexistent/token", "AZURE_CLIENT_CERTIFICATE_PATH": "/nonexistent/cert.pem"}},
	{"everything", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token", "IDENTITY_HEADER": "x", "IMDS_ENDPOINT": "http://127.0.0.1:9",
		"MSI_ENDPOINT": "http://127.0.0.1:9/msi", "AZURE_CLIENT_ID": "junk", "AZURE_TENANT_ID": "junk", "AZURE_CLIENT_SECRET": "junk",
		"AZURE_AUTHORITY_HOST": "http://127.0.0.1:9", "AZURE_FEDERATED_TOKEN_FILE": "/nonexistent/token"}},
}

// demoHeadless runs `--demo --headless --json` in-process with the process
// environment as it is, and decodes its report.
func demoHeadless(t *testing.T) (headless.Report, time.Duration) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	code := run(ctx, []string{"--demo", "--headless", "--json"}, &stdout, &stderr, func(string) string { return "" })
	d := time.Since(start)
	if code != headless.ExitOK {
		t.Fatalf("exit %d after %v\n%s", code, d, tail(stderr.String()))
	}
	var rep headless.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Registry == nil {
		t.Fatalf("report (%v): %s", err, tail(stdout.String()))
	}
	return rep, d
}

// TestDemoInAnyEnvironment: the headless demo signs in to its own ACR
// stand-in whatever Azure identity the shell names, and scans all of it,
// as it does in a shell that names none.
func TestDemoInAnyEnvironment(t *testing.T) {
	azuretest.HermeticEnv(t)
	want, _ := demoHeadless(t)
	if want.Registry.Images == 0 || len(want.Registry.Errors) > 0 {
		t.Fatalf("the demo in a clean environment: %d images, errors %+v", want.Registry.Images, want.Registry.Errors)
	}
	for _, tc := range demoEnvs {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			rep, d := demoHeadless(t)
			r := rep.Registry
			if len(r.Errors) > 0 || r.Images != want.Registry.Images || r.Repositories != want.Registry.Repositories || len(rep.Charts) != len(want.Charts) {
				t.Errorf("%d images in %d repositories, %d charts, errors %+v; want %d in %d, %d charts, no error",
					r.Images, r.Repositories, len(rep.Charts), r.Errors, want.Registry.Images, want.Registry.Repositories, len(want.Charts))
			}
			t.Logf("done in %v", d)
		})
	}
}

// tail is the end of a run's output, for failure messages.
func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// TestDemoOnECRHeadless: `--demo --demo-registry ecr --headless --json`
// scans through the ECR stand-in: the report says ecr, gives images'
// last pulls and ECR's sizes, and the lifecycle policy.
func TestDemoOnECRHeadless(t *testing.T) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	code := run(ctx, []string{"--demo", "--demo-registry", "ecr", "--headless", "--json"}, &stdout, &stderr, func(string) string { return "" })
	if code != headless.ExitOK {
		t.Fatalf("exit %d\n%s", code, tail(stderr.String()))
	}
	var rep headless.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Registry == nil {
		t.Fatalf("report (%v): %s", err, tail(stdout.String()))
	}
	r := rep.Registry
	if r.Flavor != "ecr" || r.Images == 0 || len(r.Errors) > 0 || len(r.RegistryRules) != 1 || r.Held["pulled"] == 0 {
		t.Fatalf("flavor %s, %d images, errors %v, rules %v, held %v", r.Flavor, r.Images, r.Errors, r.RegistryRules, r.Held)
	}
	for _, im := range r.Plan {
		if im.VendorSizeBytes <= 0 {
			t.Errorf("%s@%s: no vendor size", im.Repository, im.Digest)
		}
	}
}

// TestDemoOnGARAndHarborHeadless: `--demo --demo-registry gar|harbor
// --headless --json` scans the project's repositories through the
// stand-in and plans deletions in a dry run.
func TestDemoOnGARAndHarborHeadless(t *testing.T) {
	for _, kind := range []string{"gar", "harbor"} {
		t.Run(kind, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			code := run(ctx, []string{"--demo", "--demo-registry", kind, "--headless", "--json"}, &stdout, &stderr, func(string) string { return "" })
			if code != headless.ExitOK {
				t.Fatalf("exit %d\n%s", code, tail(stderr.String()))
			}
			var rep headless.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Registry == nil {
				t.Fatalf("report (%v): %s", err, tail(stdout.String()))
			}
			r := rep.Registry
			if r.Flavor != kind || r.Images == 0 || len(r.Errors) > 0 || len(r.Plan) == 0 {
				t.Fatalf("flavor %s, %d images, errors %v, %d planned, held %v", r.Flavor, r.Images, r.Errors, len(r.Plan), r.Held)
			}
			for _, im := range r.Plan {
				if !strings.HasPrefix(im.Repository, "proj/") {
					t.Errorf("%s is not under proj/", im.Repository)
				}
			}
		})
	}
}
