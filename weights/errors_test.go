package weights

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestErrorKinds: callers tell offline, checksum and wrong-model errors apart
// with errors.Is/As, and the messages still say everything.
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

	spec16 := MustVGG("vgg16", false, 0)
	path := filepath.Join(t.TempDir(), "vgg16.h5")
	if err := WriteKeras2(path, Synthetic(spec16, 1)); err != nil {
		t.Fatal(err)
	}
	_, err = LoadVGG(path, MustVGG("vgg19", false, 0), WithoutCache())
	var se *ShapeError
	if !errors.Is(err, ErrWrongModel) || errors.As(err, &se) || !strings.Contains(err.Error(), "VGG16") {
		t.Errorf("VGG16 file for VGG19: %v", err)
	}
	bad := Synthetic(spec16, 1)
	b := &bad.Layer("block5_conv3").Weights[1]
	b.Shape, b.Data = []int{256}, b.Data[:256]
	if err := WriteKeras2(path, bad); err != nil {
		t.Fatal(err)
	}
	_, err = LoadVGG(path, spec16, WithoutCache())
	if !errors.As(err, &se) || !errors.Is(err, ErrWrongModel) || se.Layer != "block5_conv3" || se.Weight != "bias" ||
		!slices.Equal(se.Got, []int{256}) || !slices.Equal(se.Want, []int{512}) || !strings.Contains(err.Error(), "file has shape [256], model expects [512]") {
		t.Errorf("wrong bias shape: %v, %+v", err, se)
	}
	os.Remove(path)
}
