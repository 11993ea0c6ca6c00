package config

import (
	"strings"
	"testing"
	"time"
)

// TestFlavorAndAuth: ACR hosts default to the acr flavor with azure auth;
// a password keeps the distribution API; contradictions are errors.
func TestFlavorAndAuth(t *testing.T) {
	tests := []struct {
		name, yaml     string
		flavor, auth   string
		wantErr, where string
	}{
		{"acr host", "registry:\n  url: hub.azurecr.io\n", FlavorACR, AuthAzure, "", ""},
		{"acr host in China", "registry:\n  url: Hub.AzureCR.cn\n", FlavorACR, AuthAzure, "", ""},
		{"acr host with a password", "registry:\n  url: hub.azurecr.io\n  auth: {type: basic, username: u, password: env:P}\n", FlavorDistribution, AuthBasic, "", ""},
		{"other host", "registry:\n  url: registry.example.org\n", FlavorDistribution, AuthAnonymous, "", ""},
		{"loopback stand-in as acr", "registry:\n  url: 127.0.0.1:5000\n  flavor: acr\n", FlavorACR, AuthAzure, "", ""},
		{"acr with basic", "registry:\n  url: hub.azurecr.io\n  flavor: acr\n  auth: {type: basic, username: u, password: env:P}\n", "", "", "needs registry.auth.type: azure", "line 3"},
		{"azure on distribution", "registry:\n  url: r.example.org\n  flavor: distribution\n  auth: {type: azure}\n", "", "", "Azure Container Registry only", "registry.auth.type"},
		{"unknown flavor", "registry:\n  url: r.example.org\n  flavor: quay\n", "", "", `"quay" is not one of acr, ecr, distribution, gar, harbor`, "line 3"},
		{"ecr host", "registry:\n  url: 123456789012.dkr.ecr.eu-west-1.amazonaws.com\n", FlavorECR, AuthAWS, "", ""},
		{"ecr host in China", "registry:\n  url: 123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn\n", FlavorECR, AuthAWS, "", ""},
		{"ecr host with docker login", "registry:\n  url: 123456789012.dkr.ecr.eu-west-1.amazonaws.com\n  auth: {type: docker}\n", FlavorDistribution, AuthDocker, "", ""},
		{"loopback stand-in as ecr", "registry:\n  url: 127.0.0.1:5000\n  flavor: ecr\n", FlavorECR, AuthAWS, "", ""},
		{"ecr built ages", "registry:\n  url: 123456789012.dkr.ecr.eu-west-1.amazonaws.com\n  age_from: built\n", FlavorECR, AuthAWS, "", ""},
		{"ecr with basic", "registry:\n  url: 127.0.0.1:5000\n  flavor: ecr\n  auth: {type: basic, username: u, password: env:P}\n", "", "", "needs registry.auth.type: aws", "line 3"},
		{"aws on distribution", "registry:\n  url: r.example.org\n  auth: {type: aws}\n", "", "", "Amazon ECR only", "registry.auth.type"},
		{"not an ecr account", "registry:\n  url: 12345.dkr.ecr.eu-west-1.amazonaws.com\n", FlavorDistribution, AuthAnonymous, "", ""},
		{"gcr.io host", "registry:\n  url: gcr.io\n  root: my-project\n", FlavorGAR, AuthGoogle, "", ""},
		{"artifact registry host", "registry:\n  url: us-docker.pkg.dev\n  root: my-project/binder\n", FlavorGAR, AuthGoogle, "", ""},
		{"loopback stand-in as gar", "registry:\n  url: 127.0.0.1:5000\n  flavor: gar\n  root: proj\n", FlavorGAR, AuthGoogle, "", ""},
		{"gar with a _json_key password", "registry:\n  url: gcr.io\n  flavor: gar\n  root: p\n  auth: {type: basic, username: _json_key, password: file:/k.json}\n", FlavorGAR, AuthBasic, "", ""},
		{"gcr.io with a password stays distribution", "registry:\n  url: gcr.io\n  auth: {type: basic, username: _json_key, password: file:/k.json}\n", FlavorDistribution, AuthBasic, "", ""},
		{"gar without root", "registry:\n  url: gcr.io\n", "", "", "gar needs registry.root", "registry.flavor"},
		{"root without gar", "registry:\n  url: r.example.org\n  root: p\n", "", "", "root is for flavor gar only", "line 3"},
		{"root with a slash", "registry:\n  url: gcr.io\n  root: /p\n", "", "", "not a repository path", "line 3"},
		{"gar with azure", "registry:\n  url: gcr.io\n  root: p\n  flavor: gar\n  auth: {type: azure}\n", "", "", "gar logs in with Google credentials", "line 4"},
		{"google on distribution", "registry:\n  url: r.example.org\n  flavor: distribution\n  auth: {type: google}\n", "", "", "Google's registries only", "registry.auth.type"},
		{"harbor with a robot account", "registry:\n  url: x.container-registry.ovh.net\n  flavor: harbor\n  projects: [binder]\n  auth: {type: basic, username: robot$binder+cleaner, password: env:P}\n", FlavorHarbor, AuthBasic, "", ""},
		{"harbor anonymous", "registry:\n  url: harbor.example.org\n  flavor: harbor\n", FlavorHarbor, AuthAnonymous, "", ""},
		{"harbor with azure", "registry:\n  url: harbor.example.org\n  flavor: harbor\n  auth: {type: azure}\n", "", "", "Azure Container Registry only", "registry.auth.type"},
		{"projects without harbor", "registry:\n  url: r.example.org\n  projects: [binder]\n", "", "", "set registry.flavor: harbor", "registry.projects"},
		{"bad project name", "registry:\n  url: r.example.org\n  flavor: harbor\n  projects: [a/b]\n", "", "", `"a/b" is not a Harbor project name`, "registry.projects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.where) {
					t.Fatalf("err = %v, want %q at %q", err, tt.wantErr, tt.where)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Registry.Flavor != tt.flavor || c.Registry.Auth.Type != tt.auth {
				t.Errorf("flavor %q auth %q, want %q %q", c.Registry.Flavor, c.Registry.Auth.Type, tt.flavor, tt.auth)
			}
		})
	}
}

