package registry

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-containerregistry/pkg/authn"
)

// ACRKeychain logs in to Azure Container Registries for clients other than
// the registry's own, such as chart repositories kept in ACR: a host that
// isACR accepts (config.IsACRHost in a run) gets the login NewACR uses, an
// ACR refresh token exchanged for cred's Microsoft Entra token, renewed
// before it expires and kept per host; any other host is anonymous, so the
// keychain goes last in an authn.MultiKeychain. Nothing is exchanged until
// a request needs it. It takes New's WithTransport, WithRetry, WithClock
// and WithInsecure.
func ACRKeychain(cred azcore.TokenCredential, isACR func(host string) bool, opts ...Option) (authn.Keychain, error) {
	if cred == nil || isACR == nil {
		return nil, fmt.Errorf("ACR keychain: needs an Azure credential and a test of ACR hosts")
	}
	o := options{concurrency: DefaultConcurrency, pageSize: DefaultPageSize, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("ACR keychain: %w", err)
		}
	}
	return &acrKeychain{cred: cred, isACR: isACR, o: o, hosts: map[string]*acrTokens{}}, nil
}

type acrKeychain struct {
	cred  azcore.TokenCredential
	isACR func(string) bool
	o     options

	mu    sync.Mutex
	hosts map[string]*acrTokens
}

var _ authn.ContextKeychain = (*acrKeychain)(nil)

// Resolve implements authn.Keychain.
func (k *acrKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), target)
}

// ResolveContext implements authn.ContextKeychain.
func (k *acrKeychain) ResolveContext(_ context.Context, target authn.Resource) (authn.Authenticator, error) {
	host := target.RegistryStr()
	if !k.isACR(host) {
		return authn.Anonymous, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if t, ok := k.hosts[host]; ok {
		return t, nil
	}
	t, _, _, err := newACRTokens(host, k.cred, &k.o)
	if err != nil {
		return nil, err
	}
	k.hosts[host] = t
	return t, nil
}
