// Package ecrtest stands in for Amazon Elastic Container Registry (ECR) on
// loopback, in front of the embedded distribution registry of
// registrytest, for tests and the interactive demo (it does not import
// testing). It follows ECR's documented API as aws-sdk-go-v2's
// service/ecr client speaks it:
//
//   - The ECR API: POST / with Content-Type application/x-amz-json-1.1 and
//     X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>,
//     signed with AWS Signature Version 4 by the static [AccessKeyID] and
//     [SecretAccessKey] for [Region] and the service "ecr": the signature is
//     recomputed over the signed headers and the body, and a request that
//     is unsigned, signed with another key, or dated more than 15 minutes
//     off is refused (MissingAuthenticationTokenException,
//     UnrecognizedClientException, InvalidSignatureException). Errors are
//     answered 400 (ServerException 500) with {"__type", "message"} and
//     X-Amzn-ErrorType, as AWS's JSON protocols do.
//   - Operations: GetAuthorizationToken; DescribeRepositories and
//     DescribeImages (maxResults 1..1000, default 100, continued by an
//     opaque nextToken; imageIds, filter.tagStatus; imageDetails with
//     imageDigest, imageTags, imagePushedAt, imageSizeInBytes — the sum of
//     an image's compressed layers, the largest of its platform manifests'
//     for a manifest list, never deduplicated — imageManifestMediaType,
//     artifactMediaType, lastRecordedPullTime); BatchDeleteImage (1..100
//     image ids, per-image failures: ImageNotFound, InvalidImageDigest,
//     ImageTagDoesNotMatchDigest, MissingDigestAndTag,
//     ImageReferencedByManifestList for a platform manifest of a manifest
//     list that stays; deleting by digest removes its tags); GetLifecyclePolicy
//     and GetRepositoryPolicy (LifecyclePolicyNotFoundException,
//     RepositoryPolicyNotFoundException). A repository holding no manifest
//     is RepositoryNotFoundException; [Server.Throttle] makes calls answer
//     ThrottlingException, [Server.Deny] an operation AccessDeniedException,
//     [Server.Break] the next calls of an operation fail (a 500, or a 500
//     or a dropped connection after acting); [Server.Delay] slows an
//     operation, and [Server.MaxInFlight] says how many of its calls
//     overlapped. The request log ([Server.Requests]) counts the image ids
//     of each BatchDeleteImage and DescribeImages.
//   - STS and IAM on the same endpoint, in AWS's query protocol (POST /,
//     form-encoded Action=...&Version=..., signed for the service "sts" or
//     "iam" in [Region], XML answers, errors as
//     <ErrorResponse><Error><Type/><Code/><Message/></Error>): STS
//     GetCallerIdentity (the identity [Server.SetCaller] names, [CallerARN]
//     by default; no policy can deny it) and IAM SimulatePrincipalPolicy
//     (PolicySourceArn, ActionNames, ResourceArns, ResourcePolicy,
//     CallerArn, paged by MaxItems and Marker; answers set per principal
//     and action with [Server.SetSimulation], a known principal's other ECR
//     actions allowed unless [Server.Deny] refuses them; a resource policy's
//     Deny and Allow statements weighed by Effect, Principal and Action;
//     AccessDenied when [Server.Deny]("SimulatePrincipalPolicy"),
//     NoSuchEntity for an unknown principal, InvalidInput,
//     MalformedPolicyDocument). The signature errors are the query
//     protocol's: MissingAuthenticationToken, InvalidClientTokenId,
//     SignatureDoesNotMatch, IncompleteSignature.
//   - The registry's /v2/ API, behind ECR's login: basic auth, user AWS and
//     the password of a token GetAuthorizationToken issued (12 hours); a
//     request without one gets 401 with WWW-Authenticate: Basic. Every
//     manifest GET records a pull (lastRecordedPullTime), unless the
//     principal is excluded ([Server.ExcludeFromPullTime]), as ECR's pull
//     time update exclusions do. (ECR itself refreshes the pull time at
//     most about once a day; the stand-in at once.)
//
// A repository is any repository of the embedded registry holding a
// manifest; an image's push time is when distribution wrote it, unless
// [Server.SetPushed] says otherwise.
package ecrtest
