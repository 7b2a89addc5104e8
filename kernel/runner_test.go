package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeTools writes stand-ins for the python that runs execute.py and for
// jupyter (HTML export): notebooks named hang*.ipynb start a grandchild in a
// session of its own (as Jupyter starts kernels), which holds stderr, record
// its pid in dir/child.pid, and never finish; others are "executed" by copying
// them, their canned outputs included, after a short random pause.
func fakeTools(t *testing.T) (python, jupyter, dir string) {
	t.Helper()
	dir = t.TempDir()
	python = filepath.Join(dir, "python")
	jupyter = filepath.Join(dir, "jupyter")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(python, `#!/bin/bash
in=$2 out=$3
case "$(basename "$in")" in
hang*) setsid sleep 300 & echo $! > "`+dir+`/child.pid"; sleep 300 ;;
conc*) # Rendezvous: wait (up to 10 s) until both concurrent runs are
  # executing, so that they really overlap whatever the scheduler does.
  for i in $(seq 100); do
    [ "$(ls -a "$(dirname "$out")" | grep -c '^\.conc.*\.running\.ipynb$')" -ge 2 ] && break
    sleep 0.1
  done
  sleep 0.$((RANDOM % 4)); cp "$in" "$out" ;;
*) sleep 0.$((RANDOM % 4)); cp "$in" "$out" ;;
esac
`)
	write(jupyter, `#!/bin/bash
while [ $# -gt 0 ]; do
  case "$1" in --output-dir) d=$2; shift ;; --output) o=$2; shift ;; esac
  shift
done
sleep 0.$((RANDOM % 3)); echo '<html></html>' > "$d/$o"
`)
	return python, jupyter, dir
}

