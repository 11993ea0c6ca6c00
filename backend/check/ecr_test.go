package check_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/check"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/gartest"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// TestECR: --check-config lists the ECR stand-in's repositories, asks
// BatchDeleteImage of the all-zero digest whether the credentials may
// delete, and shows IAM's policy simulator's answer beside it in the
// delete rights item: the real call decides the status, the simulator's
// disagreement and its being out of reach are details. Nothing leaves
// loopback.
func TestECR(t *testing.T) {
	ctx := context.Background()
	env := startDemo(t)
	cases := []struct {
		name   string
		setup  func(*ecrtest.Server)
		status check.Status
		detail []string
		fix    string
	}{
		{"allowed", nil, check.Pass, []string{
			"ImageNotFound",
			"the policy simulator, for " + ecrtest.CallerARN + " on arn:aws:ecr:us-east-1:123456789012:repository/",
			"ecr:BatchDeleteImage allowed", "ecr:GetAuthorizationToken on * allowed",
		}, ""},
		{"simulator denies, the real call wins", func(s *ecrtest.Server) {
			s.SetSimulation(ecrtest.CallerARN, "ecr:BatchDeleteImage", ecrtest.Eval{Decision: ecrtest.ExplicitDeny, PolicyID: "no-delete", PolicyType: "user"})
		}, check.Pass, []string{"ecr:BatchDeleteImage explicitDeny (no-delete, user)", "disagrees with the real call", "the real call wins"}, ""},
		{"real call denied, the simulator agrees", func(s *ecrtest.Server) { s.Deny("BatchDeleteImage") }, check.Fail,
			[]string{"AccessDeniedException", "ecr:BatchDeleteImage implicitDeny"}, "allow ecr:BatchDeleteImage"},
		{"simulator out of reach", func(s *ecrtest.Server) { s.Deny("SimulatePrincipalPolicy") }, check.Pass,
			[]string{"ImageNotFound", "the policy simulator was not asked: the identity may not call iam:SimulatePrincipalPolicy (optional)"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg, _ := registrytest.ServeSeeded(t, registrytest.Population{Repositories: 2, TagsPerRepository: 1, Seed: 4, Scale: 1})
			srv := ecrtest.Serve(t, reg)
			if tc.setup != nil {
				tc.setup(srv)
			}
			guard := gartest.NewGuard(nil)
			cfg := demoConfig(env)
			cfg.Registry.URL, cfg.Registry.Flavor = srv.Host(), config.FlavorECR
			cfg.Registry.Auth = config.Auth{Type: config.AuthAWS}
			r := check.Config(ctx, cfg, getenv(map[string]string{tokenVar: env.GitHub.Token()}), engine.WithAWSConfig(srv.AWSConfig()),
				engine.WithRegistryOptions(registry.WithECREndpoint(srv.URL()), registry.WithTransport(guard)))
			out := text(t, r)
			if it, _ := find(r, check.KindRegistry, srv.Host()); it.Status != check.Pass || !strings.Contains(it.Detail, "2 repositories on the first page of ECR's DescribeRepositories") {
				t.Errorf("registry item %+v\n%s", it, out)
			}
			del, ok := find(r, check.KindRegistry, "delete rights")
			if !ok || del.Status != tc.status || !strings.Contains(del.Fix, tc.fix) || (tc.fix == "") != (del.Fix == "") {
				t.Errorf("delete rights %v %+v\n%s", ok, del, out)
			}
			for _, d := range tc.detail {
				if !strings.Contains(del.Detail, d) || !strings.Contains(out, d) {
					t.Errorf("delete rights lack %q: %+v\n%s", d, del, out)
				}
			}
			if strings.Contains(out, ecrtest.SecretAccessKey) || strings.Contains(out, ecrtest.AccessKeyID) {
				t.Error("the checklist shows the AWS credentials")
			}
			if r := guard.Refused(); len(r) != 0 {
				t.Errorf("requests left loopback: %v", r)
			}
			asked := map[string]int{}
			for _, q := range srv.Requests() {
				asked[q.Target]++
			}
			if asked["GetCallerIdentity"] != 1 || asked["SimulatePrincipalPolicy"] == 0 {
				t.Errorf("STS and IAM asked %v", asked)
			}
		})
	}
}
