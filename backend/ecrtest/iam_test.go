package ecrtest_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

const repoARN = "arn:aws:ecr:" + ecrtest.Region + ":" + ecrtest.RegistryID + ":repository/app"

// identityClients are aws-sdk-go-v2's STS and IAM clients on the
// stand-in, signing with secret, retries off.
func identityClients(t *testing.T, srv *ecrtest.Server, secret string) (*sts.Client, *iam.Client) {
	creds := credentials.NewStaticCredentialsProvider(ecrtest.AccessKeyID, secret, "")
	hc := &http.Client{Transport: loopbackOnly{t}}
	return sts.New(sts.Options{Region: ecrtest.Region, Credentials: creds, BaseEndpoint: aws.String(srv.URL()), HTTPClient: hc, Retryer: aws.NopRetryer{}}),
		iam.New(iam.Options{Region: ecrtest.Region, Credentials: creds, BaseEndpoint: aws.String(srv.URL()), HTTPClient: hc, Retryer: aws.NopRetryer{}})
}

// TestGetCallerIdentity: STS's client reads who the static credentials
// are, as SetCaller says; a wrong secret is refused as STS does; a Deny
// of GetCallerIdentity does not stop it (STS needs no permission).
func TestGetCallerIdentity(t *testing.T) {
	srv := ecrtest.Serve(t, registrytest.Serve(t))
	srv.Deny("GetCallerIdentity")
	cases := []struct {
		caller, secret      string
		wantARN, wantUserID string
		wantCode            string
	}{
		{"", ecrtest.SecretAccessKey, ecrtest.CallerARN, "AIDAECRTESTEXAMPLE01", ""},
		{"arn:aws:sts::123456789012:assumed-role/bot/s1", ecrtest.SecretAccessKey, "arn:aws:sts::123456789012:assumed-role/bot/s1", "AROAECRTESTEXAMPLE01:s1", ""},
		{"arn:aws:iam::123456789012:root", ecrtest.SecretAccessKey, "arn:aws:iam::123456789012:root", "123456789012", ""},
		{"", "not-the-secret", "", "", "SignatureDoesNotMatch"},
	}
	for _, tc := range cases {
		t.Run(tc.caller+tc.wantCode, func(t *testing.T) {
			srv.SetCaller(tc.caller)
			c, _ := identityClients(t, srv, tc.secret)
			out, err := c.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			if tc.wantCode != "" {
				var re *smithyhttp.ResponseError
				if apiCode(err) != tc.wantCode || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
					t.Fatalf("got %v, want %s (403)", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.Arn) != tc.wantARN || aws.ToString(out.UserId) != tc.wantUserID || aws.ToString(out.Account) != ecrtest.RegistryID {
				t.Errorf("got %s %s %s", aws.ToString(out.Arn), aws.ToString(out.UserId), aws.ToString(out.Account))
			}
		})
	}
	for _, r := range srv.Requests() {
		if r.Kind != ecrtest.KindAPI || r.Target != "GetCallerIdentity" {
			t.Errorf("recorded %+v", r)
		}
	}
}

// decision is one EvaluationResult, flattened.
type decision struct{ action, resource, decision, matched string }

func flatten(rs []iamtypes.EvaluationResult) []decision {
	var out []decision
	for _, r := range rs {
		var m []string
		for _, s := range r.MatchedStatements {
			m = append(m, aws.ToString(s.SourcePolicyId)+"/"+string(s.SourcePolicyType))
		}
		out = append(out, decision{aws.ToString(r.EvalActionName), aws.ToString(r.EvalResourceName), string(r.EvalDecision), strings.Join(m, ",")})
	}
	return out
}

// TestSimulatePrincipalPolicy: IAM's client reads the simulator's answers:
// the default principal allowed the ECR actions the stand-in does not
// deny, configured answers per principal, a resource policy's Deny and
// Allow; each of ActionNames on each of ResourceArns.
func TestSimulatePrincipalPolicy(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/bot"
	denyAll := `{"Version":"2012-10-17","Statement":[{"Sid":"nodelete","Effect":"Deny","Principal":"*","Action":"ecr:BatchDelete*"}]}`
	allowRole := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":["ecr:*"]}}`
	otherAccount := `{"Statement":[{"Effect":"Deny","Principal":{"AWS":"210987654321"},"Action":"*"}]}`
	cases := []struct {
		name      string
		source    string
		actions   []string
		resources []string
		policy    string
		want      []decision
	}{
		{"default user", ecrtest.CallerARN, []string{"ecr:BatchDeleteImage", "ecr:DescribeImages", "s3:GetObject"}, []string{repoARN}, "", []decision{
			{"ecr:BatchDeleteImage", repoARN, "allowed", "ecrtest-ecr/user-managed"},
			{"ecr:DescribeImages", repoARN, "implicitDeny", ""}, // srv.Deny("DescribeImages")
			{"s3:GetObject", repoARN, "implicitDeny", ""},
		}},
		{"no resources: *", ecrtest.CallerARN, []string{"ecr:GetAuthorizationToken"}, nil, "", []decision{
			{"ecr:GetAuthorizationToken", "*", "allowed", "ecrtest-ecr/user-managed"},
		}},
		{"two resources", ecrtest.CallerARN, []string{"ecr:BatchGetImage"}, []string{repoARN, repoARN + "2"}, "", []decision{
			{"ecr:BatchGetImage", repoARN, "allowed", "ecrtest-ecr/user-managed"},
			{"ecr:BatchGetImage", repoARN + "2", "allowed", "ecrtest-ecr/user-managed"},
		}},
		{"configured role", role, []string{"ecr:BatchDeleteImage", "ecr:BatchGetImage", "ecr:DescribeImages"}, []string{repoARN}, "", []decision{
			{"ecr:BatchDeleteImage", repoARN, "explicitDeny", "deny-delete/role"},
			{"ecr:BatchGetImage", repoARN, "allowed", "ecrtest-ecr/user-managed"},
			{"ecr:DescribeImages", repoARN, "implicitDeny", ""},
		}},
		{"resource policy denies", ecrtest.CallerARN, []string{"ecr:BatchDeleteImage", "ecr:BatchGetImage"}, []string{repoARN}, denyAll, []decision{
			{"ecr:BatchDeleteImage", repoARN, "explicitDeny", "ResourcePolicy/resource"},
			{"ecr:BatchGetImage", repoARN, "allowed", "ecrtest-ecr/user-managed"},
		}},
		{"resource policy allows the account", role, []string{"ecr:DescribeImages", "ecr:BatchDeleteImage"}, []string{repoARN}, allowRole, []decision{
			{"ecr:DescribeImages", repoARN, "allowed", "ResourcePolicy/resource"},
			{"ecr:BatchDeleteImage", repoARN, "explicitDeny", "deny-delete/role"}, // an identity's Deny stands
		}},
		{"resource policy of another account", ecrtest.CallerARN, []string{"ecr:BatchDeleteImage"}, []string{repoARN}, otherAccount, []decision{
			{"ecr:BatchDeleteImage", repoARN, "allowed", "ecrtest-ecr/user-managed"},
		}},
	}
	srv := ecrtest.Serve(t, registrytest.Serve(t))
	srv.Deny("DescribeImages")
	srv.SetSimulation(role, "ecr:BatchDeleteImage", ecrtest.Eval{Decision: ecrtest.ExplicitDeny, PolicyID: "deny-delete", PolicyType: "role"})
	_, c := identityClients(t, srv, ecrtest.SecretAccessKey)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(tc.source), ActionNames: tc.actions, ResourceArns: tc.resources}
			if tc.policy != "" {
				in.ResourcePolicy = aws.String(tc.policy)
			}
			out, err := c.SimulatePrincipalPolicy(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got := flatten(out.EvaluationResults); !slices.Equal(got, tc.want) || out.IsTruncated {
				t.Errorf("got %+v (truncated %v)\nwant %+v", got, out.IsTruncated, tc.want)
			}
		})
	}
}