func TestUntaggedMaxAge(t *testing.T) {
	c, err := Parse([]byte("registry:\n  url: hub.azurecr.io\n  policy:\n    untagged_max_age: 7d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Registry.Policy.ModelPolicy().UntaggedMaxAge; got != 7*24*time.Hour {
		t.Errorf("untagged_max_age = %v", got)
	}
	if _, err := Parse([]byte("registry:\n  url: hub.azurecr.io\n  policy:\n    untagged_max_age: 20000w\n")); err == nil || !strings.Contains(err.Error(), "untagged_max_age") {
		t.Errorf("a wrapped-around age is accepted: %v", err)
	}
}

// TestKeepPulledWithin: the window reaches the model's policy on ECR, and
// is refused on a flavor that records no pulls.
func TestKeepPulledWithin(t *testing.T) {
	tests := []struct {
		name, url string
		want      time.Duration
		wantErr   string
	}{
		{"ecr", "123456789012.dkr.ecr.us-east-1.amazonaws.com", 30 * 24 * time.Hour, ""},
		{"harbor", "harbor.example.org\n  flavor: harbor", 30 * 24 * time.Hour, ""},
		{"acr", "hub.azurecr.io", 0, "acr flavor does not record pulls"},
		{"distribution", "r.example.org", 0, "distribution flavor does not record pulls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte("registry:\n  url: " + tt.url + "\n  policy:\n    keep_pulled_within: 30d\n"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "keep_pulled_within") {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Registry.Policy.ModelPolicy().KeepPulledWithin; got != tt.want {
				t.Errorf("keep_pulled_within = %v, want %v", got, tt.want)
			}
		})
	}
}
