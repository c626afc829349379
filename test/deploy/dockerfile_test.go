package deploy

import (
	"cmp"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	goversion "go/version"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// TestDockerfiles checks each service's Dockerfile, read by BuildKit's own parser, and then
// compiles its go build line the way Docker would: from a copy of the build context
// (.dockerignore applied by Docker's matcher), with the build stage's WORKDIR, ENV and COPY steps
// replayed, for the manifest's platform. A Dockerfile whose build command does not compile, or a
// .dockerignore that leaves out a file the build needs, fails here.
func TestDockerfiles(t *testing.T) {
	root := integration.RepoRoot(t)
	top := integration.LoadTopology(t)
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil || mod.Go == nil || mod.Module == nil {
		t.Fatalf("go.mod: %v; want a module and a go directive", err)
	}
	goLine, toolchain := mod.Go.Version, ""
	if mod.Toolchain != nil {
		toolchain = mod.Toolchain.Name // "go1.26.8"
	}
	ctxFiles := buildContext(t, root)

	for _, name := range slices.Sorted(maps.Keys(wantServices)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc := service(t, top, name)

			// The manifest builds this service's own Dockerfile from the workspace root.
			file := "Dockerfile." + name
			if svc.Dockerfile != file {
				t.Fatalf("copilot/%s/manifest.yml: image.build.dockerfile = %q; want %q", name, svc.Dockerfile, file)
			}
			image, _ := svc.Manifest["image"].(map[string]any)
			build, _ := image["build"].(map[string]any)
			if got, _ := build["context"].(string); got != "." && got != "" {
				t.Errorf("copilot/%s/manifest.yml: image.build.context = %q; want \".\" (the Dockerfile copies go.mod from the workspace root)", name, got)
			}
			platform, _ := svc.Manifest["platform"].(string) // Copilot's default is linux/x86_64
			goarch, ok := map[string]string{"": "amd64", "linux/x86_64": "amd64", "linux/amd64": "amd64", "linux/arm64": "arm64", "linux/arm": "arm64"}[platform]
			if !ok {
				t.Fatalf("copilot/%s/manifest.yml: platform %q; want linux/x86_64 or linux/arm64", name, platform)
			}
			stages, lex := parseDockerfile(t, root, file)

			// Build stage: golang at the go.mod version, one go build line.
			i := slices.IndexFunc(stages, func(s instructions.Stage) bool { return s.Name == "build" })
			if i < 0 {
				t.Fatalf("%s: no stage named build (FROM golang:... AS build)", file)
			}
			bs := &stages[i]
			if problem := builderImageProblem(bs.BaseName, goLine, toolchain); problem != "" {
				t.Errorf("%s: build stage: %s", file, problem)
			}
			run, output := goBuildRun(t, file, bs, lex)

			// Final stage: distroless or scratch, the binary copied from the build stage, run
			// directly as PID 1 by a user who is not root, exposing the manifest's port.
			final := &stages[len(stages)-1]
			if final == bs {
				t.Fatalf("%s: the build stage is the final stage; want a separate runtime stage", file)
			}
			if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/") && final.BaseName != "scratch" {
				t.Errorf("%s: final stage FROM %s; want gcr.io/distroless/... or scratch", file, final.BaseName)
			}
			binary := ""
			for _, c := range commands[*instructions.CopyCommand](final) {
				if c.From == bs.Name && len(c.SourcePaths) == 1 && path.Clean(c.SourcePaths[0]) == path.Clean(output) {
					binary = c.DestPath
					if strings.HasSuffix(binary, "/") {
						binary += path.Base(output)
					}
				}
			}
			if binary == "" {
				t.Errorf("%s: final stage has no COPY --from=%s %s <path>; want the built binary copied", file, bs.Name, output)
			}
			if eps := commands[*instructions.EntrypointCommand](final); len(eps) == 0 || eps[len(eps)-1].PrependShell {
				t.Errorf("%s: final stage has no ENTRYPOINT in the exec (JSON) form; want one, so the binary is PID 1 and receives SIGTERM (there is no shell)", file)
			} else if got := eps[len(eps)-1].CmdLine; len(got) == 0 || got[0] != binary {
				t.Errorf("%s: ENTRYPOINT %q; want [%q], the copied binary", at(file, eps[len(eps)-1]), got, binary)
			}
			for _, st := range stages { // a tag moves; a digest is what was reviewed
				if _, digest, _ := strings.Cut(st.BaseName, "@"); st.BaseName != "scratch" && !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
					t.Errorf("%s: FROM %s; want it pinned by digest (image:tag@sha256:...)", file, st.BaseName)
				}
			}
			// Without a USER line the base image decides; distroless's :nonroot tags run as uid 65532.
			tag, _, _ := strings.Cut(final.BaseName, "@")
			user, nonRoot := "root (no USER, and the base image's default)", strings.Contains(tag+"-", ":nonroot-")
			for _, u := range commands[*instructions.UserCommand](final) {
				name, _, _ := strings.Cut(u.User, ":")
				user, nonRoot = u.User, name != "root" && name != "0"
			}
			if !nonRoot {
				t.Errorf("%s: final stage runs as %q; want a non-root USER (or a :nonroot base image)", file, user)
			}
			var ports, wantPorts []string
			for _, e := range commands[*instructions.ExposeCommand](final) {
				for _, p := range e.Ports {
					ports = append(ports, strings.TrimSuffix(p, "/tcp"))
				}
			}
			if svc.Port != 0 {
				wantPorts = []string{strconv.Itoa(svc.Port)}
			}
			if !slices.Equal(ports, wantPorts) {
				t.Errorf("%s: EXPOSE %q; want %q, the manifest's image.port", file, ports, wantPorts)
			}

			// Compile the go build line as Docker would run it. The binary must be static, and its
			// build information must show ./cmd/<svc>, the manifest's platform, no cgo, -trimpath.
			bin := replayBuildStage(t, file, ctxFiles, bs, run, output, goarch, lex)
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("built binary: %v", err)
			}
			defer f.Close()
			if slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
				t.Errorf("built binary asks for a dynamic loader (PT_INTERP); want a static binary (CGO_ENABLED=0)")
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("built binary needs shared libraries %q; want none", libs)
			}
			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatalf("built binary: %v", err)
			}
			if want := mod.Module.Mod.Path + "/cmd/" + name; info.Path != want {
				t.Errorf("%s: go build builds %s; want %s (./cmd/%s)", at(file, run), info.Path, want, name)
			}
			for _, want := range []struct{ key, value, why string }{
				{"CGO_ENABLED", "0", "a static binary for a distroless/static image"},
				{"-trimpath", "true", "no build-machine paths in the binary"},
				{"GOOS", "linux", "the manifest's platform"},
				{"GOARCH", goarch, "the manifest's platform"},
			} {
				if !slices.Contains(info.Settings, debug.BuildSetting{Key: want.key, Value: want.value}) {
					t.Errorf("%s: go build ran without %s=%s; want it (%s)", at(file, run), want.key, want.value, want.why)
				}
			}
		})
	}
}

