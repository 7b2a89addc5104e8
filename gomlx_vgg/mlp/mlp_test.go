package mlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX style.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vggnb/vggnb/weights/download"
)

// idxBytes encodes an IDX file of unsigned bytes, gzip-compressed.
func idxBytes(dims []int, data []byte) []byte {
	var raw bytes.Buffer
	raw.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		_ = binary.Write(&raw, binary.BigEndian, uint32(d))
	}
	raw.Write(data)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(raw.Bytes())
	_ = w.Close()
	return gz.Bytes()
}

// tinySet writes a 4-example 28x28 IDX pair into dir with the MNIST file names.
func tinySet(t *testing.T, dir string) map[string][]byte {
	files := map[string][]byte{}
	pix := make([]byte, 4*28*28)
	for i := range pix {
		pix[i] = byte(i)
	}
	for _, p := range []string{"train", "t10k"} {
		files[p+"-images-idx3-ubyte.gz"] = idxBytes([]int{4, 28, 28}, pix)
		files[p+"-labels-idx1-ubyte.gz"] = idxBytes([]int{4}, []byte{3, 1, 4, 1})
	}
	if dir != "" {
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return files
}

func TestIDX(t *testing.T) {
	dir := t.TempDir()
	tinySet(t, dir)
	train, test, err := loadPair(dir, "tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 4 || test.Rows != 28 || !slices.Equal(train.Labels, []uint8{3, 1, 4, 1}) || train.Images[255] != 1 {
		t.Errorf("decoded %d examples, labels %v, pixel 255 = %v", train.Len(), train.Labels, train.Images[255])
	}
	bad := filepath.Join(dir, "bad.gz")
	_ = os.WriteFile(bad, idxBytes([]int{4, 28, 28}, make([]byte, 10)), 0o644)
	if _, _, err := ReadIDX(bad); !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "want 3136 bytes") {
		t.Errorf("truncated IDX: %v", err)
	}
	_ = os.WriteFile(bad, []byte("PK\x03\x04 not idx"), 0o644)
	if _, _, err := ReadIDX(strings.TrimSuffix(bad, ".gz")); err == nil {
		t.Error("missing file accepted")
	}
	if _, _, err := LoadFashionMNIST("/nonexistent"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("missing Fashion-MNIST: %v", err)
	}
}

// MNIST comes from the first mirror that has it, verified by MD5.
func TestLoadMNISTMirrors(t *testing.T) {
	files := tinySet(t, "")
	saved := slices.Clone(MNISTFiles)
	defer func() { MNISTFiles = saved }()
	for i := range MNISTFiles {
		b := files[MNISTFiles[i].FileName]
		sum := md5.Sum(b)
		MNISTFiles[i].MD5, MNISTFiles[i].Size = hex.EncodeToString(sum[:]), int64(len(b))
	}
	down := httptest.NewServer(http.NotFoundHandler())
	defer down.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[filepath.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Unix(0, 0), bytes.NewReader(b))
	}))
	defer up.Close()
	dir := t.TempDir()
	train, _, err := LoadMNIST(context.Background(), dir, []string{down.URL + "/", up.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 4 {
		t.Errorf("%d examples", train.Len())
	}
	MNISTFiles[0].MD5 = "00000000000000000000000000000000"
	if _, _, err := LoadMNIST(context.Background(), t.TempDir(), []string{up.URL + "/"}); !errors.Is(err, download.ErrChecksum) || !strings.Contains(err.Error(), "MD5") {
		t.Errorf("corrupt download accepted: %v", err)
	}
	_ = download.CacheDir
}

// tiny returns a small random-looking dataset of n 28x28 images.
func tiny(n int) *Dataset {
	d := &Dataset{Name: "tiny", Rows: 28, Cols: 28, Images: make([]float32, n*784), Labels: make([]uint8, n)}
	for i := range d.Images {
		d.Images[i] = float32((i*37)%101) / 100
	}
	for i := range d.Labels {
		d.Labels[i] = uint8(i % 10)
	}
	return d
}

func values(t *testing.T, s *model.Store, path string) []float32 {
	v := s.GetVariable(path)
	if v == nil {
		t.Fatalf("no variable %s", path)
	}
	var out []float32
	tensors.ConstFlatData(v.MustValue(), func(f []float32) { out = slices.Clone(f) })
	return out
}

// Dropout is active in the training phase only; evaluation is deterministic.
func TestDropoutPhase(t *testing.T) {
	m := New(Config{Dropout: 0.5}, nil)
	d := tiny(50)
	x, _ := batch(d, []int{0, 1, 2, 3})
	logits := func(training bool) []float32 {
		out := model.MustExecOnce(m.Backend(), m.Store(), func(scope *model.Scope, x *Node) *Node {
			m.Store().SetTraining(x.Graph(), training)
			return m.Logits(scope, x)
		}, x)
		var v []float32
		tensors.ConstFlatData(out, func(f []float32) { v = slices.Clone(f) })
		return v
	}
	e1, e2 := logits(false), logits(false)
	t1, t2 := logits(true), logits(true)
	if !slices.Equal(e1, e2) {
		t.Error("evaluation phase is not deterministic")
	}
	if slices.Equal(t1, t2) || slices.Equal(t1, e1) {
		t.Error("training phase did not apply dropout")
	}
	p1, _ := m.Predict(x)
	p2, _ := m.Predict(x)
	if !equal(p1, p2) {
		t.Error("Predict is not in the evaluation phase")
	}
}

func equal(a, b *tensors.Tensor) bool {
	eq := false
	tensors.ConstFlatData(a, func(x []float32) { tensors.ConstFlatData(b, func(y []float32) { eq = slices.Equal(x, y) }) })
	return eq
}

// One layer applied to two inputs has one set of variables.
func TestWeightSharing(t *testing.T) {
	store := model.NewStore()
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	outs := model.MustExecOnceN(gobackend.GetBackend(), store, func(scope *model.Scope, a, b *Node) []*Node {
		return []*Node{Dense(scope, "shared", a, 4), Dense(scope, "shared", b, 4)}
	}, x, x)
	var shared []string
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/shared/") {
			shared = append(shared, v.Path())
		}
	}
	if len(shared) != 2 {
		t.Errorf("variables %v, want 2 (one kernel, one bias)", shared)
	}
	if !equal(outs[0], outs[1]) {
		t.Error("the shared layer gave different outputs for the same input")
	}
}

