package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// One attempt under the stall watchdog: the response's body read whole, or
// streamed to the caller when it is large.

// ErrStalled: an attempt got no response header, or no body bytes, for the
// stall timeout.
var ErrStalled = errors.New("the connection stalled")

// attemptTransport makes one attempt: the stall watchdog runs from the
// request until the body is read whole (or, for a large body, for as long
// as the caller reads it).
type attemptTransport struct {
	base  http.RoundTripper
	stall time.Duration
}

func (a *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := newWatchdog(a.stall, cancel)
	resp, err := a.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		w.stop()
		cancel()
		if w.fired() {
			return nil, fmt.Errorf("no response within %s: %w", a.stall, ErrStalled)
		}
		return nil, err
	}
	if req.Method == http.MethodHead || resp.Body == nil || resp.Body == http.NoBody {
		w.stop()
		cancel()
		return resp, nil
	}
	body := &watchedReader{r: resp.Body, w: w}
	if resp.ContentLength > bufferLimit {
		resp.Body = &streamBody{watchedReader: body, close: resp.Body.Close, cancel: cancel, stall: a.stall}
		return resp, nil
	}
	buf, err := readBody(body, resp.ContentLength)
	if err == nil && len(buf) > bufferLimit {
		resp.Body = &streamBody{watchedReader: &watchedReader{r: io.MultiReader(bytes.NewReader(buf), body), w: w}, close: resp.Body.Close, cancel: cancel, stall: a.stall}
		return resp, nil
	}
	_ = resp.Body.Close()
	w.stop()
	cancel()
	if err != nil {
		if w.fired() {
			err = fmt.Errorf("no body bytes for %s: %w", a.stall, ErrStalled)
		}
		err = fmt.Errorf("read the response body (%d bytes in): %w", len(buf), err)
		if Idempotent(req) || deleteMethod(req) == http.MethodDelete && resp.StatusCode/100 != 2 {
			return nil, err // an attempt that failed: retried
		}
		// Not to be sent again, and the server acted on it: its status
		// stands, and the body ends in the error.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(buf), errReader{err}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(buf))
	return resp, nil
}

// readBody reads a body of up to bufferLimit bytes, and one more when
// there are more. A declared length is read into a buffer of that size:
// io.ReadAll grows its buffer from 512 bytes, which for a scan's 100,000
// manifests and listing pages was half a gigabyte of garbage. A length
// over exactLimit is not taken on trust: the buffer grows as bytes come.
func readBody(r io.Reader, declared int64) ([]byte, error) {
	if declared < 0 || declared > exactLimit {
		return io.ReadAll(io.LimitReader(r, bufferLimit+1))
	}
	buf := make([]byte, declared)
	n, err := io.ReadFull(r, buf)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // shorter than declared
		}
		return buf[:n], err
	}
	// Whatever follows the declared length (net/http's bodies end there).
	var probe [1]byte
	if n, err := io.ReadFull(r, probe[:]); n == 0 {
		if err == io.EOF {
			return buf, nil
		}
		return buf, err
	}
	rest, err := io.ReadAll(io.LimitReader(r, bufferLimit-declared))
	return append(append(buf, probe[0]), rest...), err
}

// exactLimit: a body declared up to this long is read into a buffer of
// its declared size.
const exactLimit = 4 << 20

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// watchdog cancels an attempt that makes no progress for d.
type watchdog struct {
	d     time.Duration
	t     *time.Timer
	mu    sync.Mutex
	fire  bool
	other func()
}

func newWatchdog(d time.Duration, cancel func()) *watchdog {
	w := &watchdog{d: d, other: cancel}
	w.t = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.fire = true
		w.mu.Unlock()
		cancel()
	})
	return w
}

func (w *watchdog) progress() { w.t.Reset(w.d) }

func (w *watchdog) stop() { w.t.Stop() }

func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fire
}

// watchedReader resets the watchdog on every read that makes progress.
type watchedReader struct {
	r io.Reader
	w *watchdog
}

func (r *watchedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.w.progress()
	}
	if err != nil && err != io.EOF && r.w.fired() {
		err = fmt.Errorf("no body bytes for %s: %w", r.w.d, ErrStalled)
	}
	return n, err
}

// streamBody is a large body the caller reads under the watchdog; closing
// it ends the attempt and the call.
type streamBody struct {
	*watchedReader
	close  func() error
	cancel func()
	done   func()
	stall  time.Duration
	once   sync.Once
}

func (b *streamBody) Close() error {
	err := b.close()
	b.once.Do(func() {
		b.w.stop()
		b.cancel()
		if b.done != nil {
			b.done()
		}
	})
	return err
}
