package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// modelFlags are the flags naming a VGG model, shared by the weights subcommands.
type modelFlags struct {
	model      string
	includeTop bool
	classes    int
	maxClasses int
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", "", "vgg16 or vgg19")
	fs.BoolVar(&m.includeTop, "include-top", false, "the model includes flatten, fc1, fc2 and predictions")
	fs.IntVar(&m.classes, "classes", 1000, "width of predictions (with --include-top)")
	fs.IntVar(&m.maxClasses, "max-classes", weights.MaxClasses, "largest --classes accepted")
}

func (m *modelFlags) spec() (weights.Spec, error) {
	if m.model == "" {
		return weights.Spec{}, errors.New("--model vgg16|vgg19 is required")
	}
	return weights.VGGUpTo(m.model, m.includeTop, m.classes, m.maxClasses)
}

// parseWithSpec parses args, wants n positional arguments (described by what)
// and a valid --model.
func (m *modelFlags) parseWithSpec(fs *flag.FlagSet, args []string, what string, n int) ([]string, weights.Spec, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, weights.Spec{}, err
	}
	if len(pos) != n {
		return nil, weights.Spec{}, fmt.Errorf("%s: want %s", fs.Name(), what)
	}
	spec, err := m.spec()
	return pos, spec, err
}

// parse parses flags that may follow positional arguments, returning the
// positionals. A string flag given an empty value is refused (`--weights ""`
// silently meant none), unless its usage documents what "" means, and so is
// an empty positional argument.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "" {
			return nil, fmt.Errorf("%s: an argument is empty", fs.Name())
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	var empty error
	fs.Visit(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok && empty == nil && !strings.Contains(f.Usage, `""`) {
			if v, ok := g.Get().(string); ok && v == "" {
				empty = fmt.Errorf("%s: --%s is empty", fs.Name(), f.Name)
			}
		}
	})
	return pos, empty
}

func weightsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("weights: missing subcommand")
	}
	fs := flag.NewFlagSet("vggnb weights "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var m modelFlags
	m.register(fs)
	switch args[0] {
	case "info":
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errors.New("weights info: want one FILE")
		}
		f, err := weights.Read(pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s", f.Path, f.Format)
		if f.KerasVersion != "" {
			fmt.Fprintf(stdout, ", keras_version %s", f.KerasVersion)
		}
		if f.Backend != "" {
			fmt.Fprintf(stdout, ", backend %s", f.Backend)
		}
		fmt.Fprintf(stdout, ", %d layers, %d parameters\n", len(f.Layers), f.NumParams())
		for _, l := range f.Layers {
			fmt.Fprintf(stdout, "  %-16s", l.Name)
			for _, w := range l.Weights {
				fmt.Fprintf(stdout, " %s%v", w.Name, w.Shape)
			}
			fmt.Fprintln(stdout)
		}
		if m.model == "" {
			return nil
		}
		spec, err := m.spec()
		if err != nil {
			return err
		}
		if _, err := weights.LoadVGG(pos[0], spec, weights.WithoutCache()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "fits %s\n", spec)
		return nil
	case "fetch":
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if m.model == "" {
			return errors.New("weights fetch: --model vgg16|vgg19 is required")
		}
		e, err := weights.ImageNet(m.model, m.includeTop)
		if err != nil {
			return err
		}
		p, err := download.Fetch(ctx, e, download.WithProgress(stderr))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, p)
		return nil
	case "convert":
		var from string
		fs.StringVar(&from, "from", "auto", "data format of IN: auto, channels_last or channels_first")
		pos, spec, err := m.parseWithSpec(fs, args[1:], "IN and OUT", 2)
		if err != nil {
			return err
		}
		df, err := weights.ParseDataFormat(from)
		if err != nil {
			return err
		}
		f, err := weights.LoadVGG(pos[0], spec, weights.WithoutCache(), weights.WithSourceDataFormat(df))
		if err != nil {
			return err
		}
		if err := weights.WriteKeras2Context(ctx, pos[1], f); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %s, Keras 2 channels_last, %d parameters\n", pos[1], spec, f.NumParams())
		return nil
	case "synth":
		var seed uint64
		fs.Uint64Var(&seed, "seed", 1, "random seed")
		pos, spec, err := m.parseWithSpec(fs, args[1:], "OUT", 1)
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, "WARNING:", weights.SyntheticNotice)
		if err := weights.WriteKeras2Context(ctx, pos[0], weights.Synthetic(spec, seed)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %s with SYNTHETIC weights (seed %d)\n", pos[0], spec, seed)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("weights: unknown subcommand %q", args[0])
}
