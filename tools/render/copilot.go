package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The Copilot CLI the templates are rendered with. v1.34.1 is its last release (Copilot is
// out of support since June 2026); the module proxy serves it, though `go install
// ...@v1.34.1` is refused, so it is built from the downloaded module.
const (
	copilotModule  = "github.com/aws/copilot-cli"
	copilotVersion = "v1.34.1"
)

// copilotBinary returns the cached Copilot binary under cacheDir, building it first when the
// cache has none (or one that does not report copilotVersion).
func copilotBinary(ctx context.Context, goBin, cacheDir string, log io.Writer) (string, error) {
	dir := filepath.Join(cacheDir, copilotVersion)
	bin := filepath.Join(dir, "copilot")
	err := checkCopilot(ctx, bin)
	if err == nil {
		fmt.Fprintf(log, "copilot %s: %s (cached)\n", copilotVersion, bin)
		return bin, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(log, "cached copilot is unusable, building it again: %v\n", err)
	}
	fmt.Fprintf(log, "building copilot %s from its Go module (once; cached in %s)\n", copilotVersion, dir)
	start := time.Now()
	if err := buildCopilot(ctx, goBin, dir); err != nil {
		return "", fmt.Errorf("build copilot %s: %w", copilotVersion, err)
	}
	if err := checkCopilot(ctx, bin); err != nil {
		return "", fmt.Errorf("built copilot: %w", err)
	}
	fmt.Fprintf(log, "built copilot %s in %s: %s\n", copilotVersion, time.Since(start).Round(time.Second), bin)
	return bin, nil
}

// checkCopilot runs bin --version and checks it is the pinned version.
func checkCopilot(ctx context.Context, bin string) error {
	if _, err := os.Stat(bin); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %w: %s", bin, err, out)
	}
	if !strings.Contains(string(out), copilotVersion) {
		return fmt.Errorf("%s --version says %q; want %s", bin, strings.TrimSpace(string(out)), copilotVersion)
	}
	return nil
}

// buildCopilot builds the pinned Copilot into dir/copilot as its release build does: from a
// writable copy of the module, with the custom resources' JavaScript copied next to the
// templates that embed it (else `svc package` fails with "read custom resource ... file does
// not exist") and the version stamped in. The binary is moved into place only when complete,
// so an interrupted build leaves no cache entry.
func buildCopilot(ctx context.Context, goBin, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	modDir, err := downloadModule(ctx, goBin, work, copilotModule+"@"+copilotVersion)
	if err != nil {
		return err
	}
	src := filepath.Join(work, "src")
	// CopyFS makes the files writable (the module cache's are read-only), which the build
	// needs for the step below.
	if err := os.CopyFS(src, os.DirFS(modDir)); err != nil {
		return fmt.Errorf("copy %s: %w", modDir, err)
	}
	scripts, err := filepath.Glob(filepath.Join(src, "cf-custom-resources", "lib", "*.js"))
	if err != nil {
		return err
	}
	if len(scripts) == 0 {
		return fmt.Errorf("no cf-custom-resources/lib/*.js in %s", modDir)
	}
	dst := filepath.Join(src, "internal", "pkg", "template", "templates", "custom-resources")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(s)), b, 0o644); err != nil {
			return err
		}
	}

	out := filepath.Join(work, "copilot")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath",
		"-ldflags", "-X github.com/aws/copilot-cli/internal/pkg/version.Version="+copilotVersion,
		"-o", out, "./cmd/copilot")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/copilot: %w\n%s", err, b)
	}
	return os.Rename(out, filepath.Join(dir, "copilot"))
}

// downloadModule fetches mod (path@version) into the module cache and returns its folder. It
// runs in dir, outside any module, so no go.mod is touched.
func downloadModule(ctx context.Context, goBin, dir, mod string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", mod)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	// On failure go mod download -json still prints the module with its Error.
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil && runErr == nil {
		return "", fmt.Errorf("go mod download %s: read its output: %w", mod, err)
	}
	if runErr != nil || m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s %s", mod, runErr, m.Error, strings.TrimSpace(stderr.String()))
	}
	return m.Dir, nil
}
