package usage

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
)

// This file derives, from a launch's provider and spec, what BinderHub
// derives: the repository part of the spec, its unresolved ref, and the
// image name (BinderHub's builder.py: image_prefix + _safe_build_slug(
// provider.get_build_slug()) + ":" + ref, with "_" turned into "-" and the
// whole lower-cased).

// splitSpec splits a spec into the repository it names and the unresolved
// ref the user asked for ("" when the provider's spec has none), as each
// repo provider does.
func splitSpec(provider, spec string) (repo, ref string) {
	switch provider {
	case "GitHub":
		// user/repo/ref, the ref may hold "/"
		u, rest, ok := strings.Cut(spec, "/")
		if !ok {
			return spec, ""
		}
		r, ref, ok := strings.Cut(rest, "/")
		if !ok {
			return spec, ""
		}
		return u + "/" + r, ref
	case "Gist":
		parts := strings.SplitN(spec, "/", 3)
		if len(parts) < 2 {
			return spec, ""
		}
		repo = parts[0] + "/" + parts[1]
		if len(parts) == 3 {
			ref, _, _ = strings.Cut(parts[2], "/")
		}
		return repo, ref
	case "GitLab", "Git":
		// a quoted namespace or URL, then the ref
		repo, ref, _ = strings.Cut(spec, "/")
		return repo, unquote(ref)
	}
	return spec, ""
}

// unquote is Python's urllib.parse.unquote: %XX escapes decoded, a bad one
// left as it is.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

var gitSSH = regexp.MustCompile(`^([\w\-]+@[\w\-\.]+):(.+)`)

// BuildSlug is the build slug BinderHub's repo provider derives from a
// spec's repository part (splitSpec). ok is false for the providers whose
// slug needs a lookup first (Zenodo, Figshare, Hydroshare, Dataverse and
// CKAN resolve a DOI or a URL to a record id).
func BuildSlug(provider, repo string) (slug string, ok bool) {
	switch provider {
	case "GitHub":
		u, r, found := strings.Cut(repo, "/")
		if !found || u == "" || r == "" {
			return "", false
		}
		return u + "-" + strings.TrimSuffix(r, ".git"), true
	case "Gist":
		_, id, found := strings.Cut(repo, "/")
		return id, found && id != ""
	case "GitLab":
		ns := unquote(repo)
		if ns == "" {
			return "", false
		}
		parts := strings.Split(ns, "/")
		for i, p := range parts {
			parts[i] = strings.ReplaceAll(p, "-", "_-")
		}
		return strings.Join(parts, "-"), true
	case "Git":
		u := unquote(repo)
		if m := gitSSH.FindStringSubmatch(u); m != nil {
			u = "ssh://" + m[1] + "/" + m[2]
		}
		return u, u != ""
	}
	return "", false
}

// escapeSlug is escapism.escape(s, safe=ASCII letters and digits,
// escape_char="-"): every other byte of the UTF-8 becomes "-" and its hex
// value, upper case and unpadded.
func escapeSlug(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	const hexd = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('-')
		if c >= 0x10 {
			b.WriteByte(hexd[c>>4])
		}
		b.WriteByte(hexd[c&0xf])
	}
	return b.String()
}

// ImageName is the name BinderHub gives the image of a build slug, without
// the image prefix and the tag: _safe_build_slug(slug, limit=255): the
// escaped slug, cut to leave room for "-" and the first 6 hex digits of the
// slug's SHA-256, then those; lower case. With an image prefix BinderHub
// cuts the escaped slug shorter (by the prefix's length), which only
// matters past 200 characters.
func ImageName(slug string) string {
	sum := sha256.Sum256([]byte(slug))
	esc := escapeSlug(slug)
	if len(esc) > 255-7 {
		esc = esc[:255-7]
	}
	return strings.ToLower(esc + "-" + hex.EncodeToString(sum[:3]))
}

// nameMatches reports whether a registry repository holds the image name
// (ImageName): it ends with it, after whatever prefix the BinderHub puts
// before it. A long name is matched by its hash and first 100 characters,
// since an unknown prefix cut it.
func nameMatches(repository, name string) bool {
	if strings.HasSuffix(repository, name) {
		return true
	}
	if len(name) < 200 {
		return false
	}
	return strings.HasSuffix(repository, name[len(name)-7:]) && strings.Contains(repository, name[:100])
}

// tagOf is the tag BinderHub gives a ref: the image name is lower-cased and
// "_" turned into "-", tag included.
func tagOf(ref string) string {
	if !strings.ContainsAny(ref, "_ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return ref
	}
	return strings.ToLower(strings.ReplaceAll(ref, "_", "-"))
}

// isHex reports whether s is n or more hex digits (a commit, or its prefix).
func isHex(s string, n int) bool {
	if len(s) < n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
