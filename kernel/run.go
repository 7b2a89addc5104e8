package kernel

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/internal/python"
)

// RunOptions configures Run.
type RunOptions struct {
	// OutDir receives <name>.ipynb (executed) and <name>.html (default "out").
	OutDir string
	// Kernel is the kernelspec name (default KernelName).
	Kernel string
	// CellTimeout bounds each cell (default 20 minutes; at least MinCellTimeout).
	// A cell that runs past it fails, named, and the notebook executed so far is
	// kept.
	CellTimeout time.Duration
	// JupyterDataDir, when set, is added to JUPYTER_PATH so a kernelspec
	// installed there (Install with Config.JupyterDataDir) is found.
	JupyterDataDir string
	// Jupyter is the jupyter command (default "jupyter"), which exports HTML.
	Jupyter string
	// Python runs the embedded nbclient script that executes notebooks (default:
	// the interpreter of Jupyter's own script, which has nbclient).
	Python string
}

// MinCellTimeout is the smallest RunOptions.CellTimeout accepted: nbclient counts
// whole seconds, and 0 would mean no limit at all.
const MinCellTimeout = time.Second

// CellFailure is one failed cell.
type CellFailure struct {
	// Cell is the 1-based index among all cells (markdown included), as Jupyter
	// numbers them in the UI; ExecutionCount is the In [n] number.
	Cell, ExecutionCount int
	// Message is the error: compiler output, panic, exit status, error text.
	Message string
}

// NotebookError is returned by Run when cells failed.
type NotebookError struct {
	Notebook string
	Failures []CellFailure
	// Executed is the path of the executed notebook, kept for inspection.
	Executed string
}

// Error lists the failed cells with their messages.
func (e *NotebookError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d cell(s) failed (executed notebook: %s)", e.Notebook, len(e.Failures), e.Executed)
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  cell %d (In [%d]): %s", f.Cell, f.ExecutionCount, indent(f.Message))
	}
	return b.String()
}

func indent(s string) string {
	s = strings.TrimSpace(s)
	const max = 1500
	if len(s) > max {
		s = s[:max] + " …"
	}
	return strings.ReplaceAll(s, "\n", "\n      ")
}

// Result is what Run wrote for one notebook.
type Result struct {
	Notebook, Executed, HTML string
	Cells                    int
	Duration                 time.Duration
}

