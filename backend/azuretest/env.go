package azuretest

import (
	"os"
	"strings"
)

// EnvSetter is the part of testing.TB that HermeticEnv uses.
type EnvSetter interface {
	Helper()
	Setenv(key, value string)
}

// HermeticEnv clears, until the test ends, every environment variable that
// would make azidentity choose another credential or managed-identity
// source than the IMDS stand-in, and limits DefaultAzureCredential to its
// "prod" credentials so that no test runs the Azure CLI.
func HermeticEnv(t EnvSetter) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "AZURE_"), name == "IDENTITY_ENDPOINT", name == "IDENTITY_HEADER",
			name == "IDENTITY_SERVER_THUMBPRINT", name == "MSI_ENDPOINT", name == "MSI_SECRET", name == "IMDS_ENDPOINT":
			t.Setenv(name, "") // registers the restoration
			os.Unsetenv(name)
		}
	}
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "prod")
}
