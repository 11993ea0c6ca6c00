// Package redact hides the secrets a URL can carry before it is shown: in
// a report, an error or a log. A URL may be authorised by its query string
// (an Azure SAS's sig, a signed S3 or GCS URL's X-Amz-Signature or
// X-Goog-Signature, an API's token or key) or by a password in its
// userinfo; whoever reads the URL can use it until it expires.
//
// [URL] replaces the value of every signature-bearing query parameter
// (and fragment parameter) with [Redacted], and a userinfo password (or a
// userinfo without one, often a token) likewise. Everything else is kept
// as written, so the URL still says which file it names. [Text] does that
// for every URL in a message and [Error] for an error's message, which
// covers net/http's errors (*url.Error embeds the URL it failed on).
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted stands in for a hidden value.
const Redacted = "REDACTED"

// secretParams are query parameter names (lower-cased) whose value
// authorises the request. Names containing one of secretWords are secret
// too (X-Amz-Security-Token, client_secret, X-Goog-Credential).
var secretParams = map[string]bool{
	"sig": true, "signature": true, "code": true, "key": true, "apikey": true, "api_key": true, "api-key": true,
	"subscription-key": true, "auth": true, "pwd": true, "passwd": true, "password": true,
}

var secretWords = []string{"token", "secret", "password", "signature", "credential"}

// secretParam reports whether a query parameter's value must be hidden.
func secretParam(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	if secretParams[name] {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// URL returns s with its secrets replaced by [Redacted]: the values of
// signature-bearing query (and fragment) parameters and the userinfo's
// password (a userinfo without a password, often a token, as a whole). The
// rest is kept byte for byte, placeholders such as {date} included; s
// need not parse as a URL.
func URL(s string) string {
	rest, frag, hasFrag := strings.Cut(s, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	if j := strings.Index(rest, "://"); j >= 0 {
		auth := rest[j+3:]
		if k := strings.IndexByte(auth, '/'); k >= 0 {
			auth = auth[:k]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			info := Redacted
			if user, _, ok := strings.Cut(auth[:at], ":"); ok {
				info = user + ":" + Redacted
			}
			rest = rest[:j+3] + info + rest[j+3+at:]
		}
	}
	if hasQuery {
		rest += "?" + params(query)
	}
	if hasFrag {
		rest += "#" + params(frag)
	}
	return rest
}

// params redacts the secret values of a query string (a=b&c=d), keeping
// its order and encoding. A value already redacted is kept, with what
// follows it in a message (":12: why" after a URL that names a file).
func params(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if name, value, ok := strings.Cut(p, "="); ok && secretParam(name) && !strings.HasPrefix(value, Redacted) {
			parts[i] = name + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// urlInText finds URLs in a message: a scheme, "://", then up to a space
// or a quote (net/http quotes the URL in its errors).
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>` + "`" + `]+`)

// Text redacts every URL in a message.
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, func(u string) string {
		// punctuation after a URL ends the sentence, not the URL
		trimmed := strings.TrimRight(u, ".,;:)]}")
		return URL(trimmed) + u[len(trimmed):]
	})
}

// Error returns err with every URL in its message redacted (nil for nil);
// errors.Is and errors.As still see err. A *url.Error, as net/http
// returns, stays one with its URL redacted, so that errors.As finds that
// one first.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: URL(ue.URL), Err: Error(ue.Err)}
	}
	msg := err.Error()
	if red := Text(msg); red != msg {
		return &redacted{err: err, msg: red}
	}
	return err // nothing to hide: err as it is, its methods (Timeout) kept
}

// redacted is an error whose message has its URLs redacted.
type redacted struct {
	err error
	msg string
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
