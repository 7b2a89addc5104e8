// Package download fetches the files vggnb needs (Keras' ImageNet weights,
// MNIST) from their official URLs into the user's cache: pinned sizes and MD5s,
// resumable, safe under concurrent fetchers, a progress bar, and nothing kept
// that is not the file. Offline it says where to place the file by hand.
package download

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Entry is one downloadable weight file, pinned by size and MD5.
type Entry struct {
	// Name is the catalog key, e.g. "vgg19_notop".
	Name string
	// URL is where Keras downloads it from.
	URL string
	// FileName is the name Keras gives it in its cache.
	FileName string
	// MD5 is the hex digest keras.applications pins.
	MD5 string
	// Size in bytes; 0 if unknown.
	Size int64
	// Magic is what the file starts with (HDF5's signature for Keras files, gzip's
	// for MNIST); a download that starts otherwise (a web page) is refused and
	// not kept. Empty: not checked.
	Magic string
}

// Option configures Fetch.
type Option func(*fetchConfig)

type fetchConfig struct {
	idle     time.Duration
	rejected string // why the file already at the final path was not used
	dir      string
	progress io.Writer
	client   *http.Client
	url      string
	extra    []string
}

// WithDir downloads into dir instead of CacheDir()/models.
func WithDir(dir string) Option { return func(c *fetchConfig) { c.dir = dir } }

// WithProgress draws a progress bar on w (os.Stderr for a terminal or a notebook).
func WithProgress(w io.Writer) Option { return func(c *fetchConfig) { c.progress = w } }

// WithHTTPClient uses client instead of a client with a 30 s connect timeout.
func WithHTTPClient(client *http.Client) Option {
	return func(c *fetchConfig) { c.client = client }
}

// DefaultIdleTimeout is how long a download may receive nothing before it is
// given up (and resumed by the next Fetch).
const DefaultIdleTimeout = time.Minute

// WithIdleTimeout sets how long the download may go without receiving a byte;
// default DefaultIdleTimeout.
func WithIdleTimeout(d time.Duration) Option { return func(c *fetchConfig) { c.idle = d } }

// WithURL downloads from a mirror instead of the entry's URL; the file must still
// match the entry's size and MD5.
func WithURL(url string) Option { return func(c *fetchConfig) { c.url = url } }

// WithSearchDirs also accepts a verified copy already present in these
// directories, searched before Keras' own cache (KerasCacheDir, always searched).
func WithSearchDirs(dirs ...string) Option {
	return func(c *fetchConfig) { c.extra = append(c.extra, dirs...) }
}

// KerasCacheDir is Keras' own download directory, $KERAS_HOME/models or ~/.keras/models.
func KerasCacheDir() string {
	if d := os.Getenv("KERAS_HOME"); d != "" {
		return filepath.Join(d, "models")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".keras", "models")
}

// Fetch returns the path of a verified local copy of e, downloading it if needed.
//
// The download goes to <name>.part beside the final file and resumes from there
// with an HTTP Range request after an interruption; the final name appears only
// after the size and MD5 match (atomic rename), so an interrupted or corrupt
// download never looks complete. Concurrent fetchers of the same file, in one
// process or several, take turns on a lock file. A checksum mismatch deletes the
// download. Offline, the error names the URL and the exact path where the file
// can be placed by hand. A verified copy found by Local is used as it is.
func Fetch(ctx context.Context, e Entry, opts ...Option) (string, error) {
	cfg := fetchConfig{dir: filepath.Join(CacheDir(), "models"), url: e.URL, idle: DefaultIdleTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.client == nil {
		cfg.client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 30 * time.Second,
			TLSHandshakeTimeout:   30 * time.Second,
		}}
	}
	final := filepath.Join(cfg.dir, e.FileName)
	if p, err := local(cfg, e); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return "", fmt.Errorf("weights: cache directory: %w", err)
	}
	unlock, err := LockFile(ctx, final+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another fetcher may have finished while we waited.
	if err := verified(final, e); err == nil {
		return final, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		cfg.rejected = err.Error()
	}
	if err := download(ctx, cfg, e, final); err != nil {
		return "", err
	}
	return final, nil
}

