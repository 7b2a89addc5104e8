// Command vggnb works with Keras VGG models from the terminal.
//
//	vggnb weights info FILE [--model vgg16|vgg19 [--include-top]]
//	vggnb weights fetch --model vgg16|vgg19 [--include-top]
//	vggnb weights convert IN OUT --model vgg16|vgg19 [--include-top] [--from channels_first]
//	vggnb weights synth OUT --model vgg16|vgg19 [--include-top] [--seed N]
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
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "vggnb:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "weights":
		return weightsCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", strings.Join(args, " "))
}
