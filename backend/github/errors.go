package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	httpretry "github.com/helmupgradebot/helmupgradebot/backend/retry"
)

// Kinds of failure; errors.Is matches them on errors returned by Client.
var (
	ErrBadToken        = errors.New("GitHub rejected the token")
	ErrNotVisible      = errors.New("repository not found or not visible to the token")
	ErrForbidden       = errors.New("the token lacks permission")
	ErrRateLimited     = errors.New("GitHub rate limit exceeded")
	ErrProtectedBranch = errors.New("branch is protected")
	ErrConflict        = errors.New("branch moved during the update")
	ErrNotFound        = errors.New("not found")
	ErrUpToDate        = errors.New("file already at that version")
)

// needs names the fine-grained token permissions the bot relies on.
const needs = "the token needs contents:write and pull-requests:write"

// Error is a failed GitHub call, worded for an operator: what was being
// done, in which repository, and what to do about it.
type Error struct {
	Kind   error     // one of the Err… values, or nil when unclassified
	Op     string    // what was being done, e.g. "commit Chart.yaml to branch x"
	Repo   string    // "owner/name"
	Status int       // HTTP status, 0 when there was no response
	Reset  time.Time // when a rate limit resets; zero otherwise
	advice string
	err    error
}

func (e *Error) Error() string { return e.Op + " in " + e.Repo + ": " + e.advice }

// Unwrap returns the kind and the underlying go-github error.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Kind, e.err} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// fail explains err, returned by go-github while doing op in repo.
// notFound, when not empty, words a 404 (a missing file or branch in a
// repository known to be visible); otherwise a 404 means the repository
// itself is invisible.
func fail(err error, repo, op, notFound string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s in %s: %w", op, repo, err)
	}
	e := &Error{Op: op, Repo: repo, err: err}
	var (
		rl    *gh.RateLimitError
		abuse *gh.AbuseRateLimitError
		er    *gh.ErrorResponse
		hte   *ghinstallation.HTTPError
	)
	switch {
	case errors.As(err, &rl):
		e.Kind, e.Status, e.Reset = ErrRateLimited, statusOf(rl.Response), rl.Rate.Reset.Time
		e.advice = rateAdvice(e.Reset)
	case errors.As(err, &abuse):
		e.Kind, e.Status = ErrRateLimited, statusOf(abuse.Response)
		e.advice = "GitHub's secondary rate limit was hit (too many requests in a short time)"
		if abuse.RetryAfter != nil {
			e.Reset = time.Now().Add(*abuse.RetryAfter).Truncate(time.Second)
			e.advice += "; " + rateWhen(e.Reset)
		}
	case errors.As(err, &hte):
		appError(e, hte)
	case errors.As(err, &er) && er.Response != nil:
		e.Status = er.Response.StatusCode
		classifyResponse(e, er, notFound)
	default:
		e.advice = err.Error()
	}
	return e
}

func classifyResponse(e *Error, er *gh.ErrorResponse, notFound string) {
	msg := message(er)
	h := er.Response.Header
	switch st := e.Status; {
	case st == http.StatusUnauthorized:
		e.Kind, e.advice = ErrBadToken, "GitHub rejected the token (401): check github.token"
	case st == http.StatusForbidden && h.Get("Retry-After") != "" && h.Get("X-RateLimit-Remaining") != "0":
		// the secondary rate limit, still on after the retries' wait
		e.Kind = ErrRateLimited
		if d, ok := httpretry.RetryAfter(h, time.Now()); ok {
			e.Reset = time.Now().Add(d).Truncate(time.Second)
		}
		e.advice = "GitHub's secondary rate limit was hit (too many requests in a short time); " + rateWhen(e.Reset)
	case st == http.StatusTooManyRequests || st == http.StatusForbidden && h.Get("X-RateLimit-Remaining") == "0":
		e.Kind = ErrRateLimited
		e.Reset = resetOf(h)
		e.advice = rateAdvice(e.Reset)
	case protected(msg):
		e.Kind = ErrProtectedBranch
		e.advice = fmt.Sprintf("the branch is protected (GitHub: %s): exempt the bot's branches (helmupgradebot/*) from the protection rule", msg)
	case st == http.StatusConflict && strings.Contains(msg, "does not match"),
		st == http.StatusUnprocessableEntity && strings.Contains(msg, "not a fast forward"):
		e.Kind = ErrConflict
		e.advice = fmt.Sprintf("the branch moved while committing (GitHub: %s)", msg)
	case st == http.StatusNotFound && notFound != "":
		e.Kind, e.advice = ErrNotFound, notFound
	case st == http.StatusNotFound:
		e.Kind = ErrNotVisible
		e.advice = fmt.Sprintf("repository %s not found or the token cannot see it; %s", e.Repo, needs)
	case st == http.StatusForbidden:
		e.Kind = ErrForbidden
		e.advice = fmt.Sprintf("GitHub refused (403: %s); %s on %s", msg, needs, e.Repo)
	default:
		e.advice = fmt.Sprintf("GitHub answered %d: %s", st, msg)
	}
}

// message joins GitHub's message with the details in its errors list.
func message(er *gh.ErrorResponse) string {
	parts := []string{strings.Join(strings.Fields(er.Message), " ")}
	for _, d := range er.Errors {
		switch {
		case d.Message != "":
			parts = append(parts, d.Message)
		case d.Code != "":
			parts = append(parts, fmt.Sprintf("%s %s of %s", d.Code, d.Field, d.Resource))
		}
	}
	out := strings.Join(parts, ": ")
	if out == "" {
		out = http.StatusText(er.Response.StatusCode)
	}
	return out
}

func protected(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "protected branch") || strings.Contains(m, "rule violation") ||
		strings.Contains(m, "must be made through a pull request")
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

func resetOf(h http.Header) time.Time {
	if v, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && v > 0 {
		return time.Unix(v, 0)
	}
	if v, err := strconv.Atoi(h.Get("Retry-After")); err == nil {
		return time.Now().Add(time.Duration(v) * time.Second).Truncate(time.Second)
	}
	return time.Time{}
}

func rateAdvice(reset time.Time) string {
	return "GitHub API rate limit exhausted; " + rateWhen(reset) + ", or use another token"
}

func rateWhen(reset time.Time) string {
	if reset.IsZero() {
		return "wait a few minutes before retrying"
	}
	in := time.Until(reset).Round(time.Second)
	if in < 0 {
		in = 0
	}
	return fmt.Sprintf("it resets at %s (in %s): wait until then", reset.UTC().Format(time.RFC3339), in)
}

// is reports whether err is an API error with the given status.
func is(err error, status int) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == status
}

// redacted is an error whose text had a secret removed.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// redact guarantees that the token never appears in an error's text.
func (c *Client) redact(err error) error {
	if err != nil && c.app != nil {
		err = c.app.explain(err)
		if msg := c.app.seen.scrub(err.Error()); msg != err.Error() {
			return &redacted{msg: msg, err: err}
		}
		return err
	}
	if err == nil || c.token == "" || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), c.token, "[REDACTED]"), err: err}
}
