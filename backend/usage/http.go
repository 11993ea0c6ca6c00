package usage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/redact"
)

// An events URL names one file per day ({date} is YYYY-MM-DD, UTC), as
// mybinder.org's archive does: https://archive.analytics.mybinder.org/
// events-2024-03-07.jsonl. The reader fetches each day of the window and
// keeps the files in its cache with their ETag and Last-Modified. A day
// that ended two days ago or more is settled: once fetched after that, it
// is read from the cache without asking the server again. A more recent day is
// revalidated (If-None-Match, If-Modified-Since) every run. A 404 for
// today or yesterday means not published yet and is skipped; a 404 for an
// older day, or any other failure, is an error of the source.

// settleAfter is how long after a day ends its file is taken as final.
const settleAfter = 48 * time.Hour

// dayFile is one day of an events URL.
type dayFile struct {
	day     time.Time
	url     string
	path    string // the body, in the cache or a temporary file
	temp    bool   // path is a temporary file, removed after reading
	skipped bool   // not published yet
	err     error
}

// cacheMeta is kept beside a cached events file.
type cacheMeta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Fetched      string `json:"fetched"`
}

func (r *Reader) readURL(ctx context.Context, pattern string, since time.Time, add func(*Event), rep *SourceReport) error {
	now := r.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	since = since.UTC()
	var days []*dayFile
	for d := time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC); !d.After(today); d = d.AddDate(0, 0, 1) {
		days = append(days, &dayFile{day: d, url: strings.ReplaceAll(pattern, DatePlaceholder, d.Format(time.DateOnly))})
	}
	// Fetch a few days at once; read them in order, one at a time.
	sem := make(chan struct{}, max(r.fetchers, 1))
	var wg sync.WaitGroup
	for _, df := range days {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			df.err = r.fetchDay(ctx, df, now)
		}()
	}
	wg.Wait()
	var errs []string
	for _, df := range days {
		switch {
		case df.err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", df.day.Format(time.DateOnly), df.err))
			continue
		case df.skipped:
			rep.Skipped++
			continue
		}
		st, err := readFile(df.path, add)
		if df.temp {
			os.Remove(df.path)
		}
		rep.Files++
		st.FirstBad = strings.Replace(st.FirstBad, df.path, redact.URL(df.url), 1)
		rep.Stats.Add(st)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", df.day.Format(time.DateOnly), err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// fetchDay brings one day's file into the cache (or a temporary file when
// there is no cache), revalidating a cached copy unless it is settled.
func (r *Reader) fetchDay(ctx context.Context, df *dayFile, now time.Time) error {
	settled := now.Sub(df.day.AddDate(0, 0, 1)) >= settleAfter
	var base string
	var meta cacheMeta
	cached := false
	// The cache is keyed by the whole URL (a key= or token= may name the
	// file, not only authorise it) and its metadata keeps the URL
	// redacted, so no signature is written to disk.
	shown := redact.URL(df.url)
	if r.cacheDir != "" {
		sum := sha256.Sum256([]byte(df.url))
		base = filepath.Join(r.cacheDir, hex.EncodeToString(sum[:16]))
		if raw, err := os.ReadFile(base + ".json"); err == nil && json.Unmarshal(raw, &meta) == nil && meta.URL == shown {
			if _, err := os.Stat(base + ".jsonl"); err == nil {
				cached = true
			}
		}
		// final: fetched once the day had settled, so it cannot change
		if fetched, err := time.Parse(time.RFC3339, meta.Fetched); cached && err == nil && fetched.Sub(df.day.AddDate(0, 0, 1)) >= settleAfter {
			df.path = base + ".jsonl"
			return nil
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, df.url, nil)
	if err != nil {
		return redact.Error(err) // a parse error quotes the URL
	}
	req.Header.Set("User-Agent", "helmupgradebot")
	if cached {
		if meta.ETag != "" {
			req.Header.Set("If-None-Match", meta.ETag)
		}
		if meta.LastModified != "" {
			req.Header.Set("If-Modified-Since", meta.LastModified)
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the source names the URL already
		}
		return redact.Error(err) // a redirect's error may name another URL
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && cached:
		df.path = base + ".jsonl"
		return nil
	case resp.StatusCode == http.StatusNotFound && now.Sub(df.day) < 48*time.Hour:
		df.skipped = true // today's or yesterday's file is not out yet
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("HTTP %s from %s", resp.Status, shown)
	}
	dir := r.cacheDir
	if dir == "" {
		dir = os.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("events cache: %w", err)
	}
	f, err := os.CreateTemp(dir, "events-*.tmp")
	if err != nil {
		return fmt.Errorf("events cache: %w", err)
	}
	_, cerr := io.Copy(f, resp.Body)
	if err := errors.Join(cerr, f.Close()); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("read %s: %w", shown, redact.Error(err))
	}
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if r.cacheDir == "" || (etag == "" && lm == "" && !settled) {
		// nothing to revalidate it with next time: read it once
		df.path, df.temp = f.Name(), true
		return nil
	}
	if err := os.Rename(f.Name(), base+".jsonl"); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("events cache: %w", err)
	}
	df.path = base + ".jsonl"
	// The body is in place before its validators, so a torn write never
	// pairs new validators with an old body.
	raw, _ := json.Marshal(cacheMeta{URL: shown, ETag: etag, LastModified: lm, Fetched: now.Format(time.RFC3339)})
	tmp := base + ".json.tmp"
	if os.WriteFile(tmp, raw, 0o644) == nil {
		_ = os.Rename(tmp, base+".json")
	}
	return nil
}
