// Package parquetcheck reads Parquet files with an independent reader,
// hyparquet (pure JavaScript, run by Node.js; pinned in a checkout's
// scripts/parquet), so that tests check vggnb's files with someone else's
// reader rather than with the library that wrote them.
package parquetcheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// File is a file as hyparquet read it: its rows (the columns vggnb writes),
// its number of row groups and its key/value metadata.
type File struct {
	Path string
	Rows []struct {
		Path    string
		Shape   []int32
		Values  []float32
		Classes []int32
		Labels  []string
		Scores  []float32
		Error   string
	}
	RowGroups int `json:"row_groups"`
	Metadata  map[string]string
}

// Read installs the pinned hyparquet from scriptsDir (package.json,
// package-lock.json and read.mjs) into work with `npm ci`, and reads files.
func Read(ctx context.Context, scriptsDir, work string, files ...string) ([]File, error) {
	if _, err := exec.LookPath("npm"); err != nil {
		return nil, errors.New("parquetcheck: npm is not installed (Debian's nodejs and npm; scripts/deps.sh installs them)")
	}
	for _, f := range []string{"package.json", "package-lock.json", "read.mjs"} {
		b, err := os.ReadFile(filepath.Join(scriptsDir, f))
		if err != nil {
			return nil, fmt.Errorf("parquetcheck: %w", err)
		}
		if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
			return nil, fmt.Errorf("parquetcheck: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "node_modules", "hyparquet")); err != nil {
		npm := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
		npm.Dir = work
		if out, err := npm.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("parquetcheck: npm ci (hyparquet): %w\n%s", err, out)
		}
	}
	abs := make([]string, len(files))
	for i, f := range files {
		var err error
		if abs[i], err = filepath.Abs(f); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, "node", append([]string{"read.mjs"}, abs...)...)
	cmd.Dir = work
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("parquetcheck: node read.mjs: %w\n%s", err, stderr.String())
	}
	var res []File
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 256<<20)
	for sc.Scan() {
		var f File
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return nil, fmt.Errorf("parquetcheck: %w", err)
		}
		res = append(res, f)
	}
	if len(res) != len(files) {
		return nil, fmt.Errorf("parquetcheck: hyparquet read %d of %d files", len(res), len(files))
	}
	return res, nil
}
