package registry

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Harbor's own rules on what stays: immutable-tag rules, which refuse to
// delete an artifact while one of its tags matches an enabled rule (Harbor
// answers 412 PRECONDITION), and tag retention policies, which delete on
// Harbor's schedule whatever no rule of theirs retains. Harbor says which
// tags are immutable (with_immutable_status); the rules are read to name
// the one that holds each.

// harborSelector is Harbor's ImmutableSelector and RetentionSelector.
type harborSelector struct {
	Kind       string `json:"kind"`       // "doublestar"
	Decoration string `json:"decoration"` // matches, excludes, repoMatches, repoExcludes
	Pattern    string `json:"pattern"`
}

// harborRule is what the client reads of Harbor's ImmutableRule and
// RetentionRule.
type harborRule struct {
	ID             int64                       `json:"id"`
	Priority       int                         `json:"priority"`
	Disabled       bool                        `json:"disabled"`
	Action         string                      `json:"action"`
	Template       string                      `json:"template"`
	Params         map[string]any              `json:"params"`
	TagSelectors   []harborSelector            `json:"tag_selectors"`
	ScopeSelectors map[string][]harborSelector `json:"scope_selectors"`
}

// harborRetention is what the client reads of Harbor's RetentionPolicy.
type harborRetention struct {
	ID      int64        `json:"id"`
	Rules   []harborRule `json:"rules"`
	Trigger struct {
		Kind     string         `json:"kind"`
		Settings map[string]any `json:"settings"`
	} `json:"trigger"`
}

// immutableRules lists a project's immutable-tag rules.
func (h *Harbor) immutableRules(ctx context.Context, project string) ([]harborRule, error) {
	rules, err := listAll[harborRule](ctx, h, harborAPI+"/projects/"+url.PathEscape(project)+"/immutabletagrules", nil,
		"read the immutable-tag rules of project "+project+" (nothing in it is deleted)")
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
	return rules, err
}

// retention reads a project's tag retention policy; nil when it has none.
func (h *Harbor) retention(ctx context.Context, p harborProject) (*harborRetention, error) {
	if p.Metadata.RetentionID == "" || p.Metadata.RetentionID == "0" {
		return nil, nil
	}
	var pol harborRetention
	_, err := h.getJSON(ctx, harborAPI+"/retentions/"+url.PathEscape(p.Metadata.RetentionID), "read the tag retention policy of project "+p.Name, &pol)
	if isHarborNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &pol, nil
}

// retentionNote says what a project's retention policy deletes, for the
// operator: "" when it has no enabled rule.
func retentionNote(project string, pol *harborRetention) string {
	if pol == nil {
		return ""
	}
	var rules []string
	for _, r := range pol.Rules {
		if r.Disabled {
			continue
		}
		rules = append(rules, fmt.Sprintf("%s %s of %s", r.Action, retentionWhat(r), selectorText(r)))
	}
	if len(rules) == 0 {
		return ""
	}
	when := strings.ToLower(pol.Trigger.Kind)
	if cron, _ := pol.Trigger.Settings["cron"].(string); cron != "" {
		when += " " + cron
	}
	if when == "" {
		when = "manual"
	}
	return fmt.Sprintf("Harbor's tag retention policy %d of project %s deletes every artifact that none of its rules retains (trigger: %s): %s",
		pol.ID, project, when, strings.Join(rules, "; "))
}

// retentionWhat describes a retention rule's template.
func retentionWhat(r harborRule) string {
	n := r.Params[r.Template]
	switch r.Template {
	case "latestPushedK":
		return fmt.Sprintf("the %v most recently pushed artifacts", n)
	case "latestPulledN":
		return fmt.Sprintf("the %v most recently pulled artifacts", n)
	case "nDaysSinceLastPush":
		return fmt.Sprintf("the artifacts pushed within %v days", n)
	case "nDaysSinceLastPull":
		return fmt.Sprintf("the artifacts pulled within %v days", n)
	case "always":
		return "every artifact"
	}
	return fmt.Sprintf("%s %v", r.Template, n)
}

// selectorText says which repositories and tags a rule applies to.
func selectorText(r harborRule) string {
	var repos []string
	for _, s := range r.ScopeSelectors["repository"] {
		repos = append(repos, decoration(s))
	}
	var tags []string
	for _, s := range r.TagSelectors {
		tags = append(tags, decoration(s))
	}
	return fmt.Sprintf("repositories %s, tags %s", orAll(repos), orAll(tags))
}

func decoration(s harborSelector) string {
	if strings.Contains(strings.ToLower(s.Decoration), "exclude") {
		return "not " + s.Pattern
	}
	return s.Pattern
}

func orAll(s []string) string {
	if len(s) == 0 {
		return "**"
	}
	return strings.Join(s, " and ")
}

// matches reports whether an enabled rule applies to tag in repository
// name (within its project), as Harbor's doublestar selectors match.
func (r harborRule) matches(name, tag string) bool {
	if r.Disabled {
		return false
	}
	for _, s := range r.ScopeSelectors["repository"] {
		if !selectorMatches(s, name) {
			return false
		}
	}
	for _, s := range r.TagSelectors {
		if !selectorMatches(s, tag) {
			return false
		}
	}
	return true
}

func selectorMatches(s harborSelector, what string) bool {
	re, err := doublestarRegexp(s.Pattern)
	if err != nil {
		return false
	}
	m := re.MatchString(what)
	if strings.Contains(strings.ToLower(s.Decoration), "exclude") {
		return !m
	}
	return m
}

// doublestarRegexp turns a doublestar pattern (Harbor's selectors) into a
// regular expression: ** matches anything, * and ? anything but "/",
// {a,b} either, [...] a class.
func doublestarRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	depth := 0
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '{':
			depth++
			b.WriteString("(?:")
		case '}':
			if depth == 0 {
				b.WriteString(`\}`)
				continue
			}
			depth--
			b.WriteString(")")
		case ',':
			if depth > 0 {
				b.WriteString("|")
			} else {
				b.WriteString(",")
			}
		case '[':
			j := strings.IndexByte(pattern[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("pattern %q: unclosed [", pattern)
			}
			class := pattern[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		case '\\':
			if i+1 < len(pattern) {
				i++
				b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("pattern %q: unclosed {", pattern)
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// immutableReason rewrites lockReasons' "tag repo:tag" into what holds
// it: the tag and the first of rules (the project's, by priority) that
// matches it.
func immutableReason(rules map[string][]harborRule) func(repo, why string) string {
	return func(repo, why string) string {
		rt, ok := strings.CutPrefix(why, model.LockTag+" ")
		if !ok {
			return why
		}
		i := strings.LastIndex(rt, ":")
		if i < 0 {
			return why
		}
		project, name, err := splitRepository(rt[:i])
		if err != nil {
			return why + ", immutable"
		}
		tag := rt[i+1:]
		k := slices.IndexFunc(rules[project], func(r harborRule) bool { return r.matches(name, tag) })
		if k < 0 {
			return why + ", immutable"
		}
		r := rules[project][k]
		return fmt.Sprintf("%s, immutable by rule %d (%s)", why, r.ID, selectorText(r))
	}
}
