package gartest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"time"
)

// CloudPlatformScope is the OAuth scope a registry client asks for.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// jwtBearer is the grant type of a service-account assertion.
const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// KeyFile is a service-account key file (JSON, as the Google Cloud console
// downloads one) whose token_uri is this stand-in's token endpoint, for
// GOOGLE_APPLICATION_CREDENTIALS or a key reference.
func (s *Server) KeyFile() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		panic("gartest: marshal an RSA key: " + err.Error()) // cannot happen for a key rsa.GenerateKey made
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	body, _ := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  "gartest-project",
		"private_key_id":              "gartest-key-1",
		"private_key":                 string(pemKey),
		"client_email":                s.email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    s.URL() + "/auth",
		"token_uri":                   s.TokenURI(),
		"auth_provider_x509_cert_url": s.URL() + "/certs",
	}, "", "  ")
	return body
}

// TokenURI is the stand-in's OAuth 2.0 token endpoint.
func (s *Server) TokenURI() string { return s.URL() + "/token" }

// serveOAuthToken answers a service account's JWT-bearer grant with an
// access token, checking the assertion as Google's endpoint does.
func (s *Server) serveOAuthToken(w http.ResponseWriter, r *http.Request) {
	oauthError := func(code, desc string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthError("invalid_request", "POST only")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError("invalid_request", "the form does not parse")
		return
	}
	if r.PostForm.Get("grant_type") != jwtBearer {
		oauthError("unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	if why := s.checkAssertion(r.PostForm.Get("assertion")); why != "" {
		oauthError("invalid_grant", why)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": s.AccessToken(), "expires_in": int(AccessTokenLifetime/time.Second) - 1, "token_type": "Bearer"})
}

// checkAssertion verifies a service account's signed JWT; "" when good,
// else why not.
func (s *Server) checkAssertion(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "Invalid JWT: not three segments"
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	if !decodeSegment(parts[0], &hdr) || !decodeSegment(parts[1], &claims) {
		return "Invalid JWT: a segment does not decode"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || hdr.Alg != "RS256" {
		return "Invalid JWT Signature."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "Invalid JWT Signature."
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != s.email:
		return "Invalid issuer: " + claims.Iss
	case claims.Aud != s.TokenURI():
		return "Invalid JWT: audience is not the token endpoint"
	case claims.Exp <= now || claims.Iat > now+60:
		return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
	case !slices.Contains(strings.Fields(claims.Scope), CloudPlatformScope):
		return "Invalid OAuth scope: the registry needs " + CloudPlatformScope
	}
	return ""
}

func decodeSegment(seg string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	return err == nil && json.Unmarshal(raw, v) == nil
}
