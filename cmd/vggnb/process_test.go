package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// vggnbBinary builds this command once per test binary, for tests that need a
// real process (signals, start-up, other users).
func vggnbBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vggnb-bin-")
		if err != nil {
			binErr = err
			return
		}
		// World-readable, so that a test can run it as another user.
		if err := os.Chmod(dir, 0o755); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vggnb")
		// As a user builds it: a plain `go build`, no GOEXPERIMENT. The native
		// kernels' assembly is chosen at run time, so a layer takes a fraction
		// of a second and Ctrl-C is honoured promptly.
		build := exec.Command("go", "build", "-o", binPath, ".")
		build.Env = append(os.Environ(), "GOEXPERIMENT=")
		out, err := build.CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

// TestPlainBuildKernels: a plain `go build` of the CLI runs the fastest
// kernels this CPU has (no GOEXPERIMENT, no tag), says which on its timing
// line, and warns once, naming the fix, when the portable Go runs instead.
func TestPlainBuildKernels(t *testing.T) {
	offline(t)
	bin := vggnbBinary(t)
	for _, c := range []struct {
		simd, want, warn string
	}{
		{"", "SIMD " + gomlx_vgg.NativeSIMD() + ",", ""},
		{"none", "SIMD none,", "WARNING: the native kernels run portable Go, ~40x slower than AVX-512: SIMD none chosen, slower than this CPU's " + gomlx_vgg.NativeSIMD() + " ($VGGNB_SIMD=none: unset it)"},
	} {
		cmd := exec.Command(bin, "features", "--model", "vgg16", "--weights", "synthetic", "--size", "64x64")
		cmd.Env = append(os.Environ(), "VGGNB_SIMD="+c.simd)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("VGGNB_SIMD=%q: %v\n%s", c.simd, err, stderr.String())
		}
		got := stderr.String()
		if !strings.Contains(got, c.want) || strings.Count(got, "WARNING: the native kernels") != map[bool]int{true: 0, false: 1}[c.warn == ""] || !strings.Contains(got, c.warn) {
			t.Errorf("VGGNB_SIMD=%q: stderr\n%s\nwant %q and warning %q", c.simd, got, c.want, c.warn)
		}
	}
}

