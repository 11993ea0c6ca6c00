package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Sentinel errors of DeleteManifest.
var (
	// ErrNotFound: the manifest (or its repository) is not in the registry;
	// a deletion can treat it as already gone.
	ErrNotFound = errors.New("manifest not found")
	// ErrLocked: the registry refuses to delete this one manifest because
	// it is locked (ACR's deleteEnabled or writeEnabled false: 405
	// REGISTRY_DISALLOWED_OPERATION). Other deletions go on.
	ErrLocked = errors.New("the manifest is locked (deleteEnabled or writeEnabled is false)")
	// ErrDeleteDisabled: the registry refuses deletes altogether.
	ErrDeleteDisabled = errors.New("the registry has deletes disabled (distribution: set storage.delete.enabled: true)")
)

// CallError is a registry call that the registry answered with an error
// status. Its message says which call failed, what the registry answered
// and what to check.
type CallError struct {
	// Op is the call, e.g. "list tags of binder-x".
	Op string
	// Status is the HTTP status code.
	Status int
	// Codes are the registry's error codes (UNAUTHORIZED, NAME_UNKNOWN...).
	Codes []string
	// Detail is the registry's own messages.
	Detail string
	// Hint says what to check.
	Hint string

	sentinel error
	err      error
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: registry answered %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns the sentinel (ErrNotFound, ErrDeleteDisabled) if any, and
// go-containerregistry's *transport.Error.
func (e *CallError) Unwrap() []error {
	if e.sentinel != nil {
		return []error{e.sentinel, e.err}
	}
	return []error{e.err}
}

// HasCode reports whether the registry answered with the given error code.
func (e *CallError) HasCode(code string) bool {
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}

// describe wraps err from the registry call op with what the registry
// answered and a hint. Errors that are not registry answers (network,
// context) are wrapped with op only.
func describe(op string, err error) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", op, err)
	}
	ce := &CallError{Op: op, Status: te.StatusCode, err: err}
	var details []string
	for _, d := range te.Errors {
		ce.Codes = append(ce.Codes, string(d.Code))
		s := string(d.Code)
		if d.Message != "" {
			s += ": " + d.Message
		}
		details = append(details, s)
	}
	ce.Detail = strings.Join(details, "; ")
	ce.Hint = hint(ce)
	return ce
}

func hint(ce *CallError) string {
	switch {
	case ce.HasCode("PAGINATION_NUMBER_INVALID"):
		return "the registry rejected the page size"
	case ce.Status == http.StatusUnauthorized:
		return "check registry.auth (credentials missing or rejected)"
	case ce.Status == http.StatusForbidden:
		return "the credentials lack permission for this call; check registry.auth and the account's role"
	case ce.Status == http.StatusNotFound:
		return ""
	case ce.Status == http.StatusMethodNotAllowed || ce.HasCode("UNSUPPORTED"):
		return "the registry does not allow this operation"
	case ce.Status == http.StatusTooManyRequests || ce.HasCode("TOOMANYREQUESTS"):
		return "rate limited; lower registry.concurrency or try again later"
	case ce.Status >= 500:
		return "the registry failed; try again later"
	}
	return ""
}

// isPageSizeRejected reports whether err is a registry refusing the page
// size n.
func isPageSizeRejected(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == "PAGINATION_NUMBER_INVALID" {
			return true
		}
	}
	return false
}

// isNameUnknown reports whether err is a 404 NAME_UNKNOWN: the registry
// does not know the repository.
func isNameUnknown(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// isManifestUnknown reports whether err is a 404 for a manifest (a HEAD
// answers 404 without a body, so the status alone counts).
func isManifestUnknown(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
