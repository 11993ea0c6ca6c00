package githubtest

import (
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// serveApp answers GET /app, signed with the App's JSON web token as
// GitHub requires (an installation token gets 401): the App itself, whose
// slug names the bot that opens its issues and pull requests,
// "<slug>[bot]".
func (s *Server) serveApp(w http.ResponseWriter, r *http.Request) {
	const doc = docsRoot + "/apps/apps#get-the-authenticated-app"
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded", doc)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app, msg := s.verifyAppJWT(strings.TrimSpace(jwt), time.Now())
	if app == nil {
		writeError(w, http.StatusUnauthorized, msg, doc)
		return
	}
	writeJSON(w, http.StatusOK, &gh.App{
		ID:          gh.Int64(app.ID),
		Slug:        gh.String(app.Slug),
		NodeID:      gh.String("A_" + app.Slug),
		Name:        gh.String(app.Slug),
		Owner:       s.userJSON(DefaultUser),
		HTMLURL:     gh.String(s.root + "/apps/" + app.Slug),
		Permissions: &gh.InstallationPermissions{},
	})
}
