package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// Repository is one entry of the repositories map: a chart repository
// named as in Helm's repositories.yaml, which a chart file's dependencies
// reach as repository: "@name" or "alias:name", and how to log in to it.
// The credentials apply to every dependency whose repository is this URL,
// by its name or written out. Written as a bare string, the value is the
// URL:
//
//	repositories:
//	  bitnami: https://charts.bitnami.com/bitnami
//	  private:
//	    url: https://charts.example.org/stable
//	    username: bot
//	    password: env:CHARTS_PASSWORD
type Repository struct {
	// URL is an http(s):// chart repository (its index.yaml beneath) or an
	// oci:// registry path.
	URL string `yaml:"url"`
	// Username and Password (a secret reference) log in with HTTP basic
	// auth.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Token (a secret reference) logs in with a bearer token instead.
	Token string `yaml:"token"`
}

// UnmarshalYAML implements yaml.Unmarshaler: a mapping of the keys above,
// or a bare string, the URL.
func (r *Repository) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		r.URL = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return lineError(n, errors.New("want a chart repository URL or a mapping with url, got "+kindOf(n)))
	}
	type plain Repository // without this method
	return n.Decode((*plain)(r))
}

// HasCredentials reports whether the entry logs in with its own
// credentials (basic or bearer) rather than the defaults.
func (r Repository) HasCredentials() bool {
	return r.Username != "" || r.Password != "" || r.Token != ""
}

// repositoryName is what Helm accepts as a repository name, less "/".
var repositoryName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// RepositoryKey normalises a chart repository URL for comparison: scheme
// and host lower case, default ports dropped, no user information and no
// trailing slash. Entries and dependencies with the same key are the same
// repository.
func RepositoryKey(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.TrimSpace(raw), "/")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"), scheme == "http" && strings.HasSuffix(host, ":80"):
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/")
}

// validateRepositories checks each entry of the repositories map.
func (c *Config) validateRepositories(bad func(path, format string, args ...any)) {
	names := slices.Sorted(maps.Keys(c.Repositories))
	byKey := map[string]string{}
	for _, name := range names {
		r := c.Repositories[name]
		at := "repositories." + name
		if !repositoryName.MatchString(name) {
			bad(at, "%q is not a repository name: letters, digits, '.', '_' and '-', as in helm repo add NAME", name)
		}
		r.URL = strings.TrimSpace(r.URL)
		if msg := checkRepositoryURL(r.URL); msg != "" {
			bad(at+".url", "%s", msg)
		} else if other, dup := byKey[RepositoryKey(r.URL)]; dup {
			bad(at+".url", "the same repository as repositories.%s; give each URL one name", other)
		} else {
			byKey[RepositoryKey(r.URL)] = name
		}
		switch {
		case r.Token != "" && (r.Username != "" || r.Password != ""):
			bad(at+".token", "give a token or a username and password, not both")
		case r.Username != "" && r.Password == "":
			bad(at+".password", "basic auth needs a password reference (env:NAME, file:PATH or keyvault://VAULT/SECRET) beside the username")
		case r.Password != "" && r.Username == "":
			bad(at+".username", "basic auth needs a username beside the password")
		}
		for _, s := range []struct{ key, ref, what string }{{"password", r.Password, "password"}, {"token", r.Token, "token"}} {
			if s.ref == "" {
				continue
			}
			if _, err := secrets.ParseReference(s.ref); err != nil {
				bad(at+"."+s.key, "%v; never write the %s itself", err, s.what)
			}
		}
		if r.HasCredentials() && r.URL != "" {
			if u, err := url.Parse(r.URL); err == nil && strings.EqualFold(u.Scheme, "http") && !loopback.Host(u.Host) {
				bad(at+".url", "credentials would cross the network in clear text over http://; use https://")
			}
		}
		c.Repositories[name] = r
	}
}

// checkRepositoryURL says what is wrong with a repository URL, or "".
func checkRepositoryURL(raw string) string {
	if raw == "" {
		return "missing: the chart repository's https:// or oci:// URL"
	}
	u, err := url.Parse(raw)
	if err != nil {
		// not quoted: it may hold a password
		return "not a URL; want https://HOST/PATH or oci://HOST/PATH"
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http", "oci":
	case "":
		return "has no scheme; want https://HOST/PATH or oci://HOST/PATH"
	default:
		return fmt.Sprintf("scheme %s: is not a chart repository's; want https://, http:// or oci://", u.Scheme)
	}
	switch {
	case u.User != nil:
		return "holds user information; give username and password (a secret reference) as keys of the entry instead, and if it held a real password, change it"
	case u.Host == "":
		return "has no host; want " + strings.ToLower(u.Scheme) + "://HOST/PATH"
	case u.RawQuery != "" || u.Fragment != "":
		return "has a query or fragment; give the repository's URL only"
	}
	return ""
}

// Alias is the repository name a chart file's "@name" or "alias:name"
// repository refers to; ok is false for anything else.
func Alias(repository string) (name string, ok bool) {
	if n, found := strings.CutPrefix(repository, "@"); found {
		return n, true
	}
	if n, found := strings.CutPrefix(repository, "alias:"); found {
		return n, true
	}
	return "", false
}

// ResolveRepository returns the URL a dependency's repository stands for:
// the URL of the repositories entry an alias names, the repository itself
// otherwise. An alias the map does not have is an error naming it and the
// names that are configured.
func (c *Config) ResolveRepository(repository string) (string, error) {
	return ResolveAlias(c.Repositories, repository)
}

// ResolveAlias is Config.ResolveRepository over a repositories map.
func ResolveAlias(repos map[string]Repository, repository string) (string, error) {
	name, ok := Alias(repository)
	if !ok {
		return repository, nil
	}
	if r, found := repos[name]; found && r.URL != "" {
		return r.URL, nil
	}
	if len(repos) == 0 {
		return "", fmt.Errorf("repository %q names the repository %s, but the configuration has no repositories map: add repositories: {%s: URL}", repository, name, name)
	}
	return "", fmt.Errorf("repository %q names the repository %s, which the configuration's repositories map does not have; it has: %s", repository, name,
		strings.Join(slices.Sorted(maps.Keys(repos)), ", "))
}
