package secrets

// ErrorKind classifies resolution errors; every error from this package
// matches exactly one kind with errors.Is, e.g. errors.Is(err, secrets.ErrNotFound).
type ErrorKind int

// Error kinds.
const (
	ErrBadReference   ErrorKind = iota + 1 // the string is not a valid reference
	ErrNotSet                              // the variable, file or secret holds no value
	ErrInsecureFile                        // the secret file is accessible by group or others
	ErrNotFound                            // the file, vault or secret does not exist
	ErrPermission                          // the identity may not read the secret
	ErrNoIdentity                          // no usable Azure identity
	ErrAuthentication                      // the identity failed to authenticate or its token was rejected
	ErrUnavailable                         // the secret store failed or could not be reached
)

// Error describes the kind.
func (k ErrorKind) Error() string {
	switch k {
	case ErrBadReference:
		return "not a valid secret reference"
	case ErrNotSet:
		return "secret has no value"
	case ErrInsecureFile:
		return "secret file is accessible by other users"
	case ErrNotFound:
		return "secret not found"
	case ErrPermission:
		return "permission denied"
	case ErrNoIdentity:
		return "no Azure identity available"
	case ErrAuthentication:
		return "authentication failed"
	case ErrUnavailable:
		return "secret store unavailable"
	}
	return "secret error"
}

// resolveError is the error type of the package. Its message is written
// here, never copied from a response body, so it cannot carry a secret; the
// underlying error stays reachable through errors.As for callers that need it.
type resolveError struct {
	kind  ErrorKind
	ref   string // canonical reference; "" when the input was not one
	msg   string
	cause error
}

func (e *resolveError) Error() string {
	if e.ref == "" {
		return "resolve secret: " + e.msg
	}
	return "resolve " + e.ref + ": " + e.msg
}

func (e *resolveError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func newError(kind ErrorKind, ref, msg string, cause error) error {
	return &resolveError{kind: kind, ref: ref, msg: msg, cause: cause}
}
