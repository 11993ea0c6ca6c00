// Package harbortest stands in for Harbor (OVH's managed registry is one) on
// loopback, in front of the embedded distribution registry of registrytest,
// for tests and the interactive demo (it does not import testing). It
// answers Harbor's v2.0 API as Harbor's swagger (api/v2.0/swagger.yaml)
// documents it, with its JSON field names:
//
//   - GET /api/v2.0/projects and /api/v2.0/projects/{project_name}: Project
//     objects (project_id, name, metadata with string values, among them
//     public and retention_id). A project is any first path segment of a
//     stored repository, or one made with [Server.AddProject].
//   - GET /api/v2.0/projects/{p}/repositories: Repository objects, name
//     "project/repository".
//   - GET /api/v2.0/projects/{p}/repositories/{r}/artifacts[/{reference}]:
//     Artifact objects (digest, manifest_media_type, media_type, size,
//     push_time, pull_time, extra_attrs, references with child_digest and
//     platform, tags with push_time, pull_time and, with
//     with_immutable_status=true, immutable). The listing holds every
//     manifest of the repository but the untagged ones an index
//     references, as Harbor's does. {r} is the repository's name within
//     its project, URL-encoded twice when it holds "/".
//   - DELETE .../artifacts/{digest}: deletes the manifest and its tags in
//     the registry, and an index's untagged children nothing else
//     references. 404 NOT_FOUND when it is not there; 412 PRECONDITION
//     while an immutable tag is on it; 412 VIOLATE_FOREIGN_KEY_CONSTRAINT
//     while an index references it; 403 FORBIDDEN for an account that may
//     not delete.
//   - GET /api/v2.0/projects/{p}/immutabletagrules: ImmutableRule objects;
//     GET /api/v2.0/retentions/{id}: a RetentionPolicy.
//   - GET /api/v2.0/users/current/permissions?scope=/project/{id}&relative=true:
//     the login's permissions, {resource, action}.
//   - Lists are paged by page (from 1) and page_size (default 10, at most
//     100; more is 422), with X-Total-Count and a Link header
//     (`</api/v2.0/...&page=1&page_size=10>; rel="prev" , <...>; rel="next"`).
//   - Errors are {"errors":[{"code","message"}]}.
//
// Logins: with accounts made by [Server.AddUser] (a robot account is one
// whose name starts robot$), the API takes HTTP basic auth, and /v2/ a
// bearer token from GET /service/token (basic auth, service
// harbor-registry), as Harbor's token service gives; without any account,
// everything is anonymous and allowed.
//
// A manifest's push_time is when its revision link was written unless
// [Server.SetPushTime] says otherwise. A successful GET of a manifest
// through /v2/ records a pull (pull_time), as Harbor does; a HEAD does not.
// Harbor's zero time, 0001-01-01T00:00:00.000Z, is a pull_time never set.
package harbortest
