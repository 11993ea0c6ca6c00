package secrets

import "github.com/Azure/azure-sdk-for-go/sdk/azcore"

// Credential returns the Azure credential the resolver reads Key Vault with
// (the credential given by WithCredential, else the managed identity named
// by WithAzureClientID, else azidentity's default chain), built once. The
// registry logs in to ACR with the same identity.
func (r *Resolver) Credential() (azcore.TokenCredential, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.credentialLocked()
}
