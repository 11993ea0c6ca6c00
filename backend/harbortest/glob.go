package harbortest

import "strings"

// globMatch matches s against a doublestar pattern as Harbor's selectors
// do: ** matches any run of characters, * and ? any but "/", [...] (or
// [!...]) one of a class, {a,b} one of the alternatives.
func globMatch(pattern, s string) bool {
	if i := strings.IndexByte(pattern, '{'); i >= 0 {
		j := closingBrace(pattern, i)
		if j < 0 {
			return false
		}
		for _, alt := range splitAlternatives(pattern[i+1 : j]) {
			if globMatch(pattern[:i]+alt+pattern[j+1:], s) {
				return true
			}
		}
		return false
	}
	return match(pattern, s)
}

func closingBrace(p string, open int) int {
	depth := 0
	for k := open; k < len(p); k++ {
		switch p[k] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return k
			}
		}
	}
	return -1
}

// splitAlternatives splits a brace body at its top-level commas.
func splitAlternatives(body string) []string {
	var out []string
	depth, start := 0, 0
	for k := 0; k < len(body); k++ {
		switch body[k] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, body[start:k])
				start = k + 1
			}
		}
	}
	return append(out, body[start:])
}

// match matches a brace-free pattern.
func match(p, s string) bool {
	for len(p) > 0 {
		switch {
		case strings.HasPrefix(p, "**"):
			rest := strings.TrimLeft(p, "*")
			for k := 0; k <= len(s); k++ {
				if match(rest, s[k:]) {
					return true
				}
			}
			return false
		case p[0] == '*':
			for k := 0; k <= len(s); k++ {
				if match(p[1:], s[k:]) {
					return true
				}
				if k < len(s) && s[k] == '/' {
					return false
				}
			}
			return false
		case len(s) == 0:
			return false
		case p[0] == '?':
			if s[0] == '/' {
				return false
			}
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return false
			}
			class, negate := p[1:end], false
			if strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^") {
				class, negate = class[1:], true
			}
			if inClass(class, s[0]) == negate {
				return false
			}
			p = p[end:]
		case p[0] == '\\' && len(p) > 1:
			if p[1] != s[0] {
				return false
			}
			p = p[1:]
		default:
			if p[0] != s[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

func inClass(class string, c byte) bool {
	for k := 0; k < len(class); k++ {
		if k+2 < len(class) && class[k+1] == '-' {
			if class[k] <= c && c <= class[k+2] {
				return true
			}
			k += 2
			continue
		}
		if class[k] == c {
			return true
		}
	}
	return false
}
