// Command vggnb works with Keras VGG models from the terminal.
//
//	vggnb weights info FILE [--model vgg16|vgg19 [--include-top]]
//	vggnb weights fetch --model vgg16|vgg19 [--include-top]
//	vggnb weights convert IN OUT --model vgg16|vgg19 [--include-top] [--from channels_first]
//	vggnb weights synth OUT --model vgg16|vgg19 [--include-top] [--seed N]
//	vggnb features [--model vgg16|vgg19] [--include-top] [--weights W] [--image FILE] [--size HxW] [--layer NAME|all] [--backend B] [--json]
//	vggnb layers [--model vgg16|vgg19] [--include-top] [--size HxW] [--pooling avg|max] [--json]
//	vggnb predict [--model vgg16|vgg19] [--weights W] [--image FILE] [--top N] [--json]
//	vggnb transfer [--weights auto|FILE] [--train N] [--test N] [--epochs N] [--out DIR]
//	vggnb kernel install|doctor|install-cuda|run NOTEBOOK...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vggnb/vggnb/internal/environ"
)

const usage = `usage:
  vggnb weights info FILE [--model vgg16|vgg19 [--include-top]]
      list the layers and shapes of a Keras weight file; with --model, check it fits
  vggnb weights fetch --model vgg16|vgg19 [--include-top]
      download the official Keras ImageNet file (MD5-verified, resumable) and print its path
  vggnb weights convert IN OUT --model vgg16|vgg19 [--include-top] [--from channels_first]
      rewrite any Keras 1/2/3 (or Theano) VGG file as a Keras 2 channels_last .h5
  vggnb weights synth OUT --model vgg16|vgg19 [--include-top] [--seed N]
      write deterministic SYNTHETIC weights (not ImageNet) in the Keras 2 layout
  vggnb features [--model vgg16|vgg19] [--include-top] [--weights auto|imagenet|synthetic|none|FILE]
                 [--image FILE|demo] [--size HxW] [--interpolation nearest|bilinear|...]
                 [--layer NAME[,NAME...]|all] [--backend go|xla:...] [--json]
      per-layer activation statistics (shape, mean, std, min, max) of one image
  vggnb layers [--model vgg16|vgg19] [--include-top] [--size HxW] [--pooling avg|max] [--json]
      Keras-style summary: layer names, output shapes, parameters
  vggnb predict [--model vgg16|vgg19] [--weights ...] [--image FILE|demo] [--top N] [--json]
      top-N ImageNet classes of an image (224x224, with the top)
  vggnb transfer [--weights auto|FILE] [--train N] [--test N] [--epochs N] [--batch N] [--lr X]
                 [--cache DIR] [--out DIR [--resume]]
      transfer learning as in the Keras post: VGG16 to block2_pool, frozen, its features of a balanced
      Fashion-MNIST subset extracted once (cached), a new head trained on them (progress bar), test
      accuracy; --out saves the head as a GoMLX checkpoint (a new one beside the last; an --out that
      holds one needs --resume, which continues from it)
  vggnb freeze --model vgg16|vgg19 [--include-top] [--layer NAME] [--pooling avg|max]
               [--weights auto|FILE] --out FILE.onnx
      freeze the model into one ONNX file (weights inside, input_1 NHWC preprocessed, output named
      after its layer, dynamic batch); prints the input and output nodes
  vggnb freeze --list FILE.onnx
      the nodes of a frozen file: input, output, every op with its inputs
  vggnb serve FILE.onnx | --model vgg16|vgg19 [...] [--addr 127.0.0.1:8080] [--max-batch N]
              [--max-body BYTES] [--max-pixels N] [--image-size N] [--max-memory BYTES]
              [--read-timeout D] [--timeout D] [--max-graphs N] [--interpolation nearest|...]
              [--token T (or $VGGNB_SERVE_TOKEN) | --insecure-no-auth]
      HTTP server: POST /predict (PNG/JPEG or a tensor; JSON top-5 or output statistics),
      GET /healthz, GET /metadata; requests batched, bounded (memory estimated before
      running); the model run once before listening; graceful stop on SIGTERM; beyond
      loopback, a bearer token unless --insecure-no-auth
  vggnb kernel install [--tools DIR] [--jupyter-data DIR] [--checkout DIR]
      install GoNB v0.11.5, goimports, gopls (pinned) and the Jupyter kernel "Go (vggnb)"
  vggnb kernel doctor
      check Jupyter, the Go tools, the kernel, backends (XLA plugins), GPU, weights
  vggnb kernel install-cuda [--jax VERSION] [--dir DIR]
      install JAX's CUDA 13 PJRT plugin (pinned release, SHA-256 checked) for -tags xla cells on a GPU
  vggnb kernel run [--out DIR] NOTEBOOK.ipynb...
      execute notebooks headless; fail on any cell that does not compile, panics or errors
With --weights auto (the default) the ImageNet weights are used when a verified copy is on this
machine (vggnb weights fetch); otherwise SYNTHETIC weights, announced on stderr.
`

func main() {
	// The first SIGINT or SIGTERM cancels ctx: commands stop, remove what they
	// were writing and end their child processes. A second one, with the handler
	// gone, ends vggnb at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "vggnb:", err)
		if ctx.Err() != nil {
			os.Exit(130) // stopped by a signal, as shells report Ctrl-C
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Where graphs are drawn and files shown (slower native kernels to
	// compare, $VGGNB_SIMD=AVX2|none and $VGGNB_CONV=direct, are read where
	// models are built).
	environ.Configure()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "weights":
		return weightsCmd(ctx, args[1:], stdout, stderr)
	case "kernel":
		return kernelCmd(ctx, args[1:], stdout, stderr)
	case "features":
		return featuresCmd(ctx, args[1:], stdout, stderr)
	case "layers":
		return layersCmd(args[1:], stdout, stderr)
	case "predict":
		return predictCmd(ctx, args[1:], stdout, stderr)
	case "transfer":
		return transferCmd(ctx, args[1:], stdout, stderr)
	case "freeze":
		return freezeCmd(ctx, args[1:], stdout, stderr)
	case "serve":
		return serveCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", strings.Join(args, " "))
}