// TestSimulatePaging: the SDK's paginator follows Marker while IsTruncated,
// whether MaxItems or the stand-in's page size cuts the pages; a marker the
// simulation did not give is refused.
func TestSimulatePaging(t *testing.T) {
	actions := []string{"ecr:BatchDeleteImage", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetAuthorizationToken"}
	cases := []struct {
		maxItems, page int
		wantPages      int
	}{
		{0, 0, 1}, {2, 0, 3}, {5, 0, 1}, {1, 0, 5}, {0, 2, 3}, {4, 3, 2}, {1000, 1, 5},
	}
	srv := ecrtest.Serve(t, registrytest.Serve(t))
	_, c := identityClients(t, srv, ecrtest.SecretAccessKey)
	for _, tc := range cases {
		t.Run(fmt.Sprintf("max%d-page%d", tc.maxItems, tc.page), func(t *testing.T) {
			srv.SetSimulationPage(tc.page)
			in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(ecrtest.CallerARN), ActionNames: actions, ResourceArns: []string{repoARN}}
			if tc.maxItems > 0 {
				in.MaxItems = aws.Int32(int32(tc.maxItems))
			}
			pg := iam.NewSimulatePrincipalPolicyPaginator(c, in)
			var got []string
			pages := 0
			for pg.HasMorePages() {
				out, err := pg.NextPage(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, r := range out.EvaluationResults {
					got = append(got, aws.ToString(r.EvalActionName))
				}
			}
			if !slices.Equal(got, actions) || pages != tc.wantPages {
				t.Errorf("%d pages of %v, want %d of %v", pages, got, tc.wantPages, actions)
			}
		})
	}
	srv.SetSimulationPage(0)
	_, err := c.SimulatePrincipalPolicy(t.Context(), &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(ecrtest.CallerARN), ActionNames: actions, Marker: aws.String("bm90LW1pbmU")})
	var inv *iamtypes.InvalidInputException
	if !errors.As(err, &inv) {
		t.Errorf("a foreign marker: %v", err)
	}
}