// Run executes each notebook headless with nbconvert on the vggnb kernel, every
// cell even after a failure, writes the executed notebook and its HTML export to
// OutDir, and returns a *NotebookError naming each cell that failed to compile,
// panicked, exited non-zero or raised an error — GoNB's own exit code is not
// trusted for that.
func Run(ctx context.Context, notebooks []string, o RunOptions) ([]Result, error) {
	if o.OutDir == "" {
		o.OutDir = "out"
	}
	if o.Kernel == "" {
		o.Kernel = KernelName
	}
	if o.CellTimeout == 0 {
		o.CellTimeout = 20 * time.Minute
	}
	if o.CellTimeout < MinCellTimeout {
		return nil, fmt.Errorf("kernel: cell timeout %v: must be at least %v", o.CellTimeout, MinCellTimeout)
	}
	if o.Jupyter == "" {
		o.Jupyter = "jupyter"
	}
	jupyter, err := exec.LookPath(o.Jupyter)
	if err != nil {
		return nil, errors.New("kernel: no jupyter on PATH: apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel (scripts/deps.sh does)")
	}
	if o.Python == "" {
		o.Python = scriptInterpreter(jupyter)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	// UTF-8 whatever the locale: a notebook path such as é.ipynb must reach
	// nbclient intact.
	env := append(os.Environ(), "PYTHONUTF8=1")
	if o.JupyterDataDir != "" {
		env = append(env, "JUPYTER_PATH="+o.JupyterDataDir+string(os.PathListSeparator)+os.Getenv("JUPYTER_PATH"))
	}
	var results []Result
	var errs []error
	for _, nb := range notebooks {
		r, err := runOne(ctx, nb, o, env)
		if r != nil {
			results = append(results, *r)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return results, errors.Join(errs...)
}

// checkNotebook refuses, in one line, a path that is not a Jupyter notebook
// (Python's reader would end in a traceback).
func checkNotebook(path string) error {
	if filepath.Ext(path) != ".ipynb" {
		return fmt.Errorf("kernel: %s is not a notebook: want a .ipynb file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kernel: notebook %w", err)
	}
	var nb struct {
		Cells    []json.RawMessage `json:"cells"`
		NBFormat int               `json:"nbformat"`
	}
	if err := json.Unmarshal(b, &nb); err != nil || nb.NBFormat < 4 {
		return fmt.Errorf("kernel: %s is not a Jupyter notebook (nbformat 4 JSON)", path)
	}
	return nil
}

// claimOutput picks the name of a run's outputs in outDir: base, or base-2,
// base-3, ... when another run (in this process or another) is writing the
// earlier ones, so that concurrent runs of same-named notebooks never write
// or report each other's files. The claim is a marker file holding the
// claiming process's ID (a dead process's is taken over); release removes
// it.
func claimOutput(outDir, base string) (string, func(), error) {
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		marker := filepath.Join(outDir, "."+name+".ipynb.claim")
		for range 2 {
			f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err == nil {
				fmt.Fprintf(f, "%d\n", os.Getpid())
				f.Close()
				claims.Store(marker, true)
				return name, func() { claims.Delete(marker); os.Remove(marker) }, nil
			}
			if !errors.Is(err, fs.ErrExist) || !staleClaim(marker) {
				break
			}
			os.Remove(marker) // its process is gone: take it over
		}
	}
	return "", nil, fmt.Errorf("kernel: 100 runs of %s are writing into %s: wait for them", base, outDir)
}

// claims are this process's output claims (a claim with this process's ID is
// stale only if it is not among them).
var claims sync.Map

// staleClaim reports whether the marker's process has ended.
func staleClaim(marker string) bool {
	b, err := os.ReadFile(marker)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return false // being written: not stale
	}
	if pid == os.Getpid() {
		_, mine := claims.Load(marker)
		return !mine
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

func runOne(ctx context.Context, nb string, o RunOptions, env []string) (*Result, error) {
	abs, err := filepath.Abs(nb)
	if err != nil {
		return nil, err
	}
	if err := checkNotebook(abs); err != nil {
		return nil, err
	}
	outDir, err := filepath.Abs(o.OutDir)
	if err != nil {
		return nil, err
	}
	base, release, err := claimOutput(outDir, strings.TrimSuffix(filepath.Base(nb), ".ipynb"))
	if err != nil {
		return nil, err
	}
	defer release()
	res := &Result{Notebook: nb, Executed: filepath.Join(outDir, base+".ipynb"), HTML: filepath.Join(outDir, base+".html")}
	start := time.Now()
	// Execute into a temporary name unique to this run (two runs into one OutDir
	// must not share it), inspect that file, and only then rename: an interrupted
	// run leaves no half-executed notebook under the final name, and a run's
	// verdict is about its own notebook.
	tmp, err := os.CreateTemp(outDir, "."+base+".*.running.ipynb")
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	cmd, cleanup, err := python.Command(ctx, o.Python, "execute.py", executeScript, abs, tmpName, o.Kernel,
		fmt.Sprint(int(o.CellTimeout.Round(time.Second).Seconds())))
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	defer cleanup()
	cmd.Dir = filepath.Dir(abs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = runOwned(cmd, env)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("kernel: executing %s: %w", nb, context.Cause(ctx))
	}
	// A cell past its time limit is a failure Inspect reports, naming it.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == exitTimeout) {
		return nil, fmt.Errorf("kernel: executing %s: %v\n%s", nb, err, tail(stderr.String(), 4000))
	}
	res.Duration = time.Since(start)
	failures, cells, err := Inspect(tmpName)
	if err != nil {
		return nil, err
	}
	res.Cells = cells
	tmpHTML := strings.TrimSuffix(tmpName, ".ipynb") + ".html"
	defer os.Remove(tmpHTML)
	if err := exportHTML(ctx, o.Jupyter, env, tmpName, tmpHTML); err != nil {
		return res, fmt.Errorf("kernel: HTML export of %s: %w", nb, err)
	}
	if err := atomicfile.Rename(tmpName, res.Executed); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	if err := atomicfile.Rename(tmpHTML, res.HTML); err != nil {
		return res, fmt.Errorf("kernel: %w", err)
	}
	if len(failures) > 0 {
		return res, &NotebookError{Notebook: nb, Failures: failures, Executed: res.Executed}
	}
	return res, nil
}

// exportHTML writes the executed notebook src as HTML to dst (in the same
// directory as src's export would go: nbconvert names its output) with
// vggnb's template, which embeds SVG as images.
func exportHTML(ctx context.Context, jupyter string, env []string, src, dst string) error {
	tmpl, err := writeTemplate()
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpl)
	html := exec.CommandContext(ctx, jupyter, "nbconvert", "--to", "html",
		"--TemplateExporter.extra_template_basedirs="+tmpl, "--template", "vggnb",
		"--output-dir", filepath.Dir(dst), "--output", filepath.Base(dst), src)
	var out bytes.Buffer
	html.Stdout, html.Stderr = &out, &out
	if err := runOwned(html, env); err != nil {
		return fmt.Errorf("%v\n%s", err, tail(out.String(), 2000))
	}
	return nil
}

// executeScript runs a notebook with nbclient (see its doc string).
//
//go:embed execute.py
var executeScript []byte

// exitTimeout is execute.py's exit status when a cell ran past its time limit.
const exitTimeout = 3

// runOwned runs cmd with env and owns every process it starts, however deep:
// Jupyter starts kernels in a new session, and GoNB runs each cell as a program
// of its own, so neither a process group nor cmd's own exit reaches them. Each
// run marks its processes with a unique environment variable, inherited by
// them all; on any return (success, failure, ctx cancelled by Ctrl-C) every
// process still carrying the mark gets SIGTERM, then SIGKILL, and Wait gives
// up on pipes they may still hold.
func runOwned(cmd *exec.Cmd, env []string) error {
	mark := fmt.Sprintf("VGGNB_RUN=%d-%d", os.Getpid(), runSeq.Add(1))
	cmd.Env = append(slices.Clip(env), mark)
	cmd.Cancel = func() error {
		killMarked(mark)
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	defer killMarked(mark)
	return cmd.Run()
}

var runSeq atomic.Int64

// scriptInterpreter returns the interpreter named on a script's #! line (for
// Jupyter: the python that has nbclient), or "python3".
func scriptInterpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "python3"
	}
	defer f.Close()
	line := make([]byte, 256)
	n, _ := f.Read(line)
	first, _, _ := strings.Cut(string(line[:n]), "\n")
	if !strings.HasPrefix(first, "#!") {
		return "python3"
	}
	fields := strings.Fields(strings.TrimPrefix(first, "#!"))
	switch {
	case len(fields) > 1 && filepath.Base(fields[0]) == "env":
		return fields[1]
	case len(fields) > 0:
		return fields[0]
	}
	return "python3"
}