// TestDockerfilesBelongToServices finds Dockerfiles no manifest builds (a renamed service
// leaves one behind, and its tests above would silently stop covering it).
func TestDockerfilesBelongToServices(t *testing.T) {
	top := integration.LoadTopology(t)
	files, _ := filepath.Glob(filepath.Join(integration.RepoRoot(t), "Dockerfile*")) // the pattern is valid
	for _, f := range files {
		if name := filepath.Base(f); !slices.ContainsFunc(top.Services, func(s *topology.Service) bool { return s.Dockerfile == name }) {
			t.Errorf("%s is built by no manifest in copilot/; want it removed or named in image.build.dockerfile", name)
		}
	}
}

// TestDockerignore checks that the build context (what Docker sends, .dockerignore applied)
// holds what go build needs and none of the heavy or private folders.
func TestDockerignore(t *testing.T) {
	files := buildContext(t, integration.RepoRoot(t))
	for _, tc := range []struct {
		path string // a file, or a folder that must hold some files or none
		want bool
	}{
		{"go.mod", true}, {"go.sum", true}, {"templates/templates.go", true}, {"internal", true},
		{"cmd/publisher/main.go", true}, {"cmd/fulfilment/main.go", true}, {"cmd/promotion/main.go", true},
		{".git", false}, {".venv", false}, {"bin", false}, {"copilot", false}, {"test", false}, {".ci", false},
	} {
		got := slices.ContainsFunc(slices.Collect(maps.Keys(files)), func(f string) bool {
			return f == tc.path || strings.HasPrefix(f, tc.path+"/")
		})
		switch {
		case tc.want && !got:
			t.Errorf("build context lacks %s; want it in (go build needs it)", tc.path)
		case !tc.want && got:
			t.Errorf("build context has files under %s/; want it excluded by .dockerignore", tc.path)
		}
	}
	for f := range files {
		if strings.HasSuffix(f, ".md") || strings.HasSuffix(f, "_test.go") {
			t.Errorf("build context has %s; want docs and tests excluded by .dockerignore", f)
		}
	}
}