// asOtherUser returns a command that runs name as an unprivileged user when the
// tests run as root (setpriv, from util-linux), else as this user.
func asOtherUser(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// TestStartupTouchesNoDisk: a second user on a shared machine, whose $TMPDIR
// holds another user's Graphviz (wazero) cache, runs vggnb. go-graphviz compiled
// its WebAssembly into that cache at package initialisation and panicked
// (`panic: open $TMPDIR/go-graphviz/wazero-...: permission denied`); vggnb must
// not link it, and must start.
func TestStartupTouchesNoDisk(t *testing.T) {
	bin := vggnbBinary(t)
	tmp, err := os.MkdirTemp("", "vggnb-sharedtmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	// Another user's cache: present, not writable (nor readable) for us, named
	// as go-graphviz's wazero names it.
	wazero, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(tmp, "go-graphviz", "wazero-"+strings.TrimSpace(string(wazero))+"-"+runtime.GOARCH+"-"+runtime.GOOS)
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{tmp, filepath.Dir(foreign)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(foreign, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(foreign, 0o755)
	for _, args := range [][]string{{"help"}, {"layers", "--model", "vgg16"}} {
		cmd := asOtherUser(bin, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "HOME="+tmp, "VGGNB_CACHE="+filepath.Join(tmp, "nocache"))
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "panic:") {
			t.Errorf("vggnb %s with another user's graphviz cache in $TMPDIR: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	deps, err := exec.Command("go", "list", "-deps", ".", "../../display").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(deps), "go-graphviz") {
		t.Error("vggnb or display links github.com/goccy/go-graphviz (its init writes to $TMPDIR); only cmd/vggnb-graphviz may")
	}
}

// waitExit waits up to d for cmd to end and returns its exit code (-1 on timeout,
// after killing it).
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return -1
	}
}

// TestSynthStopsOnSIGTERM: SIGTERM while synth writes its 491 MB file must stop
// it at once, non-zero, leaving neither the file nor its temporary (.x.h5.tmp-NNN).
func TestSynthStopsOnSIGTERM(t *testing.T) {
	bin := vggnbBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.h5")
	cmd := exec.Command(bin, "weights", "synth", out, "--model", "vgg19", "--include-top")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if tmps, _ := filepath.Glob(filepath.Join(dir, ".x.h5.tmp-*")); len(tmps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("synth never started writing:\n%s", stderr.String())
		}
	}
	// At once: the file is half a gigabyte, but page-cache writes are fast.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 10*time.Second); code != 130 {
		t.Errorf("synth after SIGTERM exited %d, want 130 within 10 s\n%s", code, stderr.String())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
		t.Errorf("synth stopped by SIGTERM left %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("synth stopped by SIGTERM left %v", left)
	}
}

// TestFeaturesStopsOnSIGINT: Ctrl-C during a long features run (VGG19 on a
// 1200x1200 image, ~6 s) stops it between layers instead of finishing with 0.
func TestFeaturesStopsOnSIGINT(t *testing.T) {
	bin := vggnbBinary(t)
	cmd := exec.Command(bin, "features", "--model", "vgg19", "--weights", "synthetic", "--size", "1200x1200", "--layer", "block5_pool")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, cmd, 20*time.Second)
	if code != 130 || !strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("features after SIGINT exited %d, want 130 naming the cancellation\n%s", code, stderr.String())
	}
	t.Logf("stopped %v after SIGINT: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
}

// TestCommandLimits: sizes and class counts that would need hundreds of GB are
// refused up front with the limit and the flag that raises it; what synth and
// convert write is readable by all.
func TestCommandLimits(t *testing.T) {
	offline(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"features", "--size", "100000x100000"}, "over the limit of 64000000 (raise it with MaxPixels, or --max-pixels)"},
		{[]string{"features", "--size", "1000x1000", "--max-pixels", "999999"}, "over the limit of 999999"},
		{[]string{"weights", "synth", filepath.Join(dir, "big.h5"), "--model", "vgg16", "--include-top", "--classes", "100000000"}, "over the limit of 100000"},
		// 0 used to disable the cell time limit altogether; under 1 s nbclient rounded to 0.
		{[]string{"kernel", "run", "--cell-timeout", "0", "x.ipynb"}, "--cell-timeout 0s: must be at least 1s"},
		{[]string{"kernel", "run", "--cell-timeout", "-5s", "x.ipynb"}, "must be at least 1s"},
		{[]string{"kernel", "run", "--cell-timeout", "500ms", "x.ipynb"}, "must be at least 1s"},
	} {
		var out, errb strings.Builder
		err := run(context.Background(), c.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("vggnb %s: %v, want an error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
		t.Errorf("refused commands left %v", left)
	}
	path := filepath.Join(dir, "small.h5")
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"weights", "synth", path, "--model", "vgg16"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("synth wrote %s with mode %v, want 0644 (%v)", path, st.Mode().Perm(), err)
	}
}

// TestKernelRunCtrlC: Ctrl-C on `vggnb kernel run` killed only nbconvert; the
// kernel (in a session of its own) and its busy cell kept running, and vggnb
// blocked on the pipe they held. Here a stand-in executor starts such a
// grandchild and hangs: SIGINT must end vggnb (130) and the grandchild.
func TestKernelRunCtrlC(t *testing.T) {
	bin := vggnbBinary(t)
	dir := t.TempDir()
	fake := filepath.Join(dir, "bin")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "kernel.pid")
	// jupyter's #! line names the python that runs the executor script.
	files := map[string]string{
		"python":  "#!/bin/bash\nsetsid sleep 300 & echo $! > " + pidFile + "\nsleep 300\n",
		"jupyter": "#!" + filepath.Join(fake, "python") + "\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(fake, name), []byte(src), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nb := filepath.Join(dir, "hang.ipynb")
	if err := os.WriteFile(nb, []byte(`{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "kernel", "run", "--jupyter-data", dir, "--out", filepath.Join(dir, "out"), nb)
	cmd.Env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(20 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the stand-in kernel never started:\n%s", stderr.String())
		}
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 15*time.Second); code != 130 {
		t.Errorf("vggnb kernel run after Ctrl-C exited %d, want 130 within 15 s\n%s", code, stderr.String())
	}
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(stat), ") Z ") {
			break // a zombie: ended, waiting for init to reap it
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel-like grandchild %d outlived vggnb kernel run's Ctrl-C", pid)
		}
	}
}
