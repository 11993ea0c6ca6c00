package ecrtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// apiError is an ECR API error: its __type and message, answered 400 (or
// 500 for a ServerException).
type apiError struct{ code, message string }

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

// epoch is a time as the JSON 1.1 protocol writes it: seconds since the
// epoch, with fractions.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", float64(time.Time(t).UnixMilli())/1000)), nil
}

func ptrEpoch(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// serveAPI answers a POST / of the ECR API (JSON 1.1): it checks the
// signature, then runs the operation X-Amz-Target names.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rec *Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeAPIError(w, errf("SerializationException", "read the request body: %v", err))
		return
	}
	key, code, msg := verifySigV4(r, body, time.Now()) // the signer's clock is the wall clock
	if code != "" {
		writeAPIError(w, &apiError{code, msg})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeAPIError(w, errf("SerializationException", "Content-Type %q is not application/x-amz-json-1.1", ct))
		return
	}
	s.mu.Lock()
	throttled := s.throttle > 0
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	if throttled {
		writeAPIError(w, errf("ThrottlingException", "Rate exceeded"))
		return
	}
	target, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	op := operations[target]
	if !ok || op == nil {
		writeAPIError(w, errf("UnknownOperationException", "Operation %q is not supported", r.Header.Get("X-Amz-Target")))
		return
	}
	s.mu.Lock()
	denied := s.denied[target]
	s.mu.Unlock()
	if denied {
		writeAPIError(w, errf("AccessDeniedException", "User: arn:aws:iam::%s:user/ecrtest is not authorized to perform: ecr:%s on resource: arn:aws:ecr:%s:%s:repository/*", RegistryID, target, Region, RegistryID))
		return
	}
	var ids struct {
		ImageIDs []json.RawMessage `json:"imageIds"`
	}
	if json.Unmarshal(body, &ids) == nil {
		rec.ImageIDs = len(ids.ImageIDs)
	}
	delay, fault, broken := s.begin(target)
	defer s.end(target)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if broken && fault == ServerError {
		writeAPIError(w, errf("ServerException", "the stand-in was told to fail this call"))
		return
	}
	out, aerr := op(s, &call{r: r, body: body, key: key})
	switch {
	case broken && fault == ActThenDrop:
		panic(http.ErrAbortHandler) // the server closes the connection, unanswered
	case broken:
		writeAPIError(w, errf("ServerException", "the stand-in was told to fail this call after acting on it"))
		return
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeAPIError(w, errf("ServerException", "marshal the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("ecrtest-%d", time.Now().UnixNano()))
	_, _ = w.Write(b)
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	status := http.StatusBadRequest
	if e.code == "ServerException" {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", e.code)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.message})
	_, _ = w.Write(b)
}

// call is one API call: its request, body and signer's access key.
type call struct {
	r    *http.Request
	body []byte
	key  string
}

func (c *call) decode(v any) *apiError {
	if err := json.Unmarshal(c.body, v); err != nil {
		return errf("SerializationException", "%v", err)
	}
	return nil
}

var operations = map[string]func(*Server, *call) (any, *apiError){
	"GetAuthorizationToken": (*Server).getAuthorizationToken,
	"DescribeRepositories":  (*Server).describeRepositories,
	"DescribeImages":        (*Server).describeImages,
	"BatchDeleteImage":      (*Server).batchDeleteImage,
	"GetLifecyclePolicy":    (*Server).getLifecyclePolicy,
	"GetRepositoryPolicy":   (*Server).getRepositoryPolicy,
}

func (s *Server) getAuthorizationToken(c *call) (any, *apiError) {
	tok, exp, err := s.newToken(c.key)
	if err != nil {
		return nil, errf("ServerException", "issue a token: %v", err)
	}
	type data struct {
		AuthorizationToken string `json:"authorizationToken"`
		ExpiresAt          epoch  `json:"expiresAt"`
		ProxyEndpoint      string `json:"proxyEndpoint"`
	}
	return map[string][]data{"authorizationData": {{tok, epoch(exp), s.URL()}}}, nil
}

// page reads maxResults (1..1000, default 100) and nextToken, an opaque
// token naming the last key of the previous page.
func page(maxResults *int, nextToken string) (int, string, *apiError) {
	n := 100
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 1000 {
			return 0, "", errf("InvalidParameterException", "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'")
		}
		n = *maxResults
	}
	if nextToken == "" {
		return n, "", nil
	}
	last, err := base64.RawURLEncoding.DecodeString(nextToken)
	if err != nil || !strings.HasPrefix(string(last), "ecrtest:") {
		return 0, "", errf("InvalidParameterException", "Invalid parameter at 'nextToken': the token is not valid")
	}
	return n, strings.TrimPrefix(string(last), "ecrtest:"), nil
}

func tokenAfter(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ecrtest:" + last))
}

func (s *Server) checkRegistry(id string) *apiError {
	if id != "" && id != RegistryID {
		return errf("InvalidParameterException", "Invalid parameter at 'registryId': %s is not this account's registry", id)
	}
	return nil
}

type repository struct {
	RepositoryArn      string `json:"repositoryArn"`
	RegistryID         string `json:"registryId"`
	RepositoryName     string `json:"repositoryName"`
	RepositoryURI      string `json:"repositoryUri"`
	CreatedAt          epoch  `json:"createdAt"`
	ImageTagMutability string `json:"imageTagMutability"`
}

func (s *Server) describeRepositories(c *call) (any, *apiError) {
	var in struct {
		RegistryID      string   `json:"registryId"`
		RepositoryNames []string `json:"repositoryNames"`
		NextToken       string   `json:"nextToken"`
		MaxResults      *int     `json:"maxResults"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if e := s.checkRegistry(in.RegistryID); e != nil {
		return nil, e
	}
	if len(in.RepositoryNames) > 0 && (in.MaxResults != nil || in.NextToken != "") {
		return nil, errf("InvalidParameterException", "maxResults and nextToken cannot be used with repositoryNames")
	}
	n, last, e := page(in.MaxResults, in.NextToken)
	if e != nil {
		return nil, e
	}
	names, err := s.repositories(c.r.Context())
	if err != nil {
		return nil, errf("ServerException", "list repositories: %v", err)
	}
	if len(in.RepositoryNames) > 0 {
		for _, want := range in.RepositoryNames {
			if !slices.Contains(names, want) {
				return nil, errf("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", want, RegistryID)
			}
		}
		names, n = in.RepositoryNames, len(in.RepositoryNames)
	}
	out := struct {
		Repositories []repository `json:"repositories"`
		NextToken    string       `json:"nextToken,omitempty"`
	}{Repositories: []repository{}}
	for _, name := range names {
		if last != "" && name <= last {
			continue
		}
		if len(out.Repositories) == n {
			out.NextToken = tokenAfter(out.Repositories[n-1].RepositoryName)
			break
		}
		out.Repositories = append(out.Repositories, repository{
			RepositoryArn: fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", Region, RegistryID, name), RegistryID: RegistryID,
			RepositoryName: name, RepositoryURI: s.Host() + "/" + name, CreatedAt: epoch(time.Unix(1700000000, 0)), ImageTagMutability: "MUTABLE",
		})
	}
	return out, nil
}

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

type imageDetail struct {
	RegistryID             string   `json:"registryId"`
	RepositoryName         string   `json:"repositoryName"`
	ImageDigest            string   `json:"imageDigest"`
	ImageTags              []string `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
	ImagePushedAt          *epoch   `json:"imagePushedAt,omitempty"`
	ImageManifestMediaType string   `json:"imageManifestMediaType,omitempty"`
	ArtifactMediaType      string   `json:"artifactMediaType,omitempty"`
	LastRecordedPullTime   *epoch   `json:"lastRecordedPullTime,omitempty"`
	SubjectManifestDigest  string   `json:"subjectManifestDigest,omitempty"`
	ImageStatus            string   `json:"imageStatus"`
}

// repoImages describes repo's images, answering RepositoryNotFoundException
// for a repository with none.
func (s *Server) repoImages(c *call, registryID, repo string) ([]image, *apiError) {
	if e := s.checkRegistry(registryID); e != nil {
		return nil, e
	}
	if repo == "" {
		return nil, errf("InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must not be null'")
	}
	ims, err := s.images(c.r.Context(), repo)
	if errors.Is(err, errRepositoryNotFound) {
		return nil, errf("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", repo, RegistryID)
	}
	if err != nil {
		return nil, errf("ServerException", "read %s: %v", repo, err)
	}
	return ims, nil
}

func (s *Server) describeImages(c *call) (any, *apiError) {
	var in struct {
		RegistryID     string    `json:"registryId"`
		RepositoryName string    `json:"repositoryName"`
		ImageIDs       []imageID `json:"imageIds"`
		NextToken      string    `json:"nextToken"`
		MaxResults     *int      `json:"maxResults"`
		Filter         *struct {
			TagStatus string `json:"tagStatus"`
		} `json:"filter"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if len(in.ImageIDs) > 0 && (in.MaxResults != nil || in.NextToken != "") {
		return nil, errf("InvalidParameterException", "maxResults and nextToken cannot be used with imageIds")
	}
	n, last, e := page(in.MaxResults, in.NextToken)
	if e != nil {
		return nil, e
	}
	l := s.deletions(in.RepositoryName)
	l.RLock()
	defer l.RUnlock()
	ims, e := s.repoImages(c, in.RegistryID, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	if len(in.ImageIDs) > 0 {
		var picked []image
		for _, id := range in.ImageIDs {
			k := slices.IndexFunc(ims, func(im image) bool {
				return (id.ImageDigest == "" || im.digest == id.ImageDigest) && (id.ImageTag == "" || slices.Contains(im.tags, id.ImageTag))
			})
			if k < 0 || id.ImageDigest == "" && id.ImageTag == "" {
				return nil, errf("ImageNotFoundException", "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
					id.ImageDigest, id.ImageTag, in.RepositoryName, RegistryID)
			}
			picked = append(picked, ims[k])
		}
		ims, n = picked, len(picked)
	}
	status := "ANY"
	if in.Filter != nil && in.Filter.TagStatus != "" {
		status = in.Filter.TagStatus
		if status != "ANY" && status != "TAGGED" && status != "UNTAGGED" {
			return nil, errf("InvalidParameterException", "Invalid parameter at 'filter.tagStatus': %q is not one of TAGGED, UNTAGGED, ANY", status)
		}
	}
	out := struct {
		ImageDetails []imageDetail `json:"imageDetails"`
		NextToken    string        `json:"nextToken,omitempty"`
	}{ImageDetails: []imageDetail{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, im := range ims {
		if last != "" && im.digest <= last || status == "TAGGED" && len(im.tags) == 0 || status == "UNTAGGED" && len(im.tags) > 0 {
			continue
		}
		if len(out.ImageDetails) == n {
			out.NextToken = tokenAfter(out.ImageDetails[n-1].ImageDigest)
			break
		}
		out.ImageDetails = append(out.ImageDetails, imageDetail{
			RegistryID: RegistryID, RepositoryName: in.RepositoryName, ImageDigest: im.digest, ImageTags: im.tags,
			ImageSizeInBytes: im.size, ImagePushedAt: ptrEpoch(im.pushed), ImageManifestMediaType: im.mediaType,
			ArtifactMediaType: im.artifactMediaType, LastRecordedPullTime: ptrEpoch(s.pulled[imageKey{in.RepositoryName, im.digest}]),
			SubjectManifestDigest: im.subject, ImageStatus: "ACTIVE",
		})
	}
	return out, nil
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

type imageFailure struct {
	ImageID       imageID `json:"imageId"`
	FailureCode   string  `json:"failureCode"`
	FailureReason string  `json:"failureReason"`
}

func (s *Server) batchDeleteImage(c *call) (any, *apiError) {
	var in struct {
		RegistryID     string    `json:"registryId"`
		RepositoryName string    `json:"repositoryName"`
		ImageIDs       []imageID `json:"imageIds"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if len(in.ImageIDs) < 1 || len(in.ImageIDs) > 100 {
		return nil, errf("InvalidParameterException", "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length less than or equal to 100 and greater than or equal to 1'")
	}
	// ECR deletes an image whole or not at all, whatever the client does
	// meanwhile: a client that gives up (or its retry) neither cuts a
	// deletion short nor runs beside it, and a look-up made after it gave
	// up sees what the call did (ECR acts long before a client gives up).
	l := s.deletions(in.RepositoryName)
	l.Lock()
	defer l.Unlock()
	ctx := context.WithoutCancel(c.r.Context())
	ims, e := s.repoImages(c, in.RegistryID, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	out := struct {
		ImageIDs []imageID      `json:"imageIds"`
		Failures []imageFailure `json:"failures"`
	}{ImageIDs: []imageID{}, Failures: []imageFailure{}}
	gone := map[string]bool{}
	fail := func(id imageID, code, reason string) {
		out.Failures = append(out.Failures, imageFailure{id, code, reason})
	}
	for _, id := range in.ImageIDs {
		switch {
		case id.ImageDigest == "" && id.ImageTag == "":
			fail(id, "MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null")
			continue
		case id.ImageDigest != "" && !digestRE.MatchString(id.ImageDigest):
			fail(id, "InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
			continue
		}
		k := slices.IndexFunc(ims, func(im image) bool {
			return !gone[im.digest] && (id.ImageDigest == "" || im.digest == id.ImageDigest) && (id.ImageTag == "" || slices.Contains(im.tags, id.ImageTag))
		})
		if k < 0 {
			if id.ImageDigest != "" && id.ImageTag != "" && slices.ContainsFunc(ims, func(im image) bool { return im.digest == id.ImageDigest && !gone[im.digest] }) {
				fail(id, "ImageTagDoesNotMatchDigest", "Invalid request parameters: given tag does not match the given digest")
			} else {
				fail(id, "ImageNotFound", "Requested image not found")
			}
			continue
		}
		im := &ims[k]
		s.mu.Lock()
		code := s.failDelete[imageKey{in.RepositoryName, im.digest}]
		s.mu.Unlock()
		if code != "" {
			fail(id, code, "The stand-in was told to fail this image")
			continue
		}
		if id.ImageDigest == "" && len(im.tags) > 1 { // untag only: other tags remain
			if err := s.untag(ctx, in.RepositoryName, id.ImageTag); err != nil {
				return nil, errf("ServerException", "untag %s:%s: %v", in.RepositoryName, id.ImageTag, err)
			}
			im.tags = slices.DeleteFunc(im.tags, func(t string) bool { return t == id.ImageTag })
			out.ImageIDs = append(out.ImageIDs, imageID{im.digest, id.ImageTag})
			continue
		}
		if slices.ContainsFunc(ims, func(p image) bool { return !gone[p.digest] && slices.Contains(p.children, im.digest) }) {
			fail(id, "ImageReferencedByManifestList", fmt.Sprintf("Requested image %s is referenced by one or more manifest lists that are not being deleted", im.digest))
			continue
		}
		if err := s.deleteImage(ctx, in.RepositoryName, digest.Digest(im.digest), im.tags); err != nil {
			return nil, errf("ServerException", "delete %s@%s: %v", in.RepositoryName, im.digest, err)
		}
		gone[im.digest] = true
		s.SetPulled(in.RepositoryName, im.digest, time.Time{})
		if len(im.tags) == 0 {
			out.ImageIDs = append(out.ImageIDs, imageID{ImageDigest: im.digest})
		}
		for _, t := range im.tags {
			out.ImageIDs = append(out.ImageIDs, imageID{im.digest, t})
		}
	}
	return out, nil
}

func (s *Server) getLifecyclePolicy(c *call) (any, *apiError) {
	return s.policyText(c, s.lifecycle, "lifecyclePolicyText", "LifecyclePolicyNotFoundException", "Lifecycle policy does not exist")
}

func (s *Server) getRepositoryPolicy(c *call) (any, *apiError) {
	return s.policyText(c, s.policies, "policyText", "RepositoryPolicyNotFoundException", "Repository policy does not exist")
}

// policyText answers a repository's policy of kind field from m.
func (s *Server) policyText(c *call, m map[string]string, field, notFound, msg string) (any, *apiError) {
	var in struct {
		RegistryID     string `json:"registryId"`
		RepositoryName string `json:"repositoryName"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if _, e := s.repoImages(c, in.RegistryID, in.RepositoryName); e != nil {
		return nil, e
	}
	s.mu.Lock()
	text, ok := m[in.RepositoryName]
	s.mu.Unlock()
	if !ok {
		return nil, errf(notFound, "%s for the repository with name '%s' in the registry with id '%s'", msg, in.RepositoryName, RegistryID)
	}
	return map[string]string{"registryId": RegistryID, "repositoryName": in.RepositoryName, field: text}, nil
}