// Batch norm's moving statistics change in training steps, not in evaluation.
func TestBatchNormMovingStats(t *testing.T) {
	m := New(Config{BatchNorm: true}, nil)
	d := tiny(100)
	if _, err := m.TrainStep(d, []int{0, 1, 2, 3, 4, 5, 6, 7}); err != nil {
		t.Fatal(err)
	}
	const mean = "/batch_normalization_1/mean"
	before := values(t, m.Store(), mean)
	if _, err := m.Accuracy(d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, values(t, m.Store(), mean)) {
		t.Error("evaluation changed the moving mean")
	}
	if _, err := m.TrainStep(d, []int{10, 11, 12, 13, 14, 15, 16, 17}); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(before, values(t, m.Store(), mean)) {
		t.Error("a training step did not update the moving mean")
	}
}

// A frozen layer keeps its values through training; the others learn.
func TestFreeze(t *testing.T) {
	m := New(Config{}, nil)
	d := tiny(200)
	if _, err := m.Train(d, 2, nil, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	vars := strings.Join(m.TrainableVariables(), "\n")
	for _, w := range []string{"/dense_1/", "/dense_2/", "/dense_3/", "[784 128]"} {
		if !strings.Contains(vars, w) {
			t.Errorf("trainable variables lack %q:\n%s", w, vars)
		}
	}
	if err := m.Freeze("dense_1", true); err != nil {
		t.Fatal(err)
	}
	if err := m.Freeze("dense_9", true); err == nil {
		t.Error("froze a missing layer")
	}
	var k1, k2 string
	for v := range m.Store().IterVariables() {
		if strings.HasPrefix(v.Path(), "/dense_1/") && v.Shape().Rank() == 2 {
			k1 = v.Path()
		}
		if strings.HasPrefix(v.Path(), "/dense_2/") && v.Shape().Rank() == 2 {
			k2 = v.Path()
		}
	}
	f1, f2 := values(t, m.Store(), k1), values(t, m.Store(), k2)
	if _, err := m.Train(d, 5, nil, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f1, values(t, m.Store(), k1)) {
		t.Error("frozen dense_1 changed")
	}
	if slices.Equal(f2, values(t, m.Store(), k2)) {
		t.Error("dense_2 did not train")
	}
	if !strings.Contains(m.Devices(), "1 device") {
		t.Errorf("pure Go devices: %s", m.Devices())
	}
}

// The seed's schedule (100 steps) and the full schedule on Fashion-MNIST.
func TestFashionMNISTAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 15 epochs")
	}
	train, test, err := LoadFashionMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	seed := New(Config{}, nil)
	if _, err := seed.Train(train, 100, nil, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	acc100, err := seed.Accuracy(test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed schedule (100 steps, lr 0.5, batch 50): test accuracy %.4f", acc100)
	if acc100 < 0.5 {
		t.Errorf("100 steps reached only %.4f", acc100)
	}
	full := New(FullSchedule(), nil)
	if _, err := full.Train(train, FullScheduleSteps, nil, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	acc, err := full.Accuracy(test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full schedule (%d steps, lr 0.1 -> 0.001 cosine): test accuracy %.4f", FullScheduleSteps, acc)
	if acc < 0.88 {
		t.Errorf("full schedule test accuracy %.4f < 0.88", acc)
	}
}
