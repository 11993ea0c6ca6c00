// Package gartest stands in for Google Artifact Registry and Container
// Registry (gcr.io) on loopback, in front of the embedded distribution
// registry of registrytest, for tests and the interactive demo (it does
// not import testing). It follows what Google documents and what
// go-containerregistry's google package and gcr-cleaner rely on:
//
//   - Google's OAuth 2.0 token endpoint, as far as a service-account key
//     needs it: POST /token with grant_type
//     urn:ietf:params:oauth:grant-type:jwt-bearer and an RS256 assertion
//     signed with the key of [Server.KeyFile] (iss the key's client_email,
//     aud the token URI, scope including cloud-platform, exp in the
//     future), answering {"access_token","expires_in","token_type"}.
//     golang.org/x/oauth2/google reads the key file as it would a real one
//     (its token_uri points here). [Server.AccessToken] issues one
//     directly, for a static token source.
//   - The registry's token exchange: every /v2/ request needs a registry
//     token; without one it gets 401 and
//     WWW-Authenticate: Bearer realm="http://HOST/v2/token",service="HOST".
//     GET /v2/token?service=&scope= with basic auth, user oauth2accesstoken
//     or _token and a Google access token as password (docker login's and
//     go-containerregistry's names), answers {"token","expires_in","issued_at"}.
//     Tokens carry no scopes: what a Google identity may do is its IAM
//     role's, here everything unless [Server.DenyDelete] says otherwise.
//   - GET /v2/<path>/tags/list answers Google's extended listing, whole,
//     whatever n asks: "name", "tags" (every tag of the repository
//     <path>), "child" (the next path component of every repository under
//     <path>: the project's root lists the top-level repositories) and
//     "manifest", a map from digest to {imageSizeBytes (config and layers,
//     not deduplicated; an index the sum of its platform manifests'),
//     layerId "", mediaType, tag[], timeCreatedMs (the image config's
//     created time, "0" when it has none), timeUploadedMs (the push time)}
//     holding every manifest of the repository, untagged ones and an
//     index's platform manifests included. Times and sizes are strings of
//     decimal digits, as Google writes them.
//   - DELETE /v2/<repo>/manifests/<tag> untags (202). DELETE by digest
//     refuses a manifest that a tag still points at with 400
//     GOOGLE_MANIFEST_DANGLING_TAG, as Container Registry does, which is
//     why gcr-cleaner untags first; otherwise it reaches the registry.
//     Everything else under /v2/ is the embedded registry's own answer.
//
// A manifest's push time is when distribution wrote its revision link,
// unless [Server.SetUploaded] says otherwise. The server counts the
// requests it answered by kind ([Server.Requests]).
package gartest
