// Package azuretest provides loopback stand-ins for the Azure services the
// bot talks to, built from the services' documented requests, responses and
// error codes: the managed-identity endpoint of the Instance Metadata
// Service ([Identity]) and the secrets API of Key Vault ([KeyVault]).
//
// Like net/http/httptest the stand-ins serve on 127.0.0.1, but this package
// does not import testing, so the interactive demo can use them too. All
// state is per instance and guarded by a mutex.
//
// The real azidentity and azsecrets clients run against them unmodified:
// pass [Identity.Transport] as azcore.ClientOptions.Transport of both the
// credential and the Key Vault client. It routes http://169.254.169.254 (the
// address ManagedIdentityCredential always uses on a VM) and every attached
// NAME.vault.azure.net to the stand-ins, and refuses every other
// non-loopback host.
//
// [Identity] also serves the managed-identity endpoint of Azure App Service
// ([Identity.AppServiceEndpoint], [Identity.AppServiceHeader]), which
// azidentity picks when IDENTITY_ENDPOINT and IDENTITY_HEADER are set and
// accepts over plain http on 127.0.0.1. That is how another process (the
// bot's binary under test) gets the real managed-identity credential code
// running against these stand-ins, through its environment alone.
package azuretest
