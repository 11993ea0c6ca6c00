package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ProbePage is how many repositories a probe lists.
const ProbePage = 10

// What a probe learnt of the identity's right to delete.
const (
	DeleteGranted = "granted"
	DeleteDenied  = "denied"
	DeleteUnknown = "unknown"
)

// Probe is what one listing page showed: the registry answers, lets the
// client in, and lists.
type Probe struct {
	// Repositories is the first page of the catalog (at most ProbePage).
	Repositories []string
	// Delete is DeleteGranted or DeleteDenied where the registry's login
	// says (ACR's access token lists the actions it grants), else
	// DeleteUnknown; Detail explains it.
	Delete, DeleteDetail string
}

// Probe lists one page of the catalog, changing nothing.
func (c *Client) Probe(ctx context.Context) (Probe, error) {
	repos, err := remote.CatalogPage(c.reg, "", ProbePage, append(slices.Clone(c.remoteOpts), remote.WithContext(ctx))...)
	if err != nil {
		return Probe{}, describe("list repositories of "+c.host, err)
	}
	return Probe{Repositories: repos, Delete: DeleteUnknown,
		DeleteDetail: "the distribution API does not say what a login may do before it tries"}, nil
}

// Probe logs in to ACR, lists one page of its repositories (the ACR
// listing), and asks for an access token to delete in the first one,
// whose access claim says whether the identity may: nothing is deleted.
func (a *ACR) Probe(ctx context.Context) (Probe, error) {
	refresh, err := a.tokens.get(ctx)
	if err != nil {
		return Probe{}, err
	}
	pager := a.az.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](ProbePage)})
	page, err := pager.NextPage(ctx)
	if err != nil {
		return Probe{}, acrCallError("list repositories of "+a.host, err)
	}
	p := Probe{Delete: DeleteUnknown}
	for _, n := range page.Names {
		if n != nil {
			p.Repositories = append(p.Repositories, *n)
		}
	}
	if len(p.Repositories) == 0 {
		p.DeleteDetail = "the registry has no repository to ask about"
		return p, nil
	}
	repo := p.Repositories[0]
	resp, err := a.tokens.auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, a.host, "repository:"+repo+":delete", refresh,
		&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypeRefreshToken)})
	if err != nil {
		p.DeleteDetail = acrCallError("ask for a delete token on "+repo, err).Error()
		return p, nil
	}
	if resp.AccessToken == nil {
		p.DeleteDetail = "the registry gave no access token"
		return p, nil
	}
	actions, ok := accessActions(*resp.AccessToken, "repository", repo)
	switch {
	case !ok:
		p.DeleteDetail = "ACR's access token carries no readable access claim"
	case slices.Contains(actions, "delete") || slices.Contains(actions, "*"):
		p.Delete, p.DeleteDetail = DeleteGranted, fmt.Sprintf("ACR's token grants delete on %s", repo)
	default:
		p.Delete, p.DeleteDetail = DeleteDenied, fmt.Sprintf("ACR's token for %s grants %s but not delete", repo, orNone(actions))
	}
	return p, nil
}

func orNone(actions []string) string {
	if len(actions) == 0 {
		return "nothing"
	}
	return strings.Join(actions, ", ")
}

// accessActions reads the actions a registry access token (a JWT, read
// without verifying it: the registry checks it, this only reports) grants
// on one resource. ok is false when the token has no access claim.
func accessActions(tok, typ, name string) (actions []string, ok bool) {
	entries, ok := accessClaim(tok)
	if !ok {
		return nil, false
	}
	for _, g := range entries {
		if g.Type == typ && (g.Name == name || g.Name == "*") {
			actions = append(actions, g.Actions...)
		}
	}
	return actions, true
}
