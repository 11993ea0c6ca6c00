package secrets

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// A reference names where a secret is. When the name itself looks like a
// credential, it is most likely the secret, pasted after env: or file:, and
// the reference is refused showing only its first few characters (abbrev).
// Every other name (a variable's, a file's path, a vault's, a secret's, a
// version) is no secret, and errors and logs show it whole (shown): the
// operator needs it to fix what failed.

// shownChars is how many characters of a credential-shaped name errors and
// logs show.
const shownChars = 4

// shown is a reference's name as errors and logs show it: whole, unless it
// looks like a credential (a GitHub token, a JWT, a long random string;
// a Key Vault version, 32 random hex digits by design, is judged by the
// unmistakable shapes only), which is cut by abbrev.
func shown(name string) string {
	if credentialShape(name, !isVersion(name)) != "" {
		return abbrev(name)
	}
	return name
}

// abbrev shows at most the first four characters of a name, then "…":
// enough to recognise a credential pasted where a name belongs, too little
// to leak it.
func abbrev(name string) string {
	n := 0
	for i := range name {
		if n == shownChars {
			return name[:i] + "…"
		}
		n++
	}
	return name
}

// Credential shapes, for messages.
const (
	shapeGitHub = "a GitHub token"
	shapeJWT    = "a JSON Web Token"
	shapeRandom = "a random secret (a long string of mixed letters and digits)"
	shapeHex    = "a hexadecimal key"
)

// githubPrefixes are the prefixes of GitHub's tokens: personal (classic and
// fine-grained), OAuth, user-to-server, server-to-server and refresh tokens.
var githubPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}

// credentialShape returns the kind of credential name looks like, or "" for
// a plausible name. It checks the whole name and, for paths, each element.
// With random false only the unmistakable shapes count (GitHub prefixes and
// JWTs): for Key Vault versions, which are 32 random hex digits by design.
func credentialShape(name string, random bool) string {
	parts := []string{name}
	if strings.ContainsAny(name, `/\`) {
		parts = append(parts, strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' })...)
	}
	// the specific shapes first: "/run/secrets/ghp_…" is a GitHub token, not just random
	for _, p := range parts {
		for _, prefix := range githubPrefixes {
			if len(p) > len(prefix) && strings.HasPrefix(p, prefix) {
				return shapeGitHub
			}
		}
	}
	for _, p := range parts {
		if isJWT(p) {
			return shapeJWT
		}
	}
	if random {
		for _, p := range parts {
			if s := randomShape(p); s != "" {
				return s
			}
		}
	}
	return ""
}

// isJWT: a compact JWS or JWE, base64url segments joined by dots, whose first
// segment (a JSON header, `{"`) starts with eyJ.
func isJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") < 2 || len(s) < 16 {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' && c != '=' {
			return false
		}
	}
	return true
}

// minRandomLen is the length from which a string is judged by randomShape:
// shorter generated secrets exist, but then names and secrets overlap.
const minRandomLen = 32

// randomShape judges a string of at least 32 characters. It looks random
// when it is all hexadecimal digits with letters and digits mixed (an API
// key, a classic 40-digit GitHub token), or when it mixes upper case, lower
// case and digits with a high Shannon entropy (at least 4 bits a character)
// and does not read as words: its runs of one class of characters (a word,
// "Token", or a number, "2024") average under 3 characters, or under a
// quarter of its letters are vowels. Names of variables and paths read as
// words: HELMUPGRADEBOT_GITHUB_TOKEN_FOR_PRODUCTION_DEPLOYMENTS,
// /etc/helmupgradebot/secrets/github-token, MyApp2GitHubTokenForProductionV3.
// Tokens of 32 base62 characters are caught about 98.5% of the time, of 40
// or more over 99%.
func randomShape(s string) string {
	if len(s) < minRandomLen {
		return ""
	}
	var upper, lower, digit, letters, vowels int
	allHex := true
	for _, c := range []byte(s) {
		switch {
		case c >= 'A' && c <= 'Z':
			upper++
		case c >= 'a' && c <= 'z':
			lower++
		case c >= '0' && c <= '9':
			digit++
		}
		if isLetter(c) {
			letters++
			if strings.IndexByte("aeiouAEIOU", c) >= 0 {
				vowels++
			}
		}
		if !isHex(c) {
			allHex = false
		}
	}
	if allHex && digit > 0 && letters > 0 {
		return shapeHex
	}
	if upper == 0 || lower == 0 || digit == 0 || entropy(s) < 4 {
		return ""
	}
	if meanRun(s) < 3 || 4*vowels < letters {
		return shapeRandom
	}
	return ""
}

// entropy is the Shannon entropy of s's bytes, in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for _, c := range []byte(s) {
		counts[c]++
	}
	h, n := 0.0, float64(len(s))
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// meanRun is the average length of s's runs of letters or digits, where a
// run ends at any other character, between a letter and a digit, and at a
// lower-case letter followed by an upper-case one ("GitHub" is two runs,
// "TOKEN" one).
func meanRun(s string) float64 {
	runs, chars := 0, 0
	prev := byte(0) // class of the previous character: 0 other, 'U', 'L', 'D'
	for _, c := range []byte(s) {
		var cl byte
		switch {
		case c >= 'A' && c <= 'Z':
			cl = 'U'
		case c >= 'a' && c <= 'z':
			cl = 'L'
		case c >= '0' && c <= '9':
			cl = 'D'
		}
		if cl == 0 {
			prev = 0
			continue
		}
		chars++
		if prev == 0 || cl != prev && !(prev == 'U' && cl == 'L') {
			runs++
		}
		prev = cl
	}
	if runs == 0 {
		return 0
	}
	return float64(chars) / float64(runs)
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
func isAlnum(c byte) bool  { return isLetter(c) || c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scrub cuts the reference's credential-shaped names (see shown), wherever
// a text from elsewhere (an SDK error, a server's message, a URL) quotes
// them, to their first four characters; other names stay whole. Key
// Vault's names are case-insensitive, so is the match. Resolution refuses
// a credential-shaped name before anything is asked, so this is a second
// guard.
func (r Reference) scrub(text string) string {
	names := []string{r.Vault, r.SecretName, r.Version, r.EnvVar, r.Path}
	// the longest first, in case one name holds another
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, n := range names {
		if utf8.RuneCountInString(n) > shownChars && shown(n) != n {
			text = replaceFold(text, n, abbrev(n))
		}
	}
	return text
}

// replaceFold replaces every occurrence of old in s, matched without regard
// to case, with repl.
func replaceFold(s, old, repl string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+len(old) <= len(s) && strings.EqualFold(s[i:i+len(old)], old) {
			b.WriteString(repl)
			i += len(old)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
