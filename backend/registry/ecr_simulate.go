package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The actions the ECR probe asks IAM's policy simulator about: those on
// the probed repository (the delete first), then the login's, which names
// no repository ("*").
var (
	ecrRepoActions = []string{"ecr:BatchDeleteImage", "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:GetLifecyclePolicy"}
	ecrTokenAction = "ecr:GetAuthorizationToken"
)

// simulatorDiffers is AWS's own caution about the simulator, said when its
// answer and the real call's disagree.
const simulatorDiffers = "the real call wins (AWS documents that the policy simulator's results can differ from the live environment)"

// WithIAMEndpoint sends the ECR probe's STS and IAM calls (GetCallerIdentity,
// SimulatePrincipalPolicy) to u (a stand-in's "http://127.0.0.1:PORT"). By
// default they go where WithECREndpoint sends ECR's, if it was given (a
// stand-in serves all three), else to the endpoints the SDK resolves for
// the region's partition (IAM's is global: iam.amazonaws.com, or China's
// and GovCloud's own).
func WithIAMEndpoint(u string) Option {
	return func(o *options) error {
		if u == "" {
			return errors.New("WithIAMEndpoint: empty endpoint")
		}
		o.iamEndpoint = u
		return nil
	}
}

// ecrIdentity asks STS who the ECR client's credentials are and IAM's
// policy simulator what that identity may do. Its SDK retries are off: the
// options' retry transport retries what an HTTP status shows, and the
// probe reports any other failure.
type ecrIdentity struct {
	sts    *sts.Client
	iam    *iam.Client
	region string
}

// newECRIdentity makes the STS and IAM clients of cfg's credentials for an
// ECR registry in region.
func newECRIdentity(cfg aws.Config, o options, region string) *ecrIdentity {
	var hc aws.HTTPClient = cfg.HTTPClient
	if hc == nil { // ECRConfig's has the options' transport, and AWS_CA_BUNDLE
		hc = &http.Client{Transport: o.retrying()}
	}
	var endpoint *string
	if u := cmp.Or(o.iamEndpoint, o.ecrEndpoint); u != "" {
		endpoint = aws.String(u)
	}
	return &ecrIdentity{
		sts: sts.NewFromConfig(cfg, func(so *sts.Options) {
			so.HTTPClient, so.Region, so.BaseEndpoint, so.Retryer = hc, region, endpoint, aws.NopRetryer{}
		}),
		iam: iam.NewFromConfig(cfg, func(io *iam.Options) {
			io.HTTPClient, io.Region, io.BaseEndpoint, io.Retryer = hc, region, endpoint, aws.NopRetryer{}
		}),
		region: region,
	}
}

// simulate asks IAM's policy simulator what the caller may do on the
// repository repo (weighing policy, its repository policy, when one was
// read) and says it in a clause of the probe's DeleteDetail; realDelete is
// what the real BatchDeleteImage showed (DeleteGranted, DeleteDenied or
// DeleteUnknown), which the simulator never overrides. Nothing here fails
// the probe: the simulation is optional.
func (e *ECR) simulate(ctx context.Context, repo, policy, realDelete string) string {
	id := e.identity
	who, err := id.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "the policy simulator was not asked: " + awsCallText("STS GetCallerIdentity", err)
	}
	caller := aws.ToString(who.Arn)
	source, fromSession, why := policySource(caller)
	if source == "" {
		return "the policy simulator was not asked: " + why
	}
	a, _ := arn.Parse(source)
	repoARN := arn.ARN{Partition: a.Partition, Service: "ecr", Region: id.region, AccountID: cmp.Or(e.registryID, aws.ToString(who.Account)), Resource: "repository/" + repo}.String()

	in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(source), ActionNames: ecrRepoActions, ResourceArns: []string{repoARN}}
	weighed := "without a repository policy"
	if policy != "" {
		in.ResourcePolicy, weighed = aws.String(policy), "with its repository policy"
	}
	results, err := id.evaluate(ctx, in)
	var inv *iamtypes.InvalidInputException
	if err != nil && errors.As(err, &inv) && in.ResourcePolicy != nil {
		// IAM's reference has said a resource policy is weighed for IAM users only
		in.ResourcePolicy = nil
		weighed = "without its repository policy, which IAM would not weigh for " + source + " (InvalidInput)"
		results, err = id.evaluate(ctx, in)
	}
	if err == nil {
		var token map[string]iamtypes.EvaluationResult
		token, err = id.evaluate(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(source), ActionNames: []string{ecrTokenAction}})
		for k, v := range token {
			results[k] = v
		}
	}
	if err != nil {
		return simulationFailure(err, caller, source, fromSession)
	}

	var b strings.Builder
	from := ""
	if fromSession {
		from = " (the session's role)"
	}
	fmt.Fprintf(&b, "the policy simulator, for %s%s on %s %s: ", source, from, repoARN, weighed)
	for i, act := range slices.Concat(ecrRepoActions, []string{ecrTokenAction}) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(act)
		if act == ecrTokenAction {
			b.WriteString(" on *")
		}
		r, ok := results[strings.ToLower(act)]
		if !ok {
			b.WriteString(" not answered")
			continue
		}
		b.WriteString(" " + string(r.EvalDecision))
		if i == 0 || r.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed {
			b.WriteString(matchedText(r.MatchedStatements)) // what decides the delete, or a denial
		}
	}
	del := results[strings.ToLower(ecrRepoActions[0])].EvalDecision
	switch {
	case del != iamtypes.PolicyEvaluationDecisionTypeAllowed && realDelete == DeleteGranted:
		fmt.Fprintf(&b, "; the simulator's %s of ecr:BatchDeleteImage disagrees with the real call, which was let through: %s", cmp.Or(string(del), "silence"), simulatorDiffers)
	case del == iamtypes.PolicyEvaluationDecisionTypeAllowed && realDelete == DeleteDenied:
		fmt.Fprintf(&b, "; the simulator allows ecr:BatchDeleteImage but the real call was refused: %s; a role session's own policy, for one, is not simulated", simulatorDiffers)
	}
	return b.String()
}

