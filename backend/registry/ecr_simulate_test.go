package registry

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// TestPolicySource: the caller's ARN becomes the principal the simulator
// weighs: a user's as it is, an assumed role's session its (path-less)
// role's; the root, a federated user and the rest are said why not.
func TestPolicySource(t *testing.T) {
	cases := []struct {
		caller, want string
		fromSession  bool
		why          string
	}{
		{"arn:aws:iam::123456789012:user/ci", "arn:aws:iam::123456789012:user/ci", false, ""},
		{"arn:aws:iam::123456789012:user/team/ci", "arn:aws:iam::123456789012:user/team/ci", false, ""},
		{"arn:aws:sts::123456789012:assumed-role/helmupgradebot/i-0abc", "arn:aws:iam::123456789012:role/helmupgradebot", true, ""},
		{"arn:aws-cn:sts::123456789012:assumed-role/bot/botocore-session-1", "arn:aws-cn:iam::123456789012:role/bot", true, ""},
		{"arn:aws-us-gov:sts::123456789012:assumed-role/bot/s", "arn:aws-us-gov:iam::123456789012:role/bot", true, ""},
		{"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/jane@example.com", "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123", true, ""},
		{"arn:aws:sts::123456789012:federated-user/jane", "", false, "federated user"},
		{"arn:aws:iam::123456789012:root", "", false, "root user"},
		{"arn:aws:sts::123456789012:assumed-role/bot", "", false, "not assumed-role/ROLE/SESSION"},
		{"arn:aws:iam::123456789012:role/bot", "", false, "neither an IAM user nor an assumed role"},
		{"arn:aws:iam::123456789012:user/", "", false, "neither"},
		{"not-an-arn", "", false, "does not parse"},
	}
	for _, tc := range cases {
		t.Run(tc.caller, func(t *testing.T) {
			got, fromSession, why := policySource(tc.caller)
			if got != tc.want || fromSession != tc.fromSession || !strings.Contains(why, tc.why) || (tc.want != "") != (why == "") {
				t.Errorf("got %q %v %q, want %q %v %q", got, fromSession, why, tc.want, tc.fromSession, tc.why)
			}
		})
	}
}

