package mlp

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/vggnb/vggnb/weights/download"
)

// Dataset is a set of 28x28 grey images with integer labels, as in the IDX files.
type Dataset struct {
	// Name says where it came from (e.g. "fashion-mnist train").
	Name string
	// Images holds N*Rows*Cols pixels scaled to [0, 1], image after image.
	Images     []float32
	Labels     []uint8
	Rows, Cols int
}

// Len is the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// ReadIDX reads an IDX file (optionally gzip-compressed) of unsigned bytes and
// returns its dimensions and data.
func ReadIDX(path string) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("mlp: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("mlp: %s: IDX header: %w", path, err)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0 || magic[3] > 4 {
		return nil, nil, fmt.Errorf("mlp: %s: not an IDX file of unsigned bytes (magic % x)", path, magic)
	}
	dims = make([]int, magic[3])
	size := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("mlp: %s: IDX dimensions: %w", path, err)
		}
		if d == 0 || d > 1<<24 {
			return nil, nil, fmt.Errorf("mlp: %s: implausible IDX dimension %d", path, d)
		}
		dims[i] = int(d)
		size *= int(d)
	}
	data = make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, nil, fmt.Errorf("mlp: %s: IDX data (want %d bytes for %v): %w", path, size, dims, err)
	}
	return dims, data, nil
}

// LoadIDXPair reads an images file and a labels file into a Dataset.
func LoadIDXPair(name, images, labels string) (*Dataset, error) {
	idims, pix, err := ReadIDX(images)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := ReadIDX(labels)
	if err != nil {
		return nil, err
	}
	if len(idims) != 3 || len(ldims) != 1 || idims[0] != ldims[0] {
		return nil, fmt.Errorf("mlp: %s: images %v and labels %v do not match", name, idims, ldims)
	}
	d := &Dataset{Name: name, Labels: lab, Rows: idims[1], Cols: idims[2], Images: make([]float32, len(pix))}
	for i, p := range pix {
		d.Images[i] = float32(p) / 255
	}
	return d, nil
}

// FashionMNISTDir is where Debian's dataset-fashion-mnist package puts the files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses names Fashion-MNIST's labels.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// LoadFashionMNIST reads the Fashion-MNIST train and test sets from dir
// (FashionMNISTDir when empty), offline.
func LoadFashionMNIST(dir string) (train, test *Dataset, err error) {
	if dir == "" {
		dir = FashionMNISTDir
	}
	return loadPair(dir, "fashion-mnist", "on Debian: apt-get install dataset-fashion-mnist (files in "+FashionMNISTDir+")")
}

func loadPair(dir, name, hint string) (train, test *Dataset, err error) {
	p := func(f string) string { return filepath.Join(dir, f) }
	if _, err := os.Stat(p("train-images-idx3-ubyte.gz")); err != nil {
		return nil, nil, fmt.Errorf("mlp: %s not found in %s: %w; %s", name, dir, err, hint)
	}
	train, err = LoadIDXPair(name+" train", p("train-images-idx3-ubyte.gz"), p("train-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	test, err = LoadIDXPair(name+" test", p("t10k-images-idx3-ubyte.gz"), p("t10k-labels-idx1-ubyte.gz"))
	return train, test, err
}

// MNISTMirrors are the public MNIST mirrors tried in order (yann.lecun.com is
// often down, hence the others first).
var MNISTMirrors = []string{
	"https://ossci-datasets.s3.amazonaws.com/mnist/",
	"https://storage.googleapis.com/cvdf-datasets/mnist/",
	"http://yann.lecun.com/exdb/mnist/",
}

// MNISTFiles are the four MNIST files with their pinned sizes and MD5s.
var MNISTFiles = []download.Entry{
	{FileName: "train-images-idx3-ubyte.gz", MD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873", Size: 9912422, Magic: "\x1f\x8b"},
	{FileName: "train-labels-idx1-ubyte.gz", MD5: "d53e105ee54ea40749a09fcbcd1e9432", Size: 28881, Magic: "\x1f\x8b"},
	{FileName: "t10k-images-idx3-ubyte.gz", MD5: "9fb629c4189551a2d022fa330f9573f3", Size: 1648877, Magic: "\x1f\x8b"},
	{FileName: "t10k-labels-idx1-ubyte.gz", MD5: "ec29112dd5afa0611ce80d1b7f02629c", Size: 4542, Magic: "\x1f\x8b"},
}

// LoadMNIST returns MNIST, downloading the files (verified by MD5, resumable)
// into dir (default: <vggnb cache>/datasets/mnist) from the first mirror that
// works. Offline it fails with the files to place by hand.
func LoadMNIST(ctx context.Context, dir string, mirrors []string, opts ...download.Option) (train, test *Dataset, err error) {
	if dir == "" {
		dir = filepath.Join(download.CacheDir(), "datasets", "mnist")
	}
	if mirrors == nil {
		mirrors = MNISTMirrors
	}
	for _, e := range MNISTFiles {
		var errs []error
		ok := false
		for _, m := range mirrors {
			e.URL = m + e.FileName
			o := append([]download.Option{download.WithDir(dir)}, opts...)
			if _, err := download.Fetch(ctx, e, o...); err != nil {
				errs = append(errs, err)
				continue
			}
			ok = true
			break
		}
		if !ok {
			return nil, nil, fmt.Errorf("mlp: MNIST %s from every mirror: %w", e.FileName, errors.Join(errs...))
		}
	}
	return loadPair(dir, "mnist", "")
}

// RandomDataset is n 28x28 images of uniform noise in [0, 1] with random labels
// of classes classes, the same for the same seed: data for tests, examples and
// benchmarks that need a trained model, not a good one.
func RandomDataset(n, classes int, seed uint64) *Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	d := &Dataset{Name: fmt.Sprintf("random (seed %d)", seed), Rows: 28, Cols: 28,
		Images: make([]float32, n*28*28), Labels: make([]uint8, n)}
	for i := range d.Images {
		d.Images[i] = r.Float32()
	}
	for i := range d.Labels {
		d.Labels[i] = uint8(r.IntN(classes))
	}
	return d
}
