package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DeleteManifest deletes repository@digest (and, on distribution, every tag
// pointing at it). The registry frees the space only on garbage collection.
// A missing manifest or repository gives an error matching ErrNotFound; a
// registry with deletes disabled (405 or UNSUPPORTED) one matching
// ErrDeleteDisabled; a locked manifest (ACR) one matching ErrLocked.
func (c *Client) DeleteManifest(ctx context.Context, repository, digest string) error {
	ref := repository + "@" + digest
	if _, err := v1.NewHash(digest); err != nil {
		return fmt.Errorf("delete %s: not a digest: %w", ref, err)
	}
	if _, err := name.NewRepository(c.reg.RegistryStr()+"/"+repository, name.StrictValidation); err != nil {
		return fmt.Errorf("delete %s: bad repository name: %w", ref, err)
	}
	err := c.pusher.Delete(ctx, c.reg.Repo(repository).Digest(digest))
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	e := describe("delete "+ref, err)
	var ce *CallError
	if !errors.As(e, &ce) {
		return e
	}
	switch {
	case ce.Status == http.StatusNotFound:
		ce.sentinel, ce.Hint = ErrNotFound, "already gone"
	case ce.HasCode("REGISTRY_DISALLOWED_OPERATION"):
		ce.sentinel, ce.Hint = ErrLocked, "locked since the scan: "+ErrLocked.Error()+"; unlock it (az acr repository update --delete-enabled true) or leave it"
	case ce.Status == http.StatusMethodNotAllowed || ce.HasCode(string(transport.UnsupportedErrorCode)):
		ce.sentinel, ce.Hint = ErrDeleteDisabled, ErrDeleteDisabled.Error()
	case ce.Status == http.StatusForbidden || ce.Status == http.StatusUnauthorized:
		ce.Hint = "the credentials may not delete; check registry.auth (on ACR the identity needs the AcrDelete role)"
	}
	return ce
}