// Local returns the path of a verified copy of e already on this machine
// (WithSearchDirs, Keras' own cache KerasCacheDir, then the download directory),
// without downloading. The error lists where it looked.
func Local(e Entry, opts ...Option) (string, error) {
	cfg := fetchConfig{dir: filepath.Join(CacheDir(), "models"), url: e.URL}
	for _, o := range opts {
		o(&cfg)
	}
	return local(cfg, e)
}

func local(cfg fetchConfig, e Entry) (string, error) {
	var tried []string
	dirs := slices.Concat(cfg.extra, []string{KerasCacheDir(), cfg.dir})
	for i, d := range dirs {
		if d == "" || slices.Contains(dirs[:i], d) {
			continue
		}
		p := filepath.Join(d, e.FileName)
		err := verified(p, e)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			tried = append(tried, p+" (absent)")
		} else {
			tried = append(tried, err.Error())
		}
	}
	return "", fmt.Errorf("weights: no verified %s: looked at %s", e.FileName, strings.Join(tried, "; "))
}

func manualHint(cfg fetchConfig, e Entry, final string) string {
	hint := fmt.Sprintf("download %s elsewhere and place it at %s (MD5 %s, %d bytes)", e.URL, final, e.MD5, e.Size)
	if cfg.rejected != "" {
		hint += "; the file already there was rejected: " + strings.TrimPrefix(cfg.rejected, "weights: ")
	}
	return hint
}

// idleReader cancels its download (through cancel) when no byte arrives for d.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.d)
	}
	return n, err
}

func download(ctx context.Context, cfg fetchConfig, e Entry, final string) error {
	if e.Name == "" {
		e.Name = e.FileName // for messages
	}
	part := final + ".part"
	h := md5.New()
	var have int64
	if st, err := os.Stat(part); err == nil && (e.Size == 0 || st.Size() <= e.Size) {
		if have, err = hashFile(part, h); err != nil {
			return fmt.Errorf("weights: reading partial download %s: %w", part, err)
		}
	} else {
		os.Remove(part)
	}
	if e.Size > 0 && have == e.Size {
		return finish(e, part, final, h)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("no data for %v", cfg.idle)
	idle := time.AfterFunc(cfg.idle, func() { cancel(stalled) })
	defer idle.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.url, nil)
	if err != nil {
		return fmt.Errorf("weights: %s: %w", cfg.url, err)
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := cfg.client.Do(req)
	if err != nil {
		return withKind(ErrOffline, fmt.Errorf("weights: cannot download %s: %w (offline? %s)", e.Name, causeOf(ctx, err), manualHint(cfg, e, final)))
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0 && strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", have)):
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC // the server ignored Range: start over
		have = 0
		h.Reset()
	default:
		return withKind(ErrServer, fmt.Errorf("weights: cannot download %s: %s answered %s (%s)", e.Name, cfg.url, resp.Status, manualHint(cfg, e, final)))
	}
	// What is not the file is never kept as a partial download (the next fetch
	// would resume into it): a web page, a body of the wrong length, or a start
	// that is not the entry's Magic.
	notWeights := func(why string) error {
		if have == 0 {
			os.Remove(part)
		}
		return withKind(ErrServer, fmt.Errorf("weights: cannot download %s: %s sent %s, not the file (a proxy's or portal's page?); nothing was kept (%s)",
			e.Name, cfg.url, why, manualHint(cfg, e, final)))
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/") {
		return notWeights("a " + ct + " page")
	}
	if want := e.Size - have; e.Size > 0 && resp.ContentLength >= 0 && resp.ContentLength != want {
		return notWeights(fmt.Sprintf("%d bytes where %d remain", resp.ContentLength, want))
	}
	body := io.Reader(&idleReader{r: resp.Body, timer: idle, d: cfg.idle})
	if have == 0 && e.Magic != "" {
		head := make([]byte, len(e.Magic))
		n, err := io.ReadFull(body, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("weights: download of %s from %s: %w", e.Name, cfg.url, causeOf(ctx, err))
		}
		if string(head[:n]) != e.Magic {
			return notWeights(fmt.Sprintf("%q where the file starts with %q", head[:n], e.Magic))
		}
		body = io.MultiReader(bytes.NewReader(head[:n]), body)
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	bar := NewProgress(cfg.progress, "Downloading "+e.FileName, e.Size)
	bar.Set(have)
	n, copyErr := io.Copy(io.MultiWriter(out, h, bar), body)
	copyErr = causeOf(ctx, copyErr)
	closeErr := out.Close()
	bar.Done()
	have += n
	if copyErr != nil {
		err := withKind(ErrIncomplete, fmt.Errorf("weights: download of %s from %s interrupted after %d of %d bytes: %w; %s is kept and the next fetch resumes it", e.Name, cfg.url, have, e.Size, copyErr, part))
		if cause := context.Cause(ctx); cause == nil || cause == stalled {
			err = withKind(ErrOffline, err) // the network, not the caller, stopped it
		}
		return err
	}
	if closeErr != nil {
		return fmt.Errorf("weights: writing %s: %w", part, closeErr)
	}
	if e.Size > 0 && have < e.Size {
		return withKind(ErrIncomplete, fmt.Errorf("weights: download of %s from %s ended after %d of %d bytes; %s is kept and the next fetch resumes it", e.Name, cfg.url, have, e.Size, part))
	}
	return finish(e, part, final, h)
}

// finish checks size and digest of the complete download and moves it into place.
func finish(e Entry, part, final string, h hash.Hash) error {
	st, err := os.Stat(part)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if (e.Size > 0 && st.Size() != e.Size) || (e.MD5 != "" && got != e.MD5) {
		os.Remove(part)
		return withKind(ErrChecksum, fmt.Errorf("weights: %s: checksum mismatch: got %d bytes with MD5 %s, want %d bytes with MD5 %s; the download was deleted (a proxy's error page or a changed file?)", e.Name, st.Size(), got, e.Size, e.MD5))
	}
	if err := os.Rename(part, final); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	writeStamp(final, e)
	return nil
}

func hashFile(path string, h hash.Hash) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(h, f)
}

// A stamp beside a verified file records its MD5 with the size and time it had,
// so later fetches need not hash hundreds of megabytes again.
func stampLine(path string, e Entry) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d %d\n", e.MD5, st.Size(), st.ModTime().UnixNano()), nil
}