// evaluate runs one simulation, following Marker while IsTruncated, and
// keys its results by lower-case action.
func (id *ecrIdentity) evaluate(ctx context.Context, in *iam.SimulatePrincipalPolicyInput) (map[string]iamtypes.EvaluationResult, error) {
	out := map[string]iamtypes.EvaluationResult{}
	pages := iam.NewSimulatePrincipalPolicyPaginator(id.iam, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.EvaluationResults {
			out[strings.ToLower(aws.ToString(r.EvalActionName))] = r
		}
	}
	return out, nil
}

// simulationFailure says why the simulator gave no answer: the identity
// may not ask it (the usual case: the permission is optional), the role
// named from a session is not found (a role under a path), or IAM's error.
func simulationFailure(err error, caller, source string, fromSession bool) string {
	var ae smithy.APIError
	errors.As(err, &ae)
	switch {
	case ae != nil && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException"):
		return "the policy simulator was not asked: the identity may not call iam:SimulatePrincipalPolicy (optional)"
	case ae != nil && ae.ErrorCode() == "NoSuchEntity" && fromSession:
		return fmt.Sprintf("the policy simulator knows no %s (NoSuchEntity): the session ARN %s does not carry its role's path, so a role under a path cannot be named from it; the simulation is optional", source, caller)
	}
	return "the policy simulator gave no answer (optional): " + awsCallText("IAM SimulatePrincipalPolicy", err)
}

// awsCallText describes a failed STS or IAM call: the service's error
// code, message and HTTP status when it answered, else the error (which
// names the endpoint, never a credential).
func awsCallText(op string, err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return op + ": " + err.Error()
	}
	s := op + " answered " + ae.ErrorCode()
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		s += fmt.Sprintf(" (%d)", re.HTTPStatusCode())
	}
	if m := ae.ErrorMessage(); m != "" {
		s += ": " + m
	}
	return s
}

// matchedText names the policies whose statements decided a result, as
// " (ID, type; ...)"; IAM gives the policy and the statement's position,
// not its Sid.
func matchedText(st []iamtypes.Statement) string {
	var names []string
	for _, s := range st {
		n := cmp.Or(aws.ToString(s.SourcePolicyId), "unnamed policy")
		if s.SourcePolicyType != "" {
			n += ", " + string(s.SourcePolicyType)
		}
		if s.StartPosition != nil && s.StartPosition.Line > 0 {
			n += fmt.Sprintf(", line %d", s.StartPosition.Line)
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, "; ") + ")"
}

// policySource is the IAM principal whose policies SimulatePrincipalPolicy
// weighs for caller, STS GetCallerIdentity's Arn: an IAM user's ARN as it
// is; an assumed role's session (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)
// turned into its role's, arn:aws:iam::ACCOUNT:role/ROLE (fromSession),
// which is right only for a role without a path: the session ARN drops it.
// why says why there is none for the root user, a federated user and
// anything else.
func policySource(caller string) (source string, fromSession bool, why string) {
	a, err := arn.Parse(caller)
	if err != nil {
		return "", false, fmt.Sprintf("the caller's ARN %q does not parse", caller)
	}
	kind, rest, _ := strings.Cut(a.Resource, "/")
	switch {
	case a.Service == "iam" && kind == "user" && rest != "":
		return caller, false, ""
	case a.Service == "iam" && a.Resource == "root":
		return "", false, "the caller is the account's root user (" + caller + "), which IAM policies do not restrict"
	case a.Service == "sts" && kind == "assumed-role":
		role, session, ok := strings.Cut(rest, "/")
		if !ok || role == "" || session == "" || strings.Contains(session, "/") {
			return "", false, fmt.Sprintf("the assumed role's ARN %s is not assumed-role/ROLE/SESSION", caller)
		}
		return arn.ARN{Partition: a.Partition, Service: "iam", AccountID: a.AccountID, Resource: "role/" + role}.String(), true, ""
	case a.Service == "sts" && kind == "federated-user":
		return "", false, "the caller is a federated user (" + caller + "), whose rights are its IAM user's policies narrowed by its session policy; its ARN does not name that user"
	}
	return "", false, "the caller " + caller + " is neither an IAM user nor an assumed role"
}
