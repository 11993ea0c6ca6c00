package deploy

import (
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// The Helm chart on AKS with workload identity and on EKS with IRSA.

// AKS: workload identity (the ServiceAccount's client ID, the pods' label),
// secrets in Key Vault (a GitHub App's key), and a usage source that reads
// the hub's pods.
func TestHelmChartAKSWorkloadIdentity(t *testing.T) {
	const clientID = "0d2ffb1c-5c2a-4f5e-9a53-3bd0ab2c11aa"
	const tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	out := mustRender(t, "hub23", "binderhub", `
workloadIdentity:
  azure:
    clientId: `+clientID+`
    tenantId: `+tenantID+`
persistence:
  storageClassName: managed-csi
secretEnv:
  GITHUB_TOKEN: null
config:
  registry:
    url: hub23registry.azurecr.io
    auth:
      type: azure
    policy:
      max_age: 60d
      cap: null
      aggressive: null
      keep_launched_within: 30d
      usage:
        - events: https://archive.analytics.mybinder.org/events-{date}.jsonl
        - kubernetes: {}
        - kubernetes:
            namespace: binderhub-staging
  github:
    token: null
    app_id: 1234567
    installation_id: 87654321
    private_key: keyvault://hub23-vault/helmupgradebot-app-key
  charts:
    - repository: alan-turing-institute/hub23-deploy
      file: hub23-chart/Chart.yaml
      labels: [dependencies, automerge]
`)
	want := defaultWant("hub23-helmupgradebot")
	want.saAnnotations = map[string]string{
		"azure.workload.identity/client-id": clientID,
		"azure.workload.identity/tenant-id": tenantID,
	}
	want.azureLabel = true
	want.config = `
registry:
  url: hub23registry.azurecr.io
  auth:
    type: azure
  policy:
    max_age: 60d
    protect: ["^jupyterhub/"]
    keep_launched_within: 30d
    usage:
      - events: https://archive.analytics.mybinder.org/events-{date}.jsonl
      - kubernetes: {}
      - kubernetes:
          namespace: binderhub-staging
github:
  app_id: 1234567
  installation_id: 87654321
  private_key: keyvault://hub23-vault/helmupgradebot-app-key
charts:
  - repository: alan-turing-institute/hub23-deploy
    file: hub23-chart/Chart.yaml
    labels: [dependencies, automerge]
`
	want.secretEnv = map[string]string{}
	want.podReaderIn = []string{"binderhub", "binderhub-staging"}
	want.storageClass = ptr("managed-csi")
	want.checkConfigText = func(t *testing.T, c *config.Config) {
		// Key Vault references pass through as written; the App's IDs
		// stay whole numbers.
		if c.GitHub.PrivateKey != "keyvault://hub23-vault/helmupgradebot-app-key" || c.GitHub.Token != "" {
			t.Errorf("github: private_key %q, token %q", c.GitHub.PrivateKey, c.GitHub.Token)
		}
		if c.GitHub.AppID != 1234567 || c.GitHub.InstallationID != 87654321 {
			t.Errorf("github: app_id %d, installation_id %d", c.GitHub.AppID, c.GitHub.InstallationID)
		}
		if c.Registry.Auth.Type != config.AuthAzure {
			t.Errorf("registry auth %q, want azure", c.Registry.Auth.Type)
		}
	}
	checkChart(t, out, want)
}

// EKS: IAM roles for service accounts, an existing claim, other schedules
// in another time zone, the configuration file as given, a token from
// another Secret, registry credentials from a dockerconfigjson Secret, and
// dry runs.
func TestHelmChartEKSIRSA(t *testing.T) {
	const roleARN = "arn:aws:iam::123456789012:role/helmupgradebot"
	configFile := `# written by helmupgradebot init
registry:
  url: 123456789012.dkr.ecr.us-east-1.amazonaws.com
  auth:
    type: docker   # $DOCKER_CONFIG/config.json
  policy:
    max_age: 30d
    keep_latest: 2
    max_delete_fraction: 0.25
github:
  token: env:HELMUPGRADEBOT_GITHUB_TOKEN
  # A GitHub App instead (the key's variable is not set: this line is a
  # comment):
  # private_key: env:HELMUPGRADEBOT_APP_KEY
charts:
  - repository: example-org/hub-deploy
    file: deploy/chart/Chart.yaml
`
	values, err := yaml.Marshal(map[string]any{
		"workloadIdentity":        map[string]any{"aws": map[string]any{"roleArn": roleARN}},
		"persistence":             map[string]any{"existingClaim": "bot-state-on-efs"},
		"timeZone":                "America/New_York",
		"ttlSecondsAfterFinished": 1000000,
		"apply":                   false,
		"configFile":              configFile,
		"dockerConfigSecret":      "ecr-pull-push",
		"secretEnv": map[string]any{
			"GITHUB_TOKEN":                nil,
			"HELMUPGRADEBOT_GITHUB_TOKEN": map[string]any{"secretName": "bot-github", "key": "token"},
		},
		"chores": map[string]any{
			"charts": map[string]any{"schedule": "0 */6 * * *"},
			"registry": map[string]any{
				"schedule":  "45 2 * * 0",
				"resources": map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "512Mi"}, "limits": map[string]any{"memory": "2Gi"}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := mustRender(t, "bot", "tools", string(values))
	want := defaultWant("bot-helmupgradebot")
	want.schedules = map[string]string{"charts": "0 */6 * * *", "registry": "45 2 * * 0"}
	want.timeZone = "America/New_York"
	want.apply = false
	want.saAnnotations = map[string]string{"eks.amazonaws.com/role-arn": roleARN}
	want.claim, want.makesClaim = "bot-state-on-efs", false
	want.config, want.configVerbatim = configFile, true
	want.secretEnv = map[string]string{"HELMUPGRADEBOT_GITHUB_TOKEN": "bot-github/token"}
	want.dockerConfig = "ecr-pull-push"
	want.memoryLimits["registry"] = "2Gi"
	checkChart(t, out, want)
	if ttl := out.cronJobs["registry"].Spec.JobTemplate.Spec.TTLSecondsAfterFinished; ttl == nil || *ttl != 1000000 {
		t.Errorf("ttlSecondsAfterFinished %v, want 1000000", ttl)
	}
}

func ptr[T any](v T) *T { return &v }