// cannedNotebook writes an already "executed" notebook whose one code cell
// printed a panic on stderr when panics is true.
func cannedNotebook(t *testing.T, path string, panics bool) {
	t.Helper()
	out := `{"output_type": "stream", "name": "stdout", "text": ["fine\n"]}`
	if panics {
		out = `{"output_type": "stream", "name": "stderr", "text": ["panic: boom\n"]}`
	}
	nb := `{"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["%%\n"], "outputs": [` + out + `]}],
 "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(nb), 0o644); err != nil {
		t.Fatal(err)
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !zombie(stat)
}

// TestRunInterruptEndsEverything: cancelling Run (what Ctrl-C does) must end the
// kernel-like grandchild that left the process group, and return although it
// held the stderr pipe.
func TestRunInterruptEndsEverything(t *testing.T) {
	python, jupyter, dir := fakeTools(t)
	nb := filepath.Join(dir, "nbs", "hang.ipynb")
	cannedNotebook(t, nb, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, []string{nb}, RunOptions{OutDir: filepath.Join(dir, "out"), Python: python, Jupyter: jupyter})
		done <- err
	}()
	pidFile := filepath.Join(dir, "child.pid")
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fake kernel did not start")
		}
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("an interrupted run returned no error")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of the interrupt (blocked on a pipe the kernel holds?)")
	}
	for deadline := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the kernel-like grandchild %d (own session) outlived the interrupted run", pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "out", ".*running*")); len(left) > 0 {
		t.Errorf("an interrupted run left %v", left)
	}
}

// TestRunConcurrentSameName: two runs into one OutDir of notebooks with the
// same base name, one passing and one panicking, must each report their own
// verdict and leave no temporary files.
func TestRunConcurrentSameName(t *testing.T) {
	python, jupyter, dir := fakeTools(t)
	good := filepath.Join(dir, "a", "conc.ipynb")
	bad := filepath.Join(dir, "b", "conc.ipynb")
	cannedNotebook(t, good, false)
	cannedNotebook(t, bad, true)
	out := filepath.Join(dir, "out")
	for trial := range 8 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		results := make([][]Result, 2)
		for i, nb := range []string{good, bad} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = Run(context.Background(), []string{nb}, RunOptions{OutDir: out, Python: python, Jupyter: jupyter})
			}()
		}
		wg.Wait()
		if errs[0] != nil || len(results[0]) != 1 {
			t.Fatalf("trial %d: the passing notebook failed: %v", trial, errs[0])
		}
		var nbErr *NotebookError
		if !errors.As(errs[1], &nbErr) || !strings.Contains(nbErr.Error(), "panic: boom") {
			t.Fatalf("trial %d: the panicking notebook gave %v, want a NotebookError naming the panic", trial, errs[1])
		}
		// Each run's report names a file holding its own notebook, readable
		// by others (before, the failing run could name a file the other run
		// had just replaced, and files were 0600).
		for _, c := range []struct {
			path string
			boom bool
		}{{results[0][0].Executed, false}, {nbErr.Executed, true}} {
			b, err := os.ReadFile(c.path)
			fi, _ := os.Stat(c.path)
			if err != nil || strings.Contains(string(b), "boom") != c.boom || fi.Mode().Perm() != 0o644 {
				t.Errorf("trial %d: %s (%v, mode %v) does not hold its own run's notebook (boom %v)", trial, c.path, err, fi.Mode().Perm(), c.boom)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestRunRejectsNonNotebooks: a path that is not a notebook is one line of
// error, before Python runs (it printed a traceback).
func TestRunRejectsNonNotebooks(t *testing.T) {
	python, jupyter, dir := fakeTools(t)
	png := filepath.Join(dir, "é.png")
	garbage := filepath.Join(dir, "é.ipynb")
	for _, f := range []string{png, garbage} {
		if err := os.WriteFile(f, []byte("\x89PNG"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ path, want string }{{png, "want a .ipynb file"}, {garbage, "not a Jupyter notebook"}} {
		_, err := Run(context.Background(), []string{c.path}, RunOptions{OutDir: t.TempDir(), Python: python, Jupyter: jupyter})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", c.path, err, c.want)
		}
	}
}

func TestRunRejectsShortCellTimeout(t *testing.T) {
	python, jupyter, dir := fakeTools(t)
	nb := filepath.Join(dir, "x.ipynb")
	cannedNotebook(t, nb, false)
	for _, d := range []time.Duration{-time.Second, time.Millisecond, 999 * time.Millisecond} {
		_, err := Run(context.Background(), []string{nb}, RunOptions{OutDir: dir, Python: python, Jupyter: jupyter, CellTimeout: d})
		if err == nil || !strings.Contains(err.Error(), "at least 1s") {
			t.Errorf("CellTimeout %v: %v, want an error", d, err)
		}
	}
}

// TestRunCellTimeout runs a real GoNB cell that never ends: the run must fail
// naming that cell and the time limit, keep the executed notebook (with the
// earlier cell's output), and end the cell's program.
func TestRunCellTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Jupyter")
	}
	cfg := installed(t)
	out := t.TempDir()
	start := time.Now()
	_, err := Run(context.Background(), []string{filepath.Join("testdata", "loop.ipynb")},
		RunOptions{OutDir: out, JupyterDataDir: cfg.JupyterDataDir, CellTimeout: 30 * time.Second})
	var nbErr *NotebookError
	if !errors.As(err, &nbErr) {
		t.Fatalf("error %v, want a *NotebookError", err)
	}
	if len(nbErr.Failures) != 1 || nbErr.Failures[0].Cell != 3 || !strings.Contains(nbErr.Failures[0].Message, "did not finish within 30 s") {
		t.Errorf("%v\nwant one failure in cell 3 naming the 30 s limit", err)
	}
	b, rerr := os.ReadFile(filepath.Join(out, "loop.ipynb"))
	if rerr != nil || !strings.Contains(string(b), "before the loop") {
		t.Errorf("the executed notebook was not kept with the first cell's output: %v", rerr)
	}
	t.Logf("timed out and torn down in %v", time.Since(start).Round(time.Second))
}