// TestECRProbeSimulation: the probe asks STS who the credentials are and
// IAM's policy simulator what they may do on the first repository, and
// says it in DeleteDetail beside the real BatchDeleteImage's answer, which
// alone decides Delete; every failure of the simulation is a clause of the
// detail, never an error.
func TestECRProbeSimulation(t *testing.T) {
	const (
		acct     = ecrtest.RegistryID
		repoARN  = "arn:aws:ecr:" + ecrtest.Region + ":" + acct + ":repository/app"
		session  = "arn:aws:sts::" + acct + ":assumed-role/bot/s1"
		role     = "arn:aws:iam::" + acct + ":role/bot"
		pathRole = "arn:aws:iam::" + acct + ":role/team/bot"
		denyAll  = `{"Version":"2012-10-17","Statement":[{"Sid":"nodelete","Effect":"Deny","Principal":"*","Action":["ecr:BatchDeleteImage"]}]}`
	)
	allowed := ecrtest.Eval{Decision: ecrtest.Allowed, PolicyID: "bot-ecr", PolicyType: "role"}
	cases := []struct {
		name       string
		setup      func(*ecrtest.Server)
		wantDelete string
		want       []string
		notWant    []string
		simCalls   int // SimulatePrincipalPolicy requests
	}{
		{"allowed", nil, DeleteGranted, []string{
			"ImageNotFound",
			"the policy simulator, for " + ecrtest.CallerARN + " on " + repoARN + " without a repository policy: ecr:BatchDeleteImage allowed (ecrtest-ecr, user-managed), ecr:DescribeRepositories allowed",
			"ecr:GetLifecyclePolicy allowed, ecr:GetAuthorizationToken on * allowed",
		}, []string{"disagrees", "refused", "not answered", "session"}, 2},
		{"simulator denies, real call granted", func(s *ecrtest.Server) {
			s.SetSimulation(ecrtest.CallerARN, "ecr:BatchDeleteImage", ecrtest.Eval{Decision: ecrtest.ExplicitDeny, PolicyID: "no-delete", PolicyType: "user"})
		}, DeleteGranted, []string{
			"ecr:BatchDeleteImage explicitDeny (no-delete, user)",
			"the simulator's explicitDeny of ecr:BatchDeleteImage disagrees with the real call, which was let through: the real call wins",
		}, nil, 2},
		{"simulator's implicit deny, real call granted", func(s *ecrtest.Server) {
			s.SetSimulation(ecrtest.CallerARN, "ecr:BatchDeleteImage", ecrtest.Eval{Decision: ecrtest.ImplicitDeny})
		}, DeleteGranted, []string{"ecr:BatchDeleteImage implicitDeny, ", "the simulator's implicitDeny of ecr:BatchDeleteImage disagrees"}, nil, 2},
		{"repository policy denies in the simulation", func(s *ecrtest.Server) { s.SetRepositoryPolicy("app", denyAll) }, DeleteGranted, []string{
			"has a Deny naming ecr:BatchDeleteImage",
			"on " + repoARN + " with its repository policy: ecr:BatchDeleteImage explicitDeny (ResourcePolicy, resource)",
			"disagrees with the real call",
		}, nil, 2},
		{"simulator allows, real call denied", func(s *ecrtest.Server) {
			s.Deny("BatchDeleteImage")
			s.SetSimulation(ecrtest.CallerARN, "ecr:BatchDeleteImage", ecrtest.Eval{Decision: ecrtest.Allowed, PolicyID: "AmazonEC2ContainerRegistryFullAccess", PolicyType: "aws-managed"})
		}, DeleteDenied, []string{
			"AccessDeniedException",
			"ecr:BatchDeleteImage allowed (AmazonEC2ContainerRegistryFullAccess, aws-managed)",
			"the simulator allows ecr:BatchDeleteImage but the real call was refused: the real call wins",
		}, []string{"disagrees"}, 2},
		{"both deny", func(s *ecrtest.Server) { s.Deny("BatchDeleteImage") }, DeleteDenied,
			[]string{"AccessDeniedException", "ecr:BatchDeleteImage implicitDeny, ecr:DescribeRepositories allowed"}, []string{"disagrees", "refused"}, 2},
		{"simulator not permitted", func(s *ecrtest.Server) { s.Deny("SimulatePrincipalPolicy") }, DeleteGranted, []string{
			"ImageNotFound: the credentials may call it; the policy simulator was not asked: the identity may not call iam:SimulatePrincipalPolicy (optional)",
		}, []string{"AccessDenied "}, 1},
		{"assumed role", func(s *ecrtest.Server) {
			s.SetCaller(session)
			s.SetSimulation(role, "ecr:BatchDeleteImage", allowed)
			s.SetSimulation(role, "ecr:DescribeImages", ecrtest.Eval{Decision: ecrtest.ExplicitDeny, PolicyID: "no-describe", PolicyType: "role"})
		}, DeleteGranted, []string{"for " + role + " (the session's role) on " + repoARN + " without a repository policy: ecr:BatchDeleteImage allowed (bot-ecr, role), ecr:DescribeRepositories allowed, ecr:DescribeImages explicitDeny (no-describe, role), ecr:BatchGetImage allowed"}, []string{"disagrees"}, 2},
		{"assumed role under a path", func(s *ecrtest.Server) {
			s.SetCaller(session)
			s.SetSimulation(pathRole, "ecr:BatchDeleteImage", allowed)
		}, DeleteGranted, []string{"the policy simulator knows no " + role + " (NoSuchEntity): the session ARN " + session + " does not carry its role's path"}, nil, 1},
		{"IAM user unknown to IAM", func(s *ecrtest.Server) { s.SetCaller("arn:aws:iam::" + acct + ":user/gone") }, DeleteGranted,
			[]string{"the policy simulator gave no answer (optional): IAM SimulatePrincipalPolicy answered NoSuchEntity (404)"}, []string{"path"}, 1},
		{"federated user", func(s *ecrtest.Server) { s.SetCaller("arn:aws:sts::" + acct + ":federated-user/jane") }, DeleteGranted,
			[]string{"the policy simulator was not asked: the caller is a federated user"}, nil, 0},
		{"root", func(s *ecrtest.Server) { s.SetCaller("arn:aws:iam::" + acct + ":root") }, DeleteGranted,
			[]string{"the policy simulator was not asked: the caller is the account's root user"}, nil, 0},
		{"resource policy refused for a role", func(s *ecrtest.Server) {
			s.SetCaller(session)
			s.SetSimulation(role, "ecr:BatchDeleteImage", allowed)
			s.ResourcePolicyForUsersOnly()
			s.SetRepositoryPolicy("app", denyAll)
		}, DeleteGranted, []string{"on " + repoARN + " without its repository policy, which IAM would not weigh for " + role + " (InvalidInput): ecr:BatchDeleteImage allowed (bot-ecr, role), ecr:DescribeRepositories allowed,"}, nil, 3},
		{"one result a page", func(s *ecrtest.Server) { s.SetSimulationPage(1) }, DeleteGranted,
			[]string{"ecr:BatchGetImage allowed", "ecr:GetAuthorizationToken on * allowed"}, []string{"not answered"}, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := registrytest.Serve(t)
			p := pusher{t, reg.Host()}
			img := p.image(1, "amd64")
			p.push("app:v1", img)
			srv := ecrtest.Serve(t, reg)
			if tc.setup != nil {
				tc.setup(srv)
			}
			got, err := newECR(t, srv).Probe(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Log(got.DeleteDetail)
			if got.Delete != tc.wantDelete {
				t.Errorf("delete %s, want %s: %s", got.Delete, tc.wantDelete, got.DeleteDetail)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.DeleteDetail, w) {
					t.Errorf("detail lacks %q:\n%s", w, got.DeleteDetail)
				}
			}
			for _, w := range append(tc.notWant, ecrtest.SecretAccessKey, ecrtest.AccessKeyID) {
				if strings.Contains(got.DeleteDetail, w) {
					t.Errorf("detail has %q:\n%s", w, got.DeleteDetail)
				}
			}
			calls := map[string]int{}
			for _, r := range srv.Requests() {
				calls[r.Target]++
			}
			if calls["GetCallerIdentity"] != 1 || calls["SimulatePrincipalPolicy"] != tc.simCalls {
				t.Errorf("STS/IAM calls %v, want 1 GetCallerIdentity and %d SimulatePrincipalPolicy", calls, tc.simCalls)
			}
			if there, err := newECR(t, srv).Exists(t.Context(), "app", digestOf(t, img)); err != nil || !there {
				t.Errorf("the image is gone: %v %v", there, err)
			}
		})
	}
}

