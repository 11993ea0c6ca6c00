// Package acrtest stands in for Azure Container Registry (ACR) on loopback,
// in front of the embedded distribution registry of registrytest, for tests
// and the interactive demo (it does not import testing). It follows ACR's
// documented requests, responses and error codes as the Azure SDK's
// azcontainerregistry client, its recordings and Azure/acr-cli use them:
//
//   - Token auth only. Every /v2/ and /acr/v1/ request needs an ACR access
//     token; without one (or with basic auth) it gets 401 and
//     WWW-Authenticate: Bearer realm="http://HOST/oauth2/token",service="HOST",scope="..."
//     with the scope it needs: repository:<repo>:pull (reads),
//     :push (writes), :delete (deletes), :metadata_read (listings and
//     properties), :metadata_write (PATCH), registry:catalog:* (catalogs).
//     A token that is expired or lacks the scope adds error="invalid_token"
//     or error="insufficient_scope".
//   - POST /oauth2/exchange (form grant_type=access_token, service,
//     access_token[, tenant]) turns a Microsoft Entra access token issued by
//     the server's [azuretest.Identity] for https://containerregistry.azure.net
//     (or Azure Resource Manager) into {"refresh_token": JWT}.
//   - /oauth2/token turns a refresh token into {"access_token": JWT} carrying
//     the scopes asked for in its "access" claim, each resource once with
//     its actions: one request may ask for many repositories, its scopes
//     space-separated in one scope parameter (as acr-cli asks) or a
//     parameter each, actions one per scope or joined by commas. POST form
//     grant_type=refresh_token, service, scope, refresh_token (the SDK,
//     go-containerregistry with an identity token), or GET ?service=&scope=
//     with basic auth user 00000000-0000-0000-0000-000000000000 and the
//     refresh token as password (go-containerregistry and docker with that
//     user name). Every identity may do everything unless [Server.Permit]
//     limits it, as missing role assignments would.
//   - GET /acr/v1/_catalog and GET /acr/v1/<repo>/_manifests list at most
//     100 entries a page whatever n asks, continuing through a relative
//     Link header such as </acr/v1/a%2Fb/_manifests?last=sha256%3A...&n=100&orderby=>; rel="next".
//     The manifest listing holds every manifest of the repository from the
//     registry's storage: tagged, untagged (no "tags" key) and an index's
//     platform manifests as entries of their own, by digest or by
//     lastUpdateTime (orderby=timeasc|timedesc), each with imageSize (config
//     plus layers, not deduplicated; an index: the sum of its platform
//     manifests'), createdTime and lastUpdateTime (7 fractional digits),
//     architecture and os (from the image config), mediaType,
//     configMediaType and changeableAttributes.
//   - GET and PATCH /acr/v1/<repo>/_manifests/<digest> show and change
//     changeableAttributes, with "references" for an index.
//   - GET and PATCH /acr/v1/<repo> show and change the repository's
//     properties: {registry, imageName, createdTime, lastUpdateTime,
//     manifestCount, tagCount, changeableAttributes}. GET
//     /acr/v1/<repo>/_tags lists its tags, {registry, imageName,
//     tags:[{name, digest, createdTime, lastUpdateTime, signed,
//     changeableAttributes}]}, by name (lexically after last) or by
//     lastUpdateTime, filtered by digest, pages of n (100 without it, at most 1,000) with a Link header;
//     GET and PATCH /acr/v1/<repo>/_tags/<tag> show and change one.
//   - Locks at all three levels (locks.go): DELETE /v2/<repo>/manifests/<digest>
//     answers 405 REGISTRY_DISALLOWED_OPERATION when the manifest, a tag
//     pointing at it, or (writeEnabled false) its repository refuses it;
//     by tag 405 UNSUPPORTED; other deletes reach the registry (202).
//     DELETE /acr/v1/<repo>/_tags/<tag> untags (refused for a locked tag or
//     in a write-disabled repository); DELETE /acr/v1/<repo> deletes the
//     whole repository unless it or anything in it is locked.
//
// A manifest's createdTime is its push time (when distribution wrote its
// revision link) unless [Server.SetCreated] says otherwise. The server
// records every request ([Server.Requests]) and every token it issued
// ([Server.IssuedTokens]), so tests can count manifest reads and look for
// leaked tokens.
//
// [NewSynthetic] serves the same API from a registry it makes up instead
// of the embedded one: BinderHub-like repositories of any size (100,000
// manifests cost the stand-in about 110 MB and 3 s to make), manifests and
// configs generated deterministically when asked for, for benchmarks at
// the scale of a real BinderHub registry. [WithLatency] delays every
// answer, as a registry in another network does.
//
// The Azure SDK's client runs against it unmodified over plain http
// (azcontainerregistry.NewClient(server.URL(), cred, nil)): its
// authentication policy is its own, not azcore's bearer policy, and does not
// insist on TLS. Tokens are JWTs whose payload also decodes as standard
// base64, which the SDK (v0.2.3) relies on to read a refresh token's expiry.
package acrtest