// parseDockerfile returns a Dockerfile's stages, as BuildKit reads them, and the shell lexer for
// its escape character, which splits a RUN line into words as Docker's shell would.
func parseDockerfile(t *testing.T, root, file string) ([]instructions.Stage, *shell.Lex) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, file))
	if err != nil {
		t.Fatalf("the Dockerfile the manifest names: %v", err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil || len(stages) == 0 {
		t.Fatalf("parse %s: %v; want at least one FROM", file, err)
	}
	// FROM ${GO_IMAGE}: the image a build with no build arguments (Copilot's) uses, each ARG
	// before the first FROM at its default, expanded as BuildKit expands it.
	lex := shell.NewLex(res.EscapeToken)
	var env []string
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				env = append(env, kv.Key+"="+*kv.Value)
			}
		}
	}
	for i := range stages {
		base, _, err := lex.ProcessWord(stages[i].BaseName, shell.EnvsFromSlice(env))
		if err != nil || base == "" {
			t.Fatalf("%s: FROM %s: %v; want it to name an image with the default build arguments", file, stages[i].BaseName, err)
		}
		stages[i].BaseName = base
	}
	return stages, lex
}

// builderImageProblem says what is wrong with the build stage's base image for a module whose
// go.mod has goLine (and toolchain, "" if none): it must be golang:X.Y.Z[-variant], naming a
// full Go version no older than either. The official images set GOTOOLCHAIN=local, so an older
// Go stops at go mod download ("go.mod requires go >= ..."); a tag without the patch version
// (golang:1.26) says nothing about which Go the pinned digest holds.
func builderImageProblem(baseName, goLine, toolchain string) string {
	tag, _, _ := strings.Cut(baseName, "@")
	repo, ver, _ := strings.Cut(tag, ":")
	if repo != "golang" && repo != "docker.io/library/golang" {
		return fmt.Sprintf("FROM %s; want the official golang image", baseName)
	}
	ver, _, _ = strings.Cut(ver, "-")
	if !regexp.MustCompile(`^[1-9][0-9]*\.[0-9]+\.[0-9]+$`).MatchString(ver) {
		return fmt.Sprintf("FROM %s names no full Go version; want golang:X.Y.Z[-variant]@sha256:... (the Go the digest holds)", baseName)
	}
	for _, need := range []struct{ what, v string }{{"go", "go" + goLine}, {"toolchain", toolchain}} {
		if need.v != "" && goversion.Compare("go"+ver, need.v) < 0 {
			return fmt.Sprintf("FROM %s: Go %s is older than go.mod's %s line (%s); the image's GOTOOLCHAIN=local stops the build at go mod download", baseName, ver, need.what, strings.TrimPrefix(need.v, "go"))
		}
	}
	return ""
}

// commands returns the stage's instructions of type T (*instructions.CopyCommand, ...).
func commands[T instructions.Command](st *instructions.Stage) []T {
	var out []T
	for _, c := range st.Commands {
		if c, ok := c.(T); ok {
			out = append(out, c)
		}
	}
	return out
}

// at says where c is: "Dockerfile.x:12".
func at(file string, c instructions.Command) string {
	return fmt.Sprintf("%s:%d", file, c.Location()[0].Start.Line)
}

var goBuildWords = regexp.MustCompile(`(^|\s)go\s+build(\s|$)`)

