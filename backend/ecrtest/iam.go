package ecrtest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CallerARN is who the stand-in's static credentials are by default
// (STS GetCallerIdentity's Arn): an IAM user of [RegistryID].
const CallerARN = "arn:aws:iam::" + RegistryID + ":user/ecrtest"

// The policy simulator's decisions (EvalDecision).
const (
	Allowed      = "allowed"
	ImplicitDeny = "implicitDeny"
	ExplicitDeny = "explicitDeny"
)

// Eval is the policy simulator's answer for one action of one principal.
type Eval struct {
	// Decision is Allowed, ImplicitDeny or ExplicitDeny.
	Decision string
	// PolicyID and PolicyType name the policy whose statement decided it
	// (MatchedStatements' SourcePolicyId and SourcePolicyType: "user",
	// "role", "aws-managed", "user-managed", "resource"); "" for none.
	PolicyID, PolicyType string
}

// defaultPolicy is the identity policy by which a known principal may call
// every ECR operation the stand-in does not [Server.Deny].
const defaultPolicy = "ecrtest-ecr"

// The query protocol's API versions.
const (
	stsVersion = "2011-06-15"
	iamVersion = "2010-05-08"
)

// iamState is the identity side of the stand-in, guarded by Server.mu; its
// zero value is the default.
type iamState struct {
	caller     string                     // "": CallerARN
	principals map[string]map[string]Eval // policy source ARN -> lower-case action -> answer
	page       int                        // the most results a page holds; 0: MaxItems
	usersOnly  bool                       // ResourcePolicy only for an IAM user, or with CallerArn
}

// SetCaller makes the static credentials the identity arn (an IAM user's,
// an assumed role's session "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION",
// a federated user's, the root's): what STS GetCallerIdentity answers. ""
// restores [CallerARN].
func (s *Server) SetCaller(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iam.caller = arn
}

// SetSimulation makes the policy simulator answer e for action ("ecr:BatchDeleteImage")
// when it simulates principal (an IAM user's or role's ARN, with its path),
// which it then knows. A known principal's other ECR actions are allowed
// by the policy "ecrtest-ecr", but those [Server.Deny] refuses
// (implicitDeny); actions of other services are implicitDeny. [CallerARN]
// is always known; SimulatePrincipalPolicy of an unknown principal answers
// NoSuchEntity.
func (s *Server) SetSimulation(principal, action string, e Eval) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.iam.principals == nil {
		s.iam.principals = map[string]map[string]Eval{}
	}
	if s.iam.principals[principal] == nil {
		s.iam.principals[principal] = map[string]Eval{}
	}
	s.iam.principals[principal][strings.ToLower(action)] = e
}

// SetSimulationPage makes SimulatePrincipalPolicy answer at most n results a
// page whatever MaxItems asks, as IAM may ("IAM might return fewer
// results, even when there are more results available"); 0 restores
// MaxItems.
func (s *Server) SetSimulationPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iam.page = max(n, 0)
}

// ResourcePolicyForUsersOnly makes SimulatePrincipalPolicy refuse a
// ResourcePolicy (InvalidInput) unless the principal is an IAM user or a
// CallerArn is given, as IAM's reference once said ("for IAM users
// only"); by default a role's simulation takes one too.
func (s *Server) ResourcePolicyForUsersOnly() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iam.usersOnly = true
}

