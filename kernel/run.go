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
	"strings"
	"time"
)

// RunOptions configures Run.
type RunOptions struct {
	// OutDir receives <name>.ipynb (executed) and <name>.html (default "out").
	OutDir string
	// Kernel is the kernelspec name (default KernelName).
	Kernel string
	// CellTimeout bounds each cell (default 20 minutes).
	CellTimeout time.Duration
	// JupyterDataDir, when set, is added to JUPYTER_PATH so a kernelspec
	// installed there (Install with Config.JupyterDataDir) is found.
	JupyterDataDir string
	// Jupyter is the jupyter command (default "jupyter").
	Jupyter string
}

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
	if o.Jupyter == "" {
		o.Jupyter = "jupyter"
	}
	if _, err := exec.LookPath(o.Jupyter); err != nil {
		return nil, errors.New("kernel: no jupyter on PATH: apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel (scripts/deps.sh does)")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	env := os.Environ()
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

func runOne(ctx context.Context, nb string, o RunOptions, env []string) (*Result, error) {
	abs, err := filepath.Abs(nb)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("kernel: notebook %w", err)
	}
	base := strings.TrimSuffix(filepath.Base(nb), ".ipynb")
	outDir, err := filepath.Abs(o.OutDir)
	if err != nil {
		return nil, err
	}
	res := &Result{Notebook: nb, Executed: filepath.Join(outDir, base+".ipynb"), HTML: filepath.Join(outDir, base+".html")}
	start := time.Now()
	// Write to a temporary name: an interrupted run leaves no half-executed notebook
	// under the final name.
	tmpName := "." + base + ".running.ipynb"
	args := []string{"nbconvert", "--to", "notebook", "--execute", "--allow-errors",
		"--ExecutePreprocessor.kernel_name=" + o.Kernel,
		fmt.Sprintf("--ExecutePreprocessor.timeout=%d", int(o.CellTimeout.Seconds())),
		"--output-dir", outDir, "--output", tmpName, abs}
	cmd := exec.CommandContext(ctx, o.Jupyter, args...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(abs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = os.Remove(filepath.Join(outDir, tmpName))
		return nil, fmt.Errorf("kernel: executing %s: %v\n%s", nb, err, tail(stderr.String(), 4000))
	}
	if err := os.Rename(filepath.Join(outDir, tmpName), res.Executed); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	res.Duration = time.Since(start)
	failures, cells, err := Inspect(res.Executed)
	if err != nil {
		return nil, err
	}
	res.Cells = cells
	tmpl, err := writeTemplate()
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmpl)
	html := exec.CommandContext(ctx, o.Jupyter, "nbconvert", "--to", "html",
		"--TemplateExporter.extra_template_basedirs="+tmpl, "--template", "vggnb",
		"--output-dir", outDir, "--output", base+".html", res.Executed)
	html.Env = env
	if out, err := html.CombinedOutput(); err != nil {
		return res, fmt.Errorf("kernel: HTML export of %s: %v\n%s", res.Executed, err, tail(string(out), 2000))
	}
	if len(failures) > 0 {
		return res, &NotebookError{Notebook: nb, Failures: failures, Executed: res.Executed}
	}
	return res, nil
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
		for _, o := range c.Outputs {
			switch {
			case o.OutputType == "error":
				msg := o.Ename + ": " + o.Evalue
				if len(o.Traceback) > 0 {
					msg = strings.Join(o.Traceback, "\n")
				}
				msgs = append(msgs, ansi.ReplaceAllString(msg, ""))
			case o.OutputType == "stream" && o.Name == "stderr":
				text := ansi.ReplaceAllString(streamText(o.Text), "")
				if failurePatterns.MatchString(text) {
					msgs = append(msgs, text)
				}
			}
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