// goBuildRun returns the stage's one RUN that calls go build, which must have the shell form
// [NAME=value ...] go build [flags] [packages], and the absolute path of its -o.
func goBuildRun(t *testing.T, file string, st *instructions.Stage, lex *shell.Lex) (*instructions.RunCommand, string) {
	t.Helper()
	var runs []*instructions.RunCommand
	for _, r := range commands[*instructions.RunCommand](st) {
		if goBuildWords.MatchString(strings.Join(r.CmdLine, " ")) {
			runs = append(runs, r)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("%s: build stage has %d RUN lines with go build; want exactly 1", file, len(runs))
	}
	run := runs[0]
	if !run.PrependShell {
		t.Fatalf("%s: RUN %q: want the shell form, which this check can replay", at(file, run), run.CmdLine)
	}
	words, err := lex.ProcessWords(run.CmdLine[0], shell.EnvsFromSlice(nil))
	if err != nil {
		t.Fatalf("%s: RUN %s: %v", at(file, run), run.CmdLine[0], err)
	}
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		words = words[1:] // NAME=value
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" || slices.ContainsFunc(words, func(w string) bool { return strings.ContainsAny(w, ";|&`") }) {
		t.Fatalf("%s: RUN %s: want [NAME=value ...] go build ... as a command of its own (no &&, ;, |)", at(file, run), run.CmdLine[0])
	}
	output := ""
	for i, w := range words {
		if name, v, hasValue := strings.Cut(w, "="); name == "-o" || name == "--o" {
			if !hasValue && i+1 < len(words) {
				v = words[i+1]
			}
			output = v
		}
	}
	if !path.IsAbs(output) {
		t.Fatalf("%s: go build -o %q; want an absolute path the final stage copies", at(file, run), output)
	}
	return run, output
}

// replayBuildStage builds an image file system for the stage in a temporary folder: WORKDIR
// and COPY (from the build context) are replayed, ENV is kept, and the go build RUN line runs
// under /bin/sh -c as Docker runs it, with its -o path moved into the folder. Other RUN lines
// (go mod download) are skipped: the host's module cache serves the build. It returns the
// built binary.
func replayBuildStage(t *testing.T, file string, ctxFiles fstest.MapFS, st *instructions.Stage, run *instructions.RunCommand, output, goarch string, lex *shell.Lex) string {
	t.Helper()
	image := fstest.MapFS{} // what the COPY lines leave, by path below /
	// The host's environment (module and build caches, proxy) made to look like the golang
	// image's: Linux for the manifest's architecture, cgo on (it has gcc), no GOFLAGS or
	// workspace; the stage's ENV comes after, and the last value of a name wins.
	workdir, env := "/", append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=1", "GOFLAGS=", "GOWORK=off")
	inStage := func(p string) string { // a relative path starts at WORKDIR
		if path.IsAbs(p) {
			return path.Clean(p)
		}
		return path.Join(workdir, p)
	}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.WorkdirCommand:
			workdir = inStage(c.Path)
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				v, _, err := lex.ProcessWord(kv.Value, shell.EnvsFromSlice(nil))
				if err != nil {
					t.Fatalf("%s: ENV %s: %v", at(file, c), kv.Key, err)
				}
				env = append(env, kv.Key+"="+v)
			}
		case *instructions.CopyCommand:
			if c.From != "" {
				t.Fatalf("%s: COPY --from in the build stage: this check cannot replay it", at(file, c))
			}
			// A destination ending in / (or ".") is a folder.
			dst, toDir := inStage(c.DestPath), strings.HasSuffix(c.DestPath, "/") || c.DestPath == "." || len(c.SourcePaths) > 1
			for _, src := range c.SourcePaths {
				if src = path.Clean(src); strings.ContainsAny(src, "*?[") {
					t.Fatalf("%s: COPY %s: wildcards are not replayed by this check", at(file, c), src)
				}
				n := 0
				for rel, f := range ctxFiles {
					target := dst // a file to a file
					if rest, inDir := strings.CutPrefix(rel, strings.TrimPrefix(src+"/", "./")); inDir {
						target = path.Join(dst, rest) // a folder's contents into dst
					} else if rel != src {
						continue
					} else if toDir {
						target = path.Join(dst, path.Base(rel))
					}
					image[strings.TrimPrefix(target, "/")] = f
					n++
				}
				if n == 0 {
					t.Fatalf("%s: COPY %s: not in the build context (missing, or excluded by .dockerignore)", at(file, c), src)
				}
			}
		}
	}

	if strings.Count(run.CmdLine[0], output) != 1 {
		t.Fatalf("%s: the -o path %s appears more than once; cannot move it", at(file, run), output)
	}
	fsRoot := t.TempDir()
	inImage := func(p string) string { return filepath.Join(fsRoot, filepath.FromSlash(p)) }
	out := inImage(output)
	if err := errors.Join(os.CopyFS(fsRoot, image), os.MkdirAll(filepath.Dir(out), 0o755), os.MkdirAll(inImage(workdir), 0o755)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", strings.Replace(run.CmdLine[0], output, out, 1))
	cmd.Dir, cmd.Env = inImage(workdir), env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: RUN %s (replayed on the build context in %s, GOOS=linux GOARCH=%s): %v\n%s", at(file, run), run.CmdLine[0], workdir, goarch, err, b)
	}
	return out
}

// buildContext returns the files Docker would send for the workspace root, .dockerignore read
// and applied by Docker's own code, by slash-separated relative path.
func buildContext(t *testing.T, root string) fstest.MapFS {
	t.Helper()
	var patterns []string // none without a .dockerignore
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err == nil {
		defer f.Close()
		patterns, err = ignorefile.ReadAll(f)
	}
	pm, err2 := patternmatcher.New(patterns)
	if err = errors.Join(err, err2); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf(".dockerignore: %v", err)
	}
	files := fstest.MapFS{}
	dirs := map[string]patternmatcher.MatchInfo{} // each folder's results, reused for its entries
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		ignored, info, err := pm.MatchesUsingParentResults(rel, dirs[path.Dir(rel)])
		switch {
		case err != nil:
			return fmt.Errorf(".dockerignore: %s: %w", rel, err)
		case d.IsDir():
			dirs[rel] = info
		case d.Type().IsRegular() && !ignored:
			b, err := os.ReadFile(p)
			files[rel] = &fstest.MapFile{Data: b, Mode: 0o644}
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBuilderImageProblem(t *testing.T) {
	const digest = "@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d"
	tests := []struct {
		name, base, goLine, toolchain string
		want                          string // a part of the problem; "" for none
	}{
		{"same version", "golang:1.26.8-bookworm" + digest, "1.26.8", "", ""},
		{"newer patch", "golang:1.26.9-bookworm" + digest, "1.26.8", "", ""},
		{"newer minor", "golang:1.27.0" + digest, "1.26.8", "", ""},
		{"language version only in go.mod", "golang:1.26.0-alpine" + digest, "1.26", "", ""},
		{"docker.io spelled out", "docker.io/library/golang:1.26.8-bookworm" + digest, "1.26.8", "", ""},
		{"no patch in the tag (today's bug)", "golang:1.26-bookworm" + digest, "1.26.8", "", "names no full Go version"},
		{"no tag", "golang" + digest, "1.26.8", "", "names no full Go version"},
		{"older than the go line", "golang:1.26.4-bookworm" + digest, "1.26.8", "", "older than go.mod's go line (1.26.8)"},
		{"older than the toolchain line", "golang:1.26.8-bookworm" + digest, "1.26.0", "go1.26.9", "older than go.mod's toolchain line (1.26.9)"},
		{"older minor", "golang:1.25.12" + digest, "1.26.0", "", "older than go.mod's go line"},
		{"a release candidate is no full version", "golang:1.27rc1-bookworm" + digest, "1.26.8", "", "names no full Go version"},
		{"not the official image", "example.com/golang:1.26.8" + digest, "1.26.8", "", "want the official golang image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := builderImageProblem(tc.base, tc.goLine, tc.toolchain)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("builderImageProblem(%q, %q, %q) = %q; want %q", tc.base, tc.goLine, tc.toolchain, got, cmp.Or(tc.want, "no problem"))
			}
		})
	}
}
