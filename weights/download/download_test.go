package download

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testMagic stands for HDF5's signature, which Keras files start with.
const testMagic = "\x89HDF\r\n\x1a\n"

// payload returns deterministic content and an Entry pinning it.
func payload(size int) ([]byte, Entry) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	copy(b, testMagic) // Fetch refuses what does not start like an HDF5 file
	s := md5.Sum(b)
	return b, Entry{Name: "test_notop", FileName: "test_notop.h5", MD5: hex.EncodeToString(s[:]), Size: int64(size), Magic: testMagic}
}

type server struct {
	*httptest.Server
	requests atomic.Int32
	ranges   []string
	mu       sync.Mutex
}

// newServer serves body at /w.h5 with Range support; handler may override.
func newServer(t *testing.T, body []byte, handler func(w http.ResponseWriter, r *http.Request) bool) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		if handler != nil && handler(w, r) {
			return
		}
		if r.URL.Path != "/w.h5" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "w.h5", time.Unix(0, 0), bytes.NewReader(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFetch(t *testing.T) {
	body, e := payload(300_000)
	t.Run("success", func(t *testing.T) {
		s := newServer(t, body, nil)
		dir := t.TempDir()
		var bar bytes.Buffer
		p, err := Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/w.h5"), WithProgress(&bar))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, body) || p != filepath.Join(dir, e.FileName) {
			t.Fatalf("wrong content or path %s", p)
		}
		if !strings.Contains(bar.String(), "100%") {
			t.Errorf("no progress drawn: %q", bar.String())
		}
		// A second fetch uses the verified copy without a request.
		n := s.requests.Load()
		if _, err := Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/w.h5")); err != nil {
			t.Fatal(err)
		}
		if s.requests.Load() != n {
			t.Error("verified file downloaded again")
		}
	})
	t.Run("checksum mismatch leaves nothing", func(t *testing.T) {
		other := append([]byte{}, body...)
		other[1000] ^= 1
		s := newServer(t, other, nil)
		dir := t.TempDir()
		_, err := Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/w.h5"))
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), e.MD5) {
			t.Fatalf("err = %v", err)
		}
		entries, _ := os.ReadDir(dir)
		for _, de := range entries {
			if !strings.HasSuffix(de.Name(), ".lock") {
				t.Errorf("left %s in the cache", de.Name())
			}
		}
	})
	t.Run("truncation then resume", func(t *testing.T) {
		var cut atomic.Bool
		cut.Store(true)
		s := newServer(t, body, func(w http.ResponseWriter, r *http.Request) bool {
			if !cut.Load() {
				return false
			}
			// Promise everything, send 40%, drop the connection.
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(http.StatusOK)
			w.Write(body[:len(body)*4/10])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		})
		dir := t.TempDir()
		_, err := Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/w.h5"))
		if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "resumes") {
			t.Fatalf("err = %v", err)
		}
		final := filepath.Join(dir, e.FileName)
		if _, err := os.Stat(final); err == nil {
			t.Fatal("a truncated download appeared under the final name")
		}
		st, err := os.Stat(final + ".part")
		if err != nil || st.Size() != int64(len(body)*4/10) {
			t.Fatalf("partial file: %v %v", st, err)
		}
		cut.Store(false)
		p, err := Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/w.h5"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, body) {
			t.Fatal("resumed file differs")
		}
		s.mu.Lock()
		last := s.ranges[len(s.ranges)-1]
		s.mu.Unlock()
		if last != fmt.Sprintf("bytes=%d-", len(body)*4/10) {
			t.Errorf("resume asked for Range %q", last)
		}
	})
	t.Run("404", func(t *testing.T) {
		s := newServer(t, body, nil)
		dir := t.TempDir()
		_, err := Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/missing.h5"))
		if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), filepath.Join(dir, e.FileName)) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("offline names URL and manual path", func(t *testing.T) {
		s := newServer(t, body, nil)
		url := s.URL + "/w.h5"
		s.Close() // nothing listens there any more
		dir := t.TempDir()
		_, err := Fetch(context.Background(), e, WithDir(dir), WithURL(url))
		if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), filepath.Join(dir, e.FileName)) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("concurrent fetchers", func(t *testing.T) {
		s := newServer(t, body, func(w http.ResponseWriter, r *http.Request) bool {
			time.Sleep(50 * time.Millisecond) // keep the first download in flight
			return false
		})
		dir := t.TempDir()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/w.h5"))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, _ := os.ReadFile(filepath.Join(dir, e.FileName))
		if !bytes.Equal(got, body) {
			t.Fatal("cache corrupted by concurrent fetchers")
		}
		if n := s.requests.Load(); n != 1 {
			t.Errorf("%d downloads for 4 concurrent fetchers, want 1", n)
		}
	})
	t.Run("found in a search dir", func(t *testing.T) {
		keras := t.TempDir()
		os.WriteFile(filepath.Join(keras, e.FileName), body, 0o644)
		p, err := Fetch(context.Background(), e, WithDir(t.TempDir()), WithURL("http://127.0.0.1:1/none"), WithSearchDirs(keras))
		if err != nil || p != filepath.Join(keras, e.FileName) {
			t.Fatalf("%s %v", p, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		s := newServer(t, body, func(w http.ResponseWriter, r *http.Request) bool {
			time.Sleep(500 * time.Millisecond)
			return false
		})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		dir := t.TempDir()
		if _, err := Fetch(ctx, e, WithDir(dir), WithURL(s.URL+"/w.h5")); err == nil {
			t.Fatal("no error")
		}
		if _, err := os.Stat(filepath.Join(dir, e.FileName)); err == nil {
			t.Fatal("final file after cancel")
		}
	})
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, "x", 1000)
	for i := int64(0); i <= 1000; i += 50 {
		p.Set(i)
	}
	p.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 11 || !strings.Contains(lines[10], "100%") || !strings.Contains(lines[0], "0%") {
		t.Errorf("non-terminal progress printed %d lines:\n%s", len(lines), b.String())
	}
}