// isQuery tells a call of AWS's query protocol (STS, IAM) from an ECR
// API call: a form body, no X-Amz-Target.
func isQuery(r *http.Request) bool {
	return r.Header.Get("X-Amz-Target") == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

// queryOp is an operation of the query protocol: its service (the SigV4
// scope's and the XML namespace's), API version, and what it does.
type queryOp struct {
	service, version string
	run              func(*Server, url.Values) (any, *apiError)
}

var queryOperations = map[string]queryOp{
	"GetCallerIdentity":       {"sts", stsVersion, (*Server).getCallerIdentity},
	"SimulatePrincipalPolicy": {"iam", iamVersion, (*Server).simulatePrincipalPolicy},
}

// queryAuthCodes are the query protocol's names of the signature errors.
var queryAuthCodes = map[string]string{
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"IncompleteSignatureException":        "IncompleteSignature",
}

func namespace(service, version string) string {
	return "https://" + service + ".amazonaws.com/doc/" + version + "/"
}

// serveQuery answers a POST / of the query protocol: Action=...&Version=...
// form-encoded, signed for the operation's service ("sts" or "iam"),
// answered in XML, errors as <ErrorResponse><Error><Code>.
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, rec *Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeQueryError(w, namespace("iam", iamVersion), errf("InvalidInput", "read the request body: %v", err))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeQueryError(w, namespace("iam", iamVersion), errf("MalformedQueryString", "%v", err))
		return
	}
	action := form.Get("Action")
	rec.Target = action
	op, ok := queryOperations[action]
	if !ok {
		writeQueryError(w, namespace("iam", iamVersion), errf("InvalidAction", "Could not find operation %s for version %s", action, form.Get("Version")))
		return
	}
	ns := namespace(op.service, op.version)
	if _, code, msg := verifySigV4For(r, body, time.Now(), op.service); code != "" {
		writeQueryError(w, ns, &apiError{queryAuthCodes[code], msg})
		return
	}
	if v := form.Get("Version"); v != op.version {
		writeQueryError(w, ns, errf("InvalidAction", "Could not find operation %s for version %s", action, v))
		return
	}
	s.mu.Lock()
	caller, denied := s.callerLocked(), s.denied[action] && action != "GetCallerIdentity" // STS answers it whatever a policy says
	s.mu.Unlock()
	if denied {
		writeQueryError(w, ns, errf("AccessDenied", "User: %s is not authorized to perform: %s:%s on resource: %s", caller, op.service, action, form.Get("PolicySourceArn")))
		return
	}
	out, aerr := op.run(s, form)
	if aerr != nil {
		writeQueryError(w, ns, aerr)
		return
	}
	type response struct {
		XMLName   xml.Name
		Result    any
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	b, err := xml.Marshal(response{XMLName: xml.Name{Space: ns, Local: action + "Response"}, Result: out, RequestID: requestID()})
	if err != nil {
		writeQueryError(w, ns, errf("ServiceFailure", "marshal the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(b)
}

func requestID() string { return fmt.Sprintf("ecrtest-%d", time.Now().UnixNano()) }

// writeQueryError answers the query protocol's error document, with the
// HTTP status AWS gives the code.
func writeQueryError(w http.ResponseWriter, ns string, e *apiError) {
	status := http.StatusBadRequest
	switch e.code {
	case "AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationToken":
		status = http.StatusForbidden
	case "NoSuchEntity":
		status = http.StatusNotFound
	case "ServiceFailure":
		status = http.StatusInternalServerError
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	type errorResponse struct {
		XMLName   xml.Name
		Type      string `xml:"Error>Type"`
		Code      string `xml:"Error>Code"`
		Message   string `xml:"Error>Message"`
		RequestID string `xml:"RequestId"`
	}
	b, _ := xml.Marshal(errorResponse{XMLName: xml.Name{Space: ns, Local: "ErrorResponse"}, Type: typ, Code: e.code, Message: e.message, RequestID: requestID()})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) callerLocked() string {
	if s.iam.caller == "" {
		return CallerARN
	}
	return s.iam.caller
}

// getCallerIdentity answers who the static credentials are.
func (s *Server) getCallerIdentity(url.Values) (any, *apiError) {
	s.mu.Lock()
	caller := s.callerLocked()
	s.mu.Unlock()
	parts := strings.SplitN(caller, ":", 6)
	if len(parts) != 6 {
		return nil, errf("ServiceFailure", "the stand-in's caller %q is not an ARN", caller)
	}
	account, resource := parts[4], parts[5]
	userID := "AIDAECRTESTEXAMPLE01"
	switch {
	case strings.HasPrefix(resource, "assumed-role/"):
		userID = "AROAECRTESTEXAMPLE01:" + resource[strings.LastIndex(resource, "/")+1:]
	case strings.HasPrefix(resource, "federated-user/"):
		userID = account + ":" + strings.TrimPrefix(resource, "federated-user/")
	case resource == "root":
		userID = account
	}
	type result struct {
		XMLName xml.Name `xml:"GetCallerIdentityResult"`
		Arn     string
		UserID  string `xml:"UserId"`
		Account string
	}
	return result{Arn: caller, UserID: userID, Account: account}, nil
}

// evalResult is one EvaluationResult of SimulatePrincipalPolicy.
type evalResult struct {
	EvalActionName    string
	EvalResourceName  string
	EvalDecision      string
	MatchedStatements []matched `xml:"MatchedStatements>member"`
}

type matched struct {
	SourcePolicyID   string `xml:"SourcePolicyId"`
	SourcePolicyType string
}

// simulatePrincipalPolicy evaluates each of ActionNames on each of
// ResourceArns ("*" without them) for PolicySourceArn: its configured
// answers (SetSimulation), then ResourcePolicy's statements (their
// Effect, Principal and Action; not their Resource nor Condition): a
// matching Deny is an explicitDeny, a matching Allow allows what the
// identity does not. Paged by MaxItems (default 100) and Marker.
func (s *Server) simulatePrincipalPolicy(form url.Values) (any, *apiError) {
	source := form.Get("PolicySourceArn")
	actions, resources := members(form, "ActionNames"), members(form, "ResourceArns")
	if source == "" || len(actions) == 0 {
		return nil, errf("InvalidInput", "PolicySourceArn and ActionNames are required")
	}
	kind, name, ok := iamEntity(source)
	if !ok {
		return nil, errf("InvalidInput", "Invalid ARN %s: PolicySourceArn must be an IAM user, group or role", source)
	}
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	maxItems := 100
	if v := form.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, errf("InvalidInput", "MaxItems %q is not in 1..1000", v)
		}
		maxItems = n
	}
	var doc *policyDoc
	if text := form.Get("ResourcePolicy"); text != "" {
		d, err := parsePolicy(text)
		if err != nil {
			return nil, errf("MalformedPolicyDocument", "ResourcePolicy: %v", err)
		}
		doc = d
	}
	caller := cmp.Or(form.Get("CallerArn"), source)

	s.mu.Lock()
	known := source == CallerARN || s.iam.principals[source] != nil
	if doc != nil && s.iam.usersOnly && kind != "user" && form.Get("CallerArn") == "" {
		s.mu.Unlock()
		return nil, errf("InvalidInput", "a ResourcePolicy is simulated for an IAM user only: give CallerArn when PolicySourceArn (%s) is a %s", source, kind)
	}
	if !known {
		s.mu.Unlock()
		return nil, errf("NoSuchEntity", "The %s with name %s cannot be found.", kind, name)
	}
	var all []evalResult
	for _, a := range actions {
		for _, res := range resources {
			all = append(all, s.evalLocked(source, caller, a, res, doc))
		}
	}
	page := s.iam.page
	s.mu.Unlock()

	start := 0
	if m := form.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		n, aerr := strconv.Atoi(strings.TrimPrefix(string(b), "ecrtest:"))
		if err != nil || aerr != nil || n <= 0 || n >= len(all) {
			return nil, errf("InvalidInput", "Marker %q is not one this simulation gave", m)
		}
		start = n
	}
	if page > 0 {
		maxItems = min(maxItems, page)
	}
	end := min(start+maxItems, len(all))
	type result struct {
		XMLName           xml.Name     `xml:"SimulatePrincipalPolicyResult"`
		EvaluationResults []evalResult `xml:"EvaluationResults>member"`
		IsTruncated       bool
		Marker            string `xml:",omitempty"`
	}
	out := result{EvaluationResults: all[start:end], IsTruncated: end < len(all)}
	if out.IsTruncated {
		out.Marker = base64.RawURLEncoding.EncodeToString([]byte("ecrtest:" + strconv.Itoa(end)))
	}
	return out, nil
}

// evalLocked decides one action on one resource for the principal source,
// calling as caller.
func (s *Server) evalLocked(source, caller, action, resource string, doc *policyDoc) evalResult {
	id, ok := s.iam.principals[source][strings.ToLower(action)]
	if !ok {
		id = Eval{Decision: ImplicitDeny}
		if op, isECR := strings.CutPrefix(strings.ToLower(action), "ecr:"); isECR && !s.deniedLocked(op) {
			id = Eval{Decision: Allowed, PolicyID: defaultPolicy, PolicyType: "user-managed"}
		}
	}
	r := evalResult{EvalActionName: action, EvalResourceName: resource, EvalDecision: id.Decision}
	if id.PolicyID != "" {
		r.MatchedStatements = []matched{{id.PolicyID, id.PolicyType}}
	}
	if id.Decision == ExplicitDeny || doc == nil {
		return r
	}
	fromResource := matched{"ResourcePolicy", "resource"}
	if doc.matches("Deny", caller, action) {
		r.EvalDecision, r.MatchedStatements = ExplicitDeny, []matched{fromResource}
	} else if id.Decision != Allowed && doc.matches("Allow", caller, action) {
		r.EvalDecision, r.MatchedStatements = Allowed, []matched{fromResource}
	}
	return r
}

func (s *Server) deniedLocked(lowerOp string) bool {
	for op, d := range s.denied {
		if d && strings.ToLower(op) == lowerOp {
			return true
		}
	}
	return false
}

// members reads a query-protocol list: name.member.1, name.member.2, ...
func members(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[name+".member."+strconv.Itoa(i)]
		if !ok || len(v) == 0 {
			return out
		}
		out = append(out, v[0])
	}
}

