package ecrtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// authHeader is the shape of a SigV4 Authorization header.
var authHeader = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// maxSkew is how far a request's X-Amz-Date may be from the stand-in's
// clock, as AWS allows.
const maxSkew = 15 * time.Minute

// verifySigV4 checks the request's AWS Signature Version 4 as AWS does:
// the Authorization header's shape, its credential scope (the stand-in's
// access key, region and the service "ecr"), host and x-amz-date among the
// signed headers, the date within 15 minutes, and the signature itself,
// recomputed over the signed headers and body with the secret key. It
// returns the access key ID, or the AWS error code and message.
func verifySigV4(r *http.Request, body []byte, now time.Time) (string, string, string) {
	return verifySigV4For(r, body, now, "ecr")
}

// verifySigV4For is verifySigV4 for the service ("ecr", "sts", "iam").
func verifySigV4For(r *http.Request, body []byte, now time.Time, want string) (string, string, string) {
	m := authHeader.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "", "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	key, day, region, service, signed, sig := m[1], m[2], m[3], m[4], m[5], m[6]
	if key != AccessKeyID {
		return "", "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if region != Region || service != want {
		return "", "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region and service %s, not %s/%s.", want, region, service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, day) {
		return "", "IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential's date."
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return "", "InvalidSignatureException", "Signature expired: the request's date is more than 15 minutes from the server's."
	}
	headers := strings.Split(signed, ";")
	if !slices.Contains(headers, "host") || !slices.Contains(headers, "x-amz-date") || !slices.IsSorted(headers) {
		return "", "IncompleteSignatureException", "SignedHeaders must be sorted and include host and x-amz-date."
	}
	var canon strings.Builder
	for _, h := range headers {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vs := r.Header.Values(h)
			for i := range vs {
				vs[i] = strings.Join(strings.Fields(vs[i]), " ")
			}
			v = strings.Join(vs, ",")
		}
		canon.WriteString(h + ":" + v + "\n")
	}
	payload := sha256.Sum256(body)
	creq := strings.Join([]string{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, canon.String(), signed, hex.EncodeToString(payload[:])}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	creqHash := sha256.Sum256([]byte(creq))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creqHash[:])
	k := hmacSHA256([]byte("AWS4"+SecretAccessKey), day)
	for _, part := range []string{region, service, "aws4_request"} {
		k = hmacSHA256(k, part)
	}
	if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(k, toSign))), []byte(sig)) {
		return "", "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."
	}
	return key, "", ""
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