func writeStamp(path string, e Entry) {
	if line, err := stampLine(path, e); err == nil {
		_ = os.WriteFile(path+".md5", []byte(line), 0o644)
	}
}

// verified says whether path holds e: by stamp, else by hashing (then stamped).
func verified(path string, e Entry) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if e.Size > 0 && st.Size() != e.Size {
		return withKind(ErrChecksum, fmt.Errorf("weights: %s has %d bytes, want %d", path, st.Size(), e.Size))
	}
	line, err := stampLine(path, e)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(path + ".md5"); err == nil && string(b) == line {
		return nil
	}
	h := md5.New()
	if _, err := hashFile(path, h); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); e.MD5 != "" && got != e.MD5 {
		return withKind(ErrChecksum, fmt.Errorf("weights: %s has MD5 %s, want %s", path, got, e.MD5))
	}
	writeStamp(path, e)
	return nil
}

// LockFile takes an exclusive advisory lock (flock) on path, created if need
// be, waiting until ctx ends; unlock releases it. Fetch holds one per file so
// that concurrent fetchers download it once.
func LockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("weights: lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("weights: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("weights: waiting for another download of %s: %w", strings.TrimSuffix(path, ".lock"), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// causeOf returns ctx's cause (a stall, a cancellation) for an error that ctx's
// end caused, else err.
func causeOf(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", err, context.Cause(ctx))
	}
	return err
}

// CacheDir is where vggnb keeps downloaded files (models/, datasets/) and
// the weights' fast-reload forms: $VGGNB_CACHE if set, else $XDG_CACHE_HOME/vggnb, else the user cache
// directory (~/.cache/vggnb on Linux), else a directory under os.TempDir().
func CacheDir() string {
	if d := os.Getenv("VGGNB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "vggnb")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "vggnb")
	}
	return filepath.Join(os.TempDir(), "vggnb-cache")
}
