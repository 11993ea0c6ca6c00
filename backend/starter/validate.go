package starter

import (
	"errors"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// The answers are checked by config.Parse itself, never by rules of the
// starter's own: each validator parses a small configuration holding the
// answer at its key, with valid values around it, so that the only error
// config.Parse can find is the answer's. The form and the written file
// therefore accept exactly what the loader accepts.

// probeHost is the registry around an answer that is not the registry's
// own (a cap, a usage source).
const probeHost = "localhost:5000"

// lineNumber: a probe's line numbers mean nothing to the operator.
var lineNumber = regexp.MustCompile(`line \d+: `)

// probe parses doc as a configuration file and returns config's error,
// naming the key, without the probe's line numbers.
func probe(doc map[string]any) (*config.Config, error) {
	data, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	c, err := config.Parse(data)
	if err != nil {
		return nil, errors.New(lineNumber.ReplaceAllString(err.Error(), ""))
	}
	return c, nil
}

// registryDoc is a configuration with a registry at url, its auth and
// policy keys as given (nil: absent).
func registryDoc(url string, auth, policy map[string]any) map[string]any {
	r := map[string]any{"url": url}
	if config.IsGoogleHost(url) {
		r["root"] = "probe-project" // Google's listing needs one; validateRoot checks the answer's
	}
	if auth != nil {
		r["auth"] = auth
	}
	if policy != nil {
		r["policy"] = policy
	}
	return map[string]any{"registry": r}
}

// chartsDoc is a configuration with one chart file, signed in with token.
func chartsDoc(repository, file, token string) map[string]any {
	return map[string]any{
		"github": map[string]any{"token": token},
		"charts": []any{map[string]any{"repository": repository, "file": file}},
	}
}

// orDefault validates s, or def when s is blank: an empty answer takes the
// default its field shows.
func orDefault(def string, validate func(string) error) func(string) error {
	return func(s string) error {
		if s = strings.TrimSpace(s); s == "" {
			s = def
		}
		return validate(s)
	}
}

// validateRegistry checks registry.url; empty: no registry.
func validateRegistry(s string) error {
	_, err := normalizeRegistry(s)
	return err
}

// normalizeRegistry gives registry.url as the configuration reads it (a
// trailing slash dropped), or config's error.
func normalizeRegistry(s string) (string, error) {
	if s = strings.TrimSpace(s); s == "" {
		return "", nil
	}
	c, err := probe(registryDoc(s, nil, nil))
	if err != nil {
		return "", err
	}
	return c.Registry.URL, nil
}

// validateRoot checks registry.root, what a Google registry is listed
// under (flavor gar).
func validateRoot(s string) error {
	_, err := probe(map[string]any{"registry": map[string]any{"url": "gcr.io", "root": s}})
	return err
}

// validateUsername checks registry.auth.username for basic auth.
func validateUsername(s string) error {
	_, err := probe(registryDoc(probeHost, map[string]any{"type": config.AuthBasic, "username": s, "password": Examples.RegistryPassword}, nil))
	return err
}

// validatePassword checks registry.auth.password, a secret reference.
func validatePassword(s string) error {
	_, err := probe(registryDoc(probeHost, map[string]any{"type": config.AuthBasic, "username": Examples.RegistryUser, "password": s}, nil))
	return err
}

// validateClientID checks azure.client_id; empty: the system-assigned
// identity.
func validateClientID(s string) error {
	doc := registryDoc(probeHost, nil, nil)
	doc["azure"] = map[string]any{"client_id": s}
	_, err := probe(doc)
	return err
}

// validateCap checks registry.policy.cap, a size; empty: no cap.
func validateCap(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	_, err := probe(registryDoc(probeHost, nil, map[string]any{"cap": s}))
	return err
}

// validateEvents checks an events source of registry.policy.usage. It is
// required once events were chosen.
func validateEvents(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("give BinderHub's event log: a file or glob, or an http(s) URL with {date}")
	}
	_, err := probe(registryDoc(probeHost, nil, map[string]any{
		"keep_launched_within": DefaultWindow,
		"usage":                []any{map[string]any{"events": s}},
	}))
	return err
}

// validateKubernetes checks a kubernetes source of registry.policy.usage;
// empty keys take config's defaults.
func validateKubernetes(namespace, selector string) error {
	_, err := probe(registryDoc(probeHost, nil, map[string]any{
		"usage": []any{map[string]any{"kubernetes": map[string]any{"namespace": namespace, "selector": selector}}},
	}))
	return err
}

// validateRepository checks charts[].repository; empty: no chart upgrades.
func validateRepository(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	_, err := probe(chartsDoc(s, Examples.ChartFile, Examples.TokenRef))
	return err
}

// validateChartFile checks charts[].file.
func validateChartFile(s string) error {
	_, err := probe(chartsDoc(Examples.Repository, s, Examples.TokenRef))
	return err
}

// validateToken checks github.token, a secret reference; the error never
// shows a credential pasted in its place.
func validateToken(s string) error {
	_, err := probe(chartsDoc(Examples.Repository, Examples.ChartFile, s))
	return err
}

// validateSomethingToDo refuses a configuration with neither a registry nor a
// chart, as config does.
func validateSomethingToDo(registry, repository string) error {
	if strings.TrimSpace(registry) != "" || strings.TrimSpace(repository) != "" {
		return nil
	}
	_, err := probe(map[string]any{})
	return err
}
