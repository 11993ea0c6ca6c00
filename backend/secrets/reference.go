package secrets

import (
	"fmt"
	"regexp"
	"strings"
)

// Kind is the source a reference points at.
type Kind string

// Reference kinds.
const (
	KindEnv      Kind = "env"
	KindFile     Kind = "file"
	KindKeyVault Kind = "keyvault"
)

// Accepted is the list of reference forms, for messages.
const Accepted = "use env:NAME, file:PATH or keyvault://VAULT/SECRET"

// Reference is a parsed secret reference.
type Reference struct {
	Kind Kind
	// EnvVar is the variable of an env: reference.
	EnvVar string
	// Path is the file of a file: reference.
	Path string
	// Vault is the vault name of a keyvault: reference ("myvault"), and
	// VaultHost its host ("myvault.vault.azure.net").
	Vault, VaultHost string
	// SecretName is the secret of a keyvault: reference, and Version its
	// optional version ("" means the latest).
	SecretName, Version string
}

// vaultSuffixes are the Key Vault DNS suffixes of the Azure clouds.
var vaultSuffixes = []string{".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de"}

var (
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	vaultNameRE  = regexp.MustCompile(`^[a-zA-Z](?:[a-zA-Z0-9]|-[a-zA-Z0-9]){2,23}$`)
	secretNameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	versionRE    = regexp.MustCompile(`^[0-9a-zA-Z]{1,64}$`)
)

// ParseReference parses env:NAME, file:PATH (also file:///PATH) and
// keyvault://VAULT/SECRET[/VERSION], where VAULT is a vault name
// ("myvault", meaning https://myvault.vault.azure.net/) or a vault host
// ("myvault.vault.azure.net"). Surrounding spaces are ignored. An input that
// is no reference at all is never quoted in the error, since it may be a
// secret pasted where a reference belongs; a reference whose name looks like
// a credential (a GitHub token, a JWT, a long random string) is refused
// showing at most its first four characters; a string that is no valid
// name (a vault name with an underscore, a secret name with a space) is
// not quoted, or by its first four characters only, since it may be a
// value pasted where the name belongs; any other name an error quotes is
// shown whole, since it is what the operator has to fix.
func ParseReference(ref string) (Reference, error) {
	s := strings.TrimSpace(ref)
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Reference{}, notReference()
	}
	switch Kind(strings.ToLower(scheme)) {
	case KindEnv:
		if err := refuseCredential(KindEnv, "variable name", rest, true); err != nil {
			return Reference{}, err
		}
		if !envNameRE.MatchString(rest) {
			// don't echo: a token pasted after env: is a valid-looking mistake
			return Reference{}, newError(ErrBadReference, "", "env: reference needs a variable name of letters, digits and underscores, not starting with a digit (env:NAME)", nil)
		}
		return Reference{Kind: KindEnv, EnvVar: rest}, nil
	case KindFile:
		p := rest
		if strings.HasPrefix(p, "//") {
			// file:///abs/path URL form; a host part is not supported
			p = strings.TrimPrefix(p, "//")
			if !strings.HasPrefix(p, "/") {
				return Reference{}, newError(ErrBadReference, "", "file:// reference must name an absolute path with no host (file:///PATH or file:PATH)", nil)
			}
		}
		if p == "" {
			return Reference{}, newError(ErrBadReference, "", "file: reference has no path (file:PATH)", nil)
		}
		if err := refuseCredential(KindFile, "path", p, true); err != nil {
			return Reference{}, err
		}
		if strings.ContainsRune(p, 0) {
			return Reference{}, newError(ErrBadReference, "", "file: reference path contains a NUL byte", nil)
		}
		return Reference{Kind: KindFile, Path: p}, nil
	case KindKeyVault:
		return parseKeyVault(rest)
	}
	return Reference{}, notReference()
}

func notReference() error {
	return newError(ErrBadReference, "", "not a secret reference ("+Accepted+")", nil)
}