// iamEntity splits an IAM user's, group's or role's ARN
// (arn:PARTITION:iam::ACCOUNT:user/PATH/NAME).
func iamEntity(arn string) (kind, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[4] == "" {
		return "", "", false
	}
	kind, rest, _ := strings.Cut(parts[5], "/")
	if rest == "" || (kind != "user" && kind != "role" && kind != "group") {
		return "", "", false
	}
	return kind, rest[strings.LastIndex(rest, "/")+1:], true
}

// policyDoc is the part of a resource policy the stand-in evaluates.
type policyDoc struct {
	Statement []policyStatement
}

type policyStatement struct {
	Effect    string
	Principal json.RawMessage
	Action    json.RawMessage
}

func parsePolicy(text string) (*policyDoc, error) {
	var raw struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, err
	}
	d := &policyDoc{}
	if s := strings.TrimSpace(string(raw.Statement)); strings.HasPrefix(s, "{") {
		d.Statement = make([]policyStatement, 1)
		return d, json.Unmarshal(raw.Statement, &d.Statement[0])
	}
	if len(raw.Statement) == 0 {
		return d, nil
	}
	return d, json.Unmarshal(raw.Statement, &d.Statement)
}

// matches reports whether a statement with effect covers caller calling
// action.
func (d *policyDoc) matches(effect, caller, action string) bool {
	for _, st := range d.Statement {
		if st.Effect != effect || !principalCovers(st.Principal, caller) {
			continue
		}
		for _, a := range stringList(st.Action) {
			if ok, _ := path.Match(strings.ToLower(a), strings.ToLower(action)); ok {
				return true
			}
		}
	}
	return false
}

// principalCovers reads a Principal element: "*", {"AWS": "*"}, or ARNs
// and account IDs (an account's ID or root ARN covers its principals).
func principalCovers(p json.RawMessage, caller string) bool {
	if len(p) == 0 {
		return false
	}
	var aws []string
	if ps := stringList(p); len(ps) > 0 {
		aws = ps
	} else {
		var m map[string]json.RawMessage
		if json.Unmarshal(p, &m) != nil {
			return false
		}
		aws = stringList(m["AWS"])
	}
	parts := strings.SplitN(caller, ":", 6)
	account := ""
	if len(parts) == 6 {
		account = parts[4]
	}
	return slices.ContainsFunc(aws, func(a string) bool {
		return a == "*" || a == caller || (account != "" && (a == account || strings.HasSuffix(a, ":"+account+":root")))
	})
}

// stringList reads a policy element that is a string or a list of them.
func stringList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}
