package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// transferCmd is the transfer-learning post's first workflow from the
// terminal: features extracted once (cached), the head trained on them with a
// progress bar, the test accuracy, the head saved as a GoMLX checkpoint.
func transferCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vggnb transfer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	w := fs.String("weights", "auto", "auto (VGG16 no-top ImageNet file if on this machine, else SYNTHETIC) or a Keras .h5 file")
	data := fs.String("data", mlp.FashionMNISTDir, "Fashion-MNIST directory (Debian's dataset-fashion-mnist)")
	train := fs.Int("train", 2000, "training examples (a balanced subset)")
	test := fs.Int("test", 500, "test examples (a balanced subset)")
	epochs := fs.Int("epochs", 5, "epochs of head training")
	batch := fs.Int("batch", 32, "batch size")
	lr := fs.Float64("lr", 1e-4, "RMSprop learning rate")
	cache := fs.String("cache", filepath.Join(download.CacheDir(), "features"), "feature cache directory (\"\": none)")
	out := fs.String("out", "", "save the trained head as a GoMLX checkpoint in this directory (a new checkpoint beside the last one kept)")
	resume := fs.Bool("resume", false, "continue training from the newest checkpoint in --out (without it, --out must hold none)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("transfer: unexpected arguments %q", pos)
	}
	switch {
	case math.IsNaN(*lr) || math.IsInf(*lr, 0) || *lr <= 0:
		return fmt.Errorf("transfer: --lr %v: want a finite learning rate above 0", *lr)
	case *train < 1 || *test < 1 || *epochs < 1 || *batch < 1:
		return fmt.Errorf("transfer: --train %d, --test %d, --epochs %d, --batch %d: each must be at least 1", *train, *test, *epochs, *batch)
	case *batch > *train:
		return fmt.Errorf("transfer: --batch %d is larger than the %d training examples (--train): no full batch to train on", *batch, *train)
	}
	if *resume && *out == "" {
		return errors.New("transfer: --resume continues from the checkpoint in --out: give --out")
	}
	path, synthetic := *w, false
	if path == "auto" {
		var err error
		if path, synthetic, err = weights.ImageNetOrSynthetic("vgg16", false, 1); err != nil {
			return err
		}
	}
	if synthetic {
		fmt.Fprintln(stderr, "WARNING:", weights.SyntheticNotice)
	}
	s, err := transfer.NewPostModel(path, 1)
	if err != nil {
		return err
	}
	// The checkpoint directory is checked before any work: a damaged or
	// foreign checkpoint, or one that would be mixed with this run's, fails
	// now, not after training.
	if *out != "" {
		// Load checks the checkpoint whole before changing the model: with
		// --resume it is read once to check and once to load, not a third time.
		check := s.CheckCheckpoint
		if *resume {
			check = s.Load
		}
		switch err := check(*out); {
		case errors.Is(err, transfer.ErrNoCheckpoint), errors.Is(err, os.ErrNotExist):
			if *resume {
				return fmt.Errorf("transfer: --resume: %s holds no checkpoint to continue from", *out)
			}
		case err != nil:
			return err
		case !*resume:
			return fmt.Errorf("transfer: %s already holds a checkpoint: --resume continues training from it, or choose another --out", *out)
		default:
			fmt.Fprintln(stdout, "resuming from the checkpoint in", *out)
		}
	}
	trainSet, testSet, err := mlp.LoadFashionMNIST(*data)
	if err != nil {
		return err
	}
	trainIdx, err := transfer.Balanced(trainSet, *train, transfer.PostClasses, 1)
	if err != nil {
		return err
	}
	testIdx, err := transfer.Balanced(testSet, *test, transfer.PostClasses, 2)
	if err != nil {
		return err
	}
	t0 := time.Now()
	x, y, err := s.ExtractFeaturesContext(ctx, trainSet, trainIdx, *cache, stderr)
	if err != nil {
		return err
	}
	tx, ty, err := s.ExtractFeaturesContext(ctx, testSet, testIdx, *cache, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "features %v of %d+%d examples in %v\n", x.Shape().Dimensions[1:], len(y), len(ty), time.Since(t0).Round(time.Millisecond))
	if err := ctx.Err(); err != nil {
		return err
	}
	h, err := s.HeadTrainer(transfer.RMSprop(*lr)).Fit(x, y, transfer.Fit{Epochs: *epochs, BatchSize: *batch,
		ValX: tx, ValY: ty, Bar: stderr, Context: ctx,
		OnEpoch: func(e int, loss, acc float64) {
			fmt.Fprintf(stdout, "epoch %d: loss %.4f, test accuracy %.4f\n", e, loss, acc)
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "head on frozen VGG16 features: test accuracy %.4f (%d epochs, %.1fs each)\n",
		h.ValAccuracy[len(h.ValAccuracy)-1], len(h.Loss), h.Seconds[0])
	if *out != "" {
		if err := s.Save(*out); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "head saved in", *out)
	}
	if synthetic {
		fmt.Fprintln(stderr, "WARNING: the accuracy is of a head on SYNTHETIC (random) VGG16 features, not ImageNet's")
	}
	return nil
}