func parseKeyVault(rest string) (Reference, error) {
	const form = "keyvault://VAULT/SECRET"
	body, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return Reference{}, newError(ErrBadReference, "", "keyvault reference must look like "+form, nil)
	}
	parts := strings.Split(strings.TrimSuffix(body, "/"), "/")
	for i, part := range parts {
		// a version is 32 random hex digits by design
		if err := refuseCredential(KindKeyVault, [...]string{"vault name", "secret name", "version"}[min(i, 2)], part, i < 2 || !isVersion(part)); err != nil {
			return Reference{}, err
		}
	}
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return Reference{}, newError(ErrBadReference, "", "keyvault reference must look like "+form+" (optionally /VERSION)", nil)
	}
	r := Reference{Kind: KindKeyVault}
	vault := strings.ToLower(parts[0])
	if strings.Contains(vault, ".") {
		name, ok := "", false
		for _, suf := range vaultSuffixes {
			if n, found := strings.CutSuffix(vault, suf); found {
				name, ok = n, true
				break
			}
		}
		if !ok || strings.Contains(name, ".") {
			return Reference{}, newError(ErrBadReference, "", fmt.Sprintf("%q is not a Key Vault host (VAULT.vault.azure.net); give the vault name or its host", shown(vault)), nil)
		}
		r.Vault, r.VaultHost = name, vault
	} else {
		r.Vault, r.VaultHost = vault, vault+vaultSuffixes[0]
	}
	if !vaultNameRE.MatchString(r.Vault) {
		return Reference{}, newError(ErrBadReference, "", fmt.Sprintf("invalid vault name %q: vault names have 3-24 letters, digits and single hyphens, start with a letter and end with a letter or digit", abbrev(r.Vault)), nil)
	}
	r.SecretName = parts[1]
	if !secretNameRE.MatchString(r.SecretName) {
		return Reference{}, newError(ErrBadReference, "", fmt.Sprintf("invalid secret name in vault %s: secret names have 1-127 letters, digits and hyphens", shown(r.Vault)), nil)
	}
	if len(parts) == 3 {
		r.Version = parts[2]
		if !versionRE.MatchString(r.Version) {
			return Reference{}, newError(ErrBadReference, "", fmt.Sprintf("invalid version of secret %s in vault %s: versions are letters and digits", shown(r.SecretName), shown(r.Vault)), nil)
		}
	}
	return r, nil
}

// refuseCredential refuses a reference whose name (what: "variable name",
// "path", ...) looks like a credential, showing at most the first four
// characters of a recognisable prefix. random: see credentialShape.
func refuseCredential(kind Kind, what, name string, random bool) error {
	shape := credentialShape(name, random)
	if shape == "" {
		return nil
	}
	prefix := ""
	if shape == shapeGitHub || shape == shapeJWT {
		prefix = " (" + abbrev(name) + ")"
	}
	where, fix := "", ""
	switch kind {
	case KindEnv:
		where, fix = "after env:", "put the secret in an environment variable and write env:NAME"
	case KindFile:
		where, fix = "after file:", "put the secret in a file only its owner can read and write file:PATH"
	default:
		where, fix = "of the keyvault reference", "store the secret in the vault and write keyvault://VAULT/SECRET"
	}
	return newError(ErrBadReference, "", fmt.Sprintf(
		"the %s %s looks like %s%s, not a %s: %s; if it is a real credential, revoke it, since it has been written into the configuration",
		what, where, shape, prefix, what, fix), nil)
}

// isVersion reports whether s has the form of a Key Vault secret version: 32
// hex digits, random by design, so not judged as a pasted credential.
func isVersion(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// String returns the reference in canonical form. Errors and logs use label.
func (r Reference) String() string {
	switch r.Kind {
	case KindEnv:
		return "env:" + r.EnvVar
	case KindFile:
		return "file:" + r.Path
	case KindKeyVault:
		vault := r.Vault
		if r.VaultHost != "" && r.VaultHost != r.Vault+vaultSuffixes[0] {
			vault = r.VaultHost
		}
		s := "keyvault://" + vault + "/" + r.SecretName
		if r.Version != "" {
			s += "/" + r.Version
		}
		return s
	}
	return "invalid reference"
}

// label is the reference as errors and logs show it: its canonical form,
// a credential-shaped name cut to its first four characters (see shown).
func (r Reference) label() string {
	switch r.Kind {
	case KindEnv:
		return "env:" + shown(r.EnvVar)
	case KindFile:
		return "file:" + shown(r.Path)
	case KindKeyVault:
		s := "keyvault://" + r.vaultLabel() + "/" + shown(r.SecretName)
		if r.Version != "" {
			s += "/" + shown(r.Version)
		}
		return s
	}
	return "invalid reference"
}

// refuseCredentialNames refuses a parsed reference whose names look like a
// credential, for references built without ParseReference.
func (r Reference) refuseCredentialNames() error {
	switch r.Kind {
	case KindEnv:
		return refuseCredential(KindEnv, "variable name", r.EnvVar, true)
	case KindFile:
		return refuseCredential(KindFile, "path", r.Path, true)
	case KindKeyVault:
		for _, n := range []struct {
			what, name string
			random     bool
		}{{"vault name", r.Vault, true}, {"vault name", r.VaultHost, true}, {"secret name", r.SecretName, true}, {"version", r.Version, !isVersion(r.Version)}} {
			if err := refuseCredential(KindKeyVault, n.what, n.name, n.random); err != nil {
				return err
			}
		}
	}
	return nil
}

// vaultLabel names the vault in messages: its name, and the host's suffix
// when it is not the public cloud's.
func (r Reference) vaultLabel() string {
	if r.VaultHost != "" && r.VaultHost != r.Vault+vaultSuffixes[0] {
		if suffix, ok := strings.CutPrefix(r.VaultHost, r.Vault); ok && r.Vault != "" {
			return shown(r.Vault) + suffix
		}
		return shown(r.VaultHost)
	}
	return shown(r.Vault)
}
