package redact_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/redact"
)

// secret is the signature every signed URL below carries.
const secret = "c2VjcmV0LXNpZ25hdHVyZQ"

func TestURLRedactsSignaturesAndPasswords(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"azure sas", "https://acct.blob.core.windows.net/events/events-{date}.jsonl?sv=2022-11-02&ss=b&srt=o&sp=r&se=2027-01-01T00:00:00Z&sig=" + secret,
			"https://acct.blob.core.windows.net/events/events-{date}.jsonl?sv=2022-11-02&ss=b&srt=o&sp=r&se=2027-01-01T00:00:00Z&sig=REDACTED"},
		{"signed s3", "https://b.s3.amazonaws.com/e-{date}.jsonl?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA" + secret + "%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261126T000000Z&X-Amz-Expires=604800&X-Amz-Security-Token=" + secret + "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + secret,
			"https://b.s3.amazonaws.com/e-{date}.jsonl?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20261126T000000Z&X-Amz-Expires=604800&X-Amz-Security-Token=REDACTED&X-Amz-SignedHeaders=host&X-Amz-Signature=REDACTED"},
		{"signed gcs", "https://storage.googleapis.com/b/e-{date}.jsonl?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=bot%40p.iam.gserviceaccount.com%2F" + secret + "&X-Goog-Signature=" + secret,
			"https://storage.googleapis.com/b/e-{date}.jsonl?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=REDACTED&X-Goog-Signature=REDACTED"},
		{"gcs v2, cloudfront", "https://h/e?GoogleAccessId=a&Expires=1&Signature=" + secret + "&Key-Pair-Id=K1", "https://h/e?GoogleAccessId=a&Expires=1&Signature=REDACTED&Key-Pair-Id=K1"},
		{"token, access_token, code, key", "https://h/e?token=" + secret + "&access_token=" + secret + "&code=" + secret + "&key=" + secret + "&day=1",
			"https://h/e?token=REDACTED&access_token=REDACTED&code=REDACTED&key=REDACTED&day=1"},
		{"names are case-insensitive and may be escaped", "https://h/e?SIG=" + secret + "&api%5Fkey=" + secret + "&Client_Secret=" + secret,
			"https://h/e?SIG=REDACTED&api%5Fkey=REDACTED&Client_Secret=REDACTED"},
		{"an empty signature stays empty", "https://h/e?sig=", "https://h/e?sig=REDACTED"},
		{"fragment parameters", "https://h/e#access_token=" + secret + "&x=1", "https://h/e#access_token=REDACTED&x=1"},
		{"userinfo password", "https://bot:" + secret + "@h.example/e-{date}.jsonl", "https://bot:REDACTED@h.example/e-{date}.jsonl"},
		{"userinfo alone is a token", "https://" + secret + "@h.example/e", "https://REDACTED@h.example/e"},
		{"an @ in the path is no userinfo", "https://h.example/a@b/e?x=1", "https://h.example/a@b/e?x=1"},
		{"both", "http://u:" + secret + "@127.0.0.1:8080/e?sig=" + secret, "http://u:REDACTED@127.0.0.1:8080/e?sig=REDACTED"},
		{"nothing to hide", "https://archive.analytics.mybinder.org/events-{date}.jsonl", "https://archive.analytics.mybinder.org/events-{date}.jsonl"},
		{"a path is kept", "/var/log/binderhub/events-*.jsonl", "/var/log/binderhub/events-*.jsonl"},
		{"not a URL at all", "%zz?sig=" + secret, "%zz?sig=REDACTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := redact.URL(tc.in)
			if got != tc.want {
				t.Errorf("URL(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("the secret is still there: %q", got)
			}
		})
	}
}

func TestTextRedactsEveryURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Get "https://h/e?sig=` + secret + `": dial tcp: refused`, `Get "https://h/e?sig=REDACTED": dial tcp: refused`},
		{"HTTP 403 from https://h/a?sig=" + secret + ", then https://u:" + secret + "@g/b.", "HTTP 403 from https://h/a?sig=REDACTED, then https://u:REDACTED@g/b."},
		{"no URL here: sig=" + secret, "no URL here: sig=" + secret},
		{"redacting twice changes nothing: https://h/e?sig=REDACTED:12: bad line", "redacting twice changes nothing: https://h/e?sig=REDACTED:12: bad line"},
	} {
		if got := redact.Text(tc.in); got != tc.want {
			t.Errorf("Text(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestErrorOfFailingGetHidesSignature: net/http's errors embed the URL
// (*url.Error); redacted, neither the message nor the *url.Error found by
// errors.As carries the signature, and errors.Is still sees the cause.
func TestErrorOfFailingGetHidesSignature(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// redirect once to another signed URL, then hang up
		if r.URL.Path == "/a" {
			http.Redirect(w, r, "/b?X-Amz-Signature="+secret+"2", http.StatusFound)
			return
		}
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		url  string
		ctx  context.Context
	}{
		{"connection closed after a redirect", srv.URL + "/a?sig=" + secret, context.Background()},
		{"refused", "http://u:" + secret + "@127.0.0.1:1/e?token=" + secret, context.Background()},
		{"canceled", srv.URL + "/a?sig=" + secret, ctx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ctx == ctx {
				cancel()
			}
			req, err := http.NewRequestWithContext(tc.ctx, http.MethodGet, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("the GET did not fail")
			}
			if !strings.Contains(err.Error(), secret) {
				t.Fatalf("the test is void: net/http's error does not carry the secret: %v", err)
			}
			red := redact.Error(fmt.Errorf("fetch: %w", err))
			if strings.Contains(red.Error(), secret) {
				t.Errorf("wrapped: %v", red)
			}
			red = redact.Error(err)
			if strings.Contains(red.Error(), secret) {
				t.Errorf("bare: %v", red)
			}
			var ue *url.Error
			if !errors.As(red, &ue) || strings.Contains(ue.URL, secret) || !strings.Contains(ue.URL, "REDACTED") {
				t.Errorf("the *url.Error: %#v", ue)
			}
			if tc.ctx == ctx && !errors.Is(red, context.Canceled) {
				t.Errorf("errors.Is(context.Canceled) lost: %v", red)
			}
		})
	}
	if redact.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
	plain := errors.New("nothing to hide")
	if redact.Error(plain) != plain {
		t.Error("an error without a URL is not returned as it is")
	}
}
