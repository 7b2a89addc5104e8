package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vggnb/vggnb/kernel"
)

func kernelCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("kernel: missing subcommand (install, doctor, install-cuda, run)")
	}
	fs := flag.NewFlagSet("vggnb kernel "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg kernel.Config
	fs.StringVar(&cfg.ToolsDir, "tools", "", "directory for gonb, goimports, gopls (default $VGGNB_TOOLS or ~/.cache/vggnb/tools)")
	fs.StringVar(&cfg.JupyterDataDir, "jupyter-data", "", "Jupyter data directory for the kernelspec (default $JUPYTER_DATA_DIR or ~/.local/share/jupyter)")
	fs.StringVar(&cfg.Checkout, "checkout", "", "the vggnb checkout notebooks import (default: found from the working directory)")
	cfg.Log = stderr
	switch args[0] {
	case "install":
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		_, err := kernel.Install(ctx, cfg)
		return err
	case "doctor":
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if n := kernel.WriteReport(stdout, kernel.Doctor(cfg)); n > 0 {
			return fmt.Errorf("kernel doctor: %d required piece(s) missing", n)
		}
		return nil
	case "install-cuda":
		jax := fs.String("jax", kernel.JAXCUDAVersion, "JAX release whose jax-cuda13-pjrt plugin to install")
		dir := fs.String("dir", "", "go-xla library folder (default ~/.local/lib/go-xla)")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		return kernel.InstallCUDA(*dir, *jax, stderr)
	case "run":
		out := fs.String("out", "out", "directory for the executed notebooks and their HTML")
		timeout := fs.Duration("cell-timeout", 20*time.Minute, "time limit of one cell (at least 1s)")
		nbs, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if *timeout < kernel.MinCellTimeout {
			return fmt.Errorf("kernel run: --cell-timeout %v: must be at least %v (there is no unlimited setting)", *timeout, kernel.MinCellTimeout)
		}
		if len(nbs) == 0 {
			return errors.New("kernel run: want NOTEBOOK.ipynb ...")
		}
		results, err := kernel.Run(ctx, nbs, kernel.RunOptions{OutDir: *out, CellTimeout: *timeout, JupyterDataDir: cfg.JupyterDataDir})
		for _, r := range results {
			fmt.Fprintf(stdout, "%s: %d code cells in %v -> %s, %s\n", r.Notebook, r.Cells, r.Duration.Round(time.Second), r.Executed, r.HTML)
		}
		return err
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("kernel: unknown subcommand %q", args[0])
}
