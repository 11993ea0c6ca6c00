package chartrepo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/gob"
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

	"github.com/helmupgradebot/helmupgradebot/model"
)

// maxIndexSize bounds how much of an index is read; real ones are a few MB.
const maxIndexSize = 256 << 20

// indexURL returns the index.yaml URL of an HTTP chart repository.
func indexURL(repository string) (*url.URL, error) {
	u, err := url.Parse(repository)
	if err != nil {
		return nil, fmt.Errorf("chart repository %q is not a URL: %w", redactRaw(repository), err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("chart repository %s has no host", u.Redacted())
	}
	u = u.JoinPath("index.yaml")
	return u, nil
}

// cacheMeta is what the cache keeps beside a cached index body.
type cacheMeta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// fetchIndex downloads and parses an index, revalidating a cached copy when
// the client has a cache directory.
func (c *Client) fetchIndex(ctx context.Context, hc *http.Client, u *url.URL) (*Index, error) {
	// The cache is keyed by the redacted URL so that no password reaches
	// the disk.
	shown := u.Redacted()
	key := shown
	var cached []byte
	var meta cacheMeta
	if c.cacheDir != "" {
		cached, meta = c.readCache(key)
	}
	body, fresh, err := c.get(ctx, hc, u, cached != nil, meta)
	if err != nil {
		return nil, fmt.Errorf("fetch chart index %s: %w", shown, err)
	}
	if !fresh {
		// 304: the parsed copy kept under the same validators, else the
		// cached body parsed (and its parsed copy kept for next time).
		if ix := c.readParsed(key, meta); ix != nil {
			return ix, nil
		}
		ix, err := ParseIndex(cached)
		if err == nil {
			_ = c.writeParsed(key, meta, ix)
			return ix, nil
		}
		// The cached copy is damaged; fetch the index afresh.
		body, _, err = c.get(ctx, hc, u, false, cacheMeta{})
		if err != nil {
			return nil, fmt.Errorf("fetch chart index %s: %w", shown, err)
		}
	}
	ix, err := ParseIndex(body.data)
	if err != nil {
		return nil, fmt.Errorf("read chart index %s: %w", shown, err)
	}
	if c.cacheDir != "" {
		// A cache that cannot be written only costs a download next time.
		if c.writeCache(key, body) == nil {
			_ = c.writeParsed(key, cacheMeta{URL: key, ETag: body.etag, LastModified: body.lastModified}, ix)
		}
	}
	return ix, nil
}

// parsedIndex is an index's parsed versions, kept under the validators of
// the body they were parsed from: a 304 then costs no parsing.
type parsedIndex struct {
	Meta    cacheMeta
	Entries map[string][]model.ChartVersion
	// Format is parsedFormat when written: a copy parsed by an older
	// version, which read less of each entry, is parsed again.
	Format int
}

// parsedFormat numbers what ParseIndex reads of an entry; 1 added the
// artifacthub.io/changes annotation.
const parsedFormat = 1

// readParsed returns the parsed index kept for u under meta's validators,
// or nil.
func (c *Client) readParsed(u string, meta cacheMeta) *Index {
	f, err := os.Open(filepath.Join(c.cacheDir, cacheKey(u)+".gob"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var p parsedIndex
	if gob.NewDecoder(bufio.NewReader(f)).Decode(&p) != nil || p.Meta != meta || p.Format != parsedFormat || p.Entries == nil {
		return nil
	}
	return &Index{Entries: p.Entries}
}

// writeParsed keeps ix, parsed from the body with meta's validators.
func (c *Client) writeParsed(u string, meta cacheMeta, ix *Index) error {
	if meta.ETag == "" && meta.LastModified == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(parsedIndex{Meta: meta, Entries: ix.Entries, Format: parsedFormat}); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.cacheDir, cacheKey(u)+".gob"), buf.Bytes())
}

// response is a fetched index body and its validators.
type response struct {
	data         []byte
	etag         string
	lastModified string
}

// get fetches u with hc. With conditional set it sends meta's validators
// and reports fresh=false when the server answers 304 Not Modified.
func (c *Client) get(ctx context.Context, hc *http.Client, u *url.URL, conditional bool, meta cacheMeta) (resp response, fresh bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return response{}, false, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	if conditional {
		if meta.ETag != "" {
			req.Header.Set("If-None-Match", meta.ETag)
		}
		if meta.LastModified != "" {
			req.Header.Set("If-Modified-Since", meta.LastModified)
		}
	}
	r, err := hc.Do(req)
	if err != nil {
		return response{}, false, err
	}
	defer r.Body.Close()
	switch {
	case r.StatusCode == http.StatusNotModified && conditional:
		return response{}, false, nil
	case r.StatusCode != http.StatusOK:
		return response{}, false, &StatusError{Code: r.StatusCode, Status: r.Status}
	}
	data, err := readBody(r)
	if err != nil {
		return response{}, false, err
	}
	return response{data: data, etag: r.Header.Get("ETag"), lastModified: r.Header.Get("Last-Modified")}, true, nil
}

// readBody reads an index body, undoing gzip that the transport left in
// place: a Content-Encoding it did not ask for, or a gzip file served as is.
func readBody(r *http.Response) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r.Body, maxIndexSize+1))
	var src io.Reader = br
	magic, _ := br.Peek(2)
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("decompress gzip body: %w", err)
		}
		defer zr.Close()
		src = io.LimitReader(zr, maxIndexSize+1)
	} else if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc != "" && enc != "identity" && !r.Uncompressed {
		if enc == "gzip" || enc == "x-gzip" {
			return nil, errors.New("body has Content-Encoding gzip but is not gzip data")
		}
		return nil, fmt.Errorf("body has Content-Encoding %q, which is not supported", enc)
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(data) > maxIndexSize {
		return nil, fmt.Errorf("index is larger than %d MiB", maxIndexSize>>20)
	}
	return data, nil
}

func cacheKey(u string) string {
	sum := sha256.Sum256([]byte(u))
	return hex.EncodeToString(sum[:])
}

// readCache returns the cached body and validators for u, or nil when the
// cache has no usable copy.
func (c *Client) readCache(u string) ([]byte, cacheMeta) {
	base := filepath.Join(c.cacheDir, cacheKey(u))
	raw, err := os.ReadFile(base + ".json")
	if err != nil {
		return nil, cacheMeta{}
	}
	var meta cacheMeta
	if json.Unmarshal(raw, &meta) != nil || meta.URL != u || (meta.ETag == "" && meta.LastModified == "") {
		return nil, cacheMeta{}
	}
	data, err := os.ReadFile(base + ".yaml")
	if err != nil {
		return nil, cacheMeta{}
	}
	return data, meta
}

// writeCache stores a body that has validators. The body is written before
// its validators so that a torn write never pairs new validators with an
// old body.
func (c *Client) writeCache(u string, r response) error {
	if r.etag == "" && r.lastModified == "" {
		return nil
	}
	if err := os.MkdirAll(c.cacheDir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(c.cacheDir, cacheKey(u))
	if err := writeFileAtomic(base+".yaml", r.data); err != nil {
		return err
	}
	meta, err := json.Marshal(cacheMeta{URL: u, ETag: r.etag, LastModified: r.lastModified})
	if err != nil {
		return err
	}
	return writeFileAtomic(base+".json", meta)
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// redactRaw hides a password in a string that may not parse as a URL.
func redactRaw(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "REDACTED" + s[i:]
		}
	}
	return s
}