// TestFetchHostileServers: what is not the weight file is never kept as a
// partial download to be resumed into; a stalled body is given up; offline, the
// error says why the file already in place was not used.
func TestFetchHostileServers(t *testing.T) {
	body, e := payload(64 << 10)
	page := "<html>please log in</html>\n" // 27 bytes, as a captive portal sends
	for _, c := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request) bool
		want    string
	}{
		{"html page with 200", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, page)
			return true
		}, "a text/html; charset=utf-8 page"},
		{"wrong length", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", "27")
			fmt.Fprint(w, page)
			return true
		}, "27 bytes where 65536 remain"},
		{"chunked, not HDF5", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.(http.Flusher).Flush() // chunked: no Content-Length
			fmt.Fprint(w, page)
			return true
		}, `where the file starts with "\x89HDF\r\n\x1a\n"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			bad := newServer(t, body, c.handler)
			_, err := Fetch(context.Background(), e, WithDir(dir), WithURL(bad.URL+"/w.h5"))
			if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was kept") {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(left) > 0 {
				t.Fatalf("kept %v", left)
			}
			good := newServer(t, body, nil)
			p, err := Fetch(context.Background(), e, WithDir(dir), WithURL(good.URL+"/w.h5"))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, body) {
				t.Error("the next fetch did not get the right file")
			}
			if r := good.ranges[0]; r != "" {
				t.Errorf("the next fetch resumed (Range %q) from what the bad server sent", r)
			}
		})
	}

	t.Run("stalled body", func(t *testing.T) {
		dir := t.TempDir()
		s := newServer(t, body, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // then nothing, until the client gives up
			return true
		})
		start := time.Now()
		_, err := Fetch(context.Background(), e, WithDir(dir), WithURL(s.URL+"/w.h5"), WithIdleTimeout(300*time.Millisecond))
		if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "no data for 300ms") {
			t.Fatalf("error %v, want the stall named", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("gave up after %v", d)
		}
		if st, err := os.Stat(filepath.Join(dir, e.FileName+".part")); err != nil || st.Size() != int64(len(body)/2) {
			t.Errorf("the half received is not kept for resuming: %v", err)
		}
	})

	t.Run("offline with a rejected file in place", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, e.FileName), []byte("not it"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Fetch(context.Background(), e, WithDir(dir), WithURL("http://127.0.0.1:1/w.h5"))
		if err == nil || !strings.Contains(err.Error(), "the file already there was rejected") || !strings.Contains(err.Error(), "has 6 bytes, want 65536") {
			t.Errorf("offline error %v does not say why the file in place was rejected", err)
		}
	})
}

// TestErrorKinds: callers tell offline and checksum errors apart with
// errors.Is, and the messages still say everything.
func TestErrorKinds(t *testing.T) {
	body, e := payload(4096)
	dir := t.TempDir()
	_, err := Fetch(context.Background(), e, WithDir(dir), WithURL("http://127.0.0.1:1/w.h5"))
	if !errors.Is(err, ErrOffline) || errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "place it at") {
		t.Errorf("unreachable server: %v (ErrOffline %v)", err, errors.Is(err, ErrOffline))
	}
	stall := newServer(t, body, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Length", "4096")
		w.Write(body[:100])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	})
	_, err = Fetch(context.Background(), e, WithDir(t.TempDir()), WithURL(stall.URL+"/w.h5"), WithIdleTimeout(200*time.Millisecond))
	if !errors.Is(err, ErrOffline) {
		t.Errorf("stalled server: %v is not ErrOffline", err)
	}
	changed := append(slices.Clone(body[:len(body)-1]), body[len(body)-1]^1)
	s := newServer(t, changed, nil)
	_, err = Fetch(context.Background(), e, WithDir(t.TempDir()), WithURL(s.URL+"/w.h5"))
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("changed file: %v (ErrChecksum %v)", err, errors.Is(err, ErrChecksum))
	}
}