// nbTemplate is the HTML export template (lab, with SVG kept as images).
//
//go:embed nbtemplate/vggnb
var nbTemplate embed.FS

// writeTemplate copies the export template to a temporary directory for nbconvert.
func writeTemplate() (string, error) {
	dir, err := os.MkdirTemp("", "vggnb-nbtemplate-")
	if err != nil {
		return "", fmt.Errorf("kernel: %w", err)
	}
	sub, err := fs.Sub(nbTemplate, "nbtemplate")
	if err == nil {
		err = os.CopyFS(dir, sub)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("kernel: HTML template: %w", err)
	}
	return dir, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// notebook is the part of the .ipynb format Inspect reads.
type notebook struct {
	Cells []struct {
		CellType       string `json:"cell_type"`
		ExecutionCount *int   `json:"execution_count"`
		Outputs        []struct {
			OutputType string          `json:"output_type"`
			Name       string          `json:"name"`
			Text       json.RawMessage `json:"text"`
			Ename      string          `json:"ename"`
			Evalue     string          `json:"evalue"`
			Traceback  []string        `json:"traceback"`
		} `json:"outputs"`
	} `json:"cells"`
}

// failurePatterns in a cell's stderr mean the cell's program failed even when
// no error output was sent.
var failurePatterns = regexp.MustCompile(`(?m)^(panic: |fatal error: |exit status \d+)`)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Inspect reads an executed notebook and returns the cells that failed, and
// how many code cells it has.
func Inspect(path string) ([]CellFailure, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("kernel: %w", err)
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		return nil, 0, fmt.Errorf("kernel: %s is not a notebook: %w", path, err)
	}
	var failures []CellFailure
	code := 0
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		code++
		f := CellFailure{Cell: i + 1}
		if c.ExecutionCount != nil {
			f.ExecutionCount = *c.ExecutionCount
		}
		var msgs []string
		var stderr strings.Builder // a program's stderr may come in several stream outputs
		for _, o := range c.Outputs {
			switch {
			case o.OutputType == "error":
				msg := o.Ename + ": " + o.Evalue
				if len(o.Traceback) > 0 {
					msg = strings.Join(o.Traceback, "\n")
				}
				msgs = append(msgs, ansi.ReplaceAllString(msg, ""))
			case o.OutputType == "stream" && o.Name == "stderr":
				stderr.WriteString(ansi.ReplaceAllString(streamText(o.Text), ""))
			}
		}
		if text := stderr.String(); failurePatterns.MatchString(text) {
			msgs = append(msgs, text)
		}
		if len(msgs) > 0 {
			f.Message = strings.Join(msgs, "\n")
			failures = append(failures, f)
		}
	}
	return failures, code, nil
}

// streamText decodes a stream output's text, a string or a list of strings.
func streamText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []string
	_ = json.Unmarshal(raw, &parts)
	return strings.Join(parts, "")
}