// TestSimulateErrors: IAM's documented errors reach the SDK as its typed
// errors with AWS's HTTP status.
func TestSimulateErrors(t *testing.T) {
	const pathRole = "arn:aws:iam::123456789012:role/team/bot"
	policy := `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:BatchDeleteImage"}]}`
	cases := []struct {
		name   string
		setup  func(*ecrtest.Server)
		in     iam.SimulatePrincipalPolicyInput
		code   string
		status int
	}{
		{"may not simulate", func(s *ecrtest.Server) { s.Deny("SimulatePrincipalPolicy") },
			iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(ecrtest.CallerARN)}, "AccessDenied", http.StatusForbidden},
		{"unknown role", nil,
			iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::123456789012:role/bot")}, "NoSuchEntity", http.StatusNotFound},
		{"role under a path known, path-less name unknown", func(s *ecrtest.Server) {
			s.SetSimulation(pathRole, "ecr:BatchDeleteImage", ecrtest.Eval{Decision: ecrtest.Allowed})
		},
			iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::123456789012:role/bot")}, "NoSuchEntity", http.StatusNotFound},
		{"not an IAM entity", nil,
			iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:sts::123456789012:assumed-role/bot/s1")}, "InvalidInput", http.StatusBadRequest},
		{"resource policy for users only", func(s *ecrtest.Server) {
			s.SetSimulation(pathRole, "ecr:BatchDeleteImage", ecrtest.Eval{Decision: ecrtest.Allowed})
			s.ResourcePolicyForUsersOnly()
		}, iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(pathRole), ResourcePolicy: aws.String(policy)}, "InvalidInput", http.StatusBadRequest},
		{"malformed resource policy", nil,
			iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(ecrtest.CallerARN), ResourcePolicy: aws.String("{not json")}, "MalformedPolicyDocument", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := ecrtest.Serve(t, registrytest.Serve(t))
			if tc.setup != nil {
				tc.setup(srv)
			}
			_, c := identityClients(t, srv, ecrtest.SecretAccessKey)
			in := tc.in
			in.ActionNames = []string{"ecr:BatchDeleteImage"}
			_, err := c.SimulatePrincipalPolicy(t.Context(), &in)
			var re *smithyhttp.ResponseError
			if apiCode(err) != tc.code || !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
				t.Fatalf("got %v, want %s (%d)", err, tc.code, tc.status)
			}
			if strings.Contains(err.Error(), ecrtest.SecretAccessKey) {
				t.Error("the error shows the secret")
			}
		})
	}
	t.Run("resource policy for users only, with a user", func(t *testing.T) {
		srv := ecrtest.Serve(t, registrytest.Serve(t))
		srv.ResourcePolicyForUsersOnly()
		_, c := identityClients(t, srv, ecrtest.SecretAccessKey)
		out, err := c.SimulatePrincipalPolicy(t.Context(), &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(ecrtest.CallerARN),
			ActionNames: []string{"ecr:BatchDeleteImage"}, ResourcePolicy: aws.String(policy)})
		if err != nil || len(out.EvaluationResults) != 1 || out.EvaluationResults[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeExplicitDeny {
			t.Fatalf("got %+v, %v", out, err)
		}
	})
}