// TestECRProbeNoRepository: with no repository the probe asks neither the
// delete nor the simulator.
func TestECRProbeNoRepository(t *testing.T) {
	srv := ecrtest.Serve(t, registrytest.Serve(t))
	got, err := newECR(t, srv).Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Delete != DeleteUnknown || got.DeleteDetail != "no repository to ask" || len(got.Repositories) != 0 {
		t.Errorf("probe %+v", got)
	}
	for _, r := range srv.Requests() {
		if r.Target == "BatchDeleteImage" || r.Target == "GetCallerIdentity" || r.Target == "SimulatePrincipalPolicy" {
			t.Errorf("asked %s", r.Target)
		}
	}
}

// TestECRProbeIdentityEndpoint: WithIAMEndpoint sends STS and IAM
// elsewhere than ECR's endpoint; an STS error there is a clause of the
// detail, the probe stands.
func TestECRProbeIdentityEndpoint(t *testing.T) {
	var asked []string
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		asked = append(asked, r.PostForm.Get("Action"))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>r1</RequestId></ErrorResponse>`)
	}))
	t.Cleanup(sts.Close)
	reg := registrytest.Serve(t)
	p := pusher{t, reg.Host()}
	p.push("app:v1", p.image(1, "amd64"))
	srv := ecrtest.Serve(t, reg)
	got, err := newECR(t, srv, WithIAMEndpoint(sts.URL)).Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := "the credentials may call it; the policy simulator was not asked: STS GetCallerIdentity answered ExpiredToken (403): The security token included in the request is expired"
	if got.Delete != DeleteGranted || !strings.HasSuffix(got.DeleteDetail, want) {
		t.Errorf("probe %+v", got)
	}
	if len(asked) != 1 || asked[0] != "GetCallerIdentity" {
		t.Errorf("the identity endpoint was asked %v", asked)
	}
	for _, r := range srv.Requests() {
		if r.Target == "GetCallerIdentity" || r.Target == "SimulatePrincipalPolicy" {
			t.Errorf("the ECR endpoint was asked %s", r.Target)
		}
	}
	if _, err := NewECR(srv.Host(), srv.AWSConfig(), WithECREndpoint(srv.URL()), WithIAMEndpoint("")); err == nil || !strings.Contains(err.Error(), "WithIAMEndpoint") {
		t.Errorf("an empty endpoint: %v", err)
	}
}
