package deploy

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"

	"github.com/google/go-cmp/cmp"
)

// TestDockerfiles checks each service's Dockerfile and then compiles its go build line the way
// Docker would: from a copy of the build context (.dockerignore applied), with the build stage's
// WORKDIR and COPY steps replayed, for the manifest's platform. A Dockerfile whose build command
// does not compile, or a .dockerignore that leaves out a file the build needs, fails here.
func TestDockerfiles(t *testing.T) {
	root := integration.RepoRoot(t)
	top := integration.LoadTopology(t)
	goVersion := goDirective(t, root)
	ctxFiles := buildContext(t, root)

	for _, name := range slices.Sorted(maps.Keys(wantServices)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc := service(t, top, name)

			// The manifest builds this service's own Dockerfile from the workspace root.
			wantFile := "Dockerfile." + name
			if svc.Dockerfile != wantFile {
				t.Fatalf("copilot/%s/manifest.yml: image.build.dockerfile = %q; want %q", name, svc.Dockerfile, wantFile)
			}
			if got := buildContextDir(svc.Manifest); got != "." && got != "" {
				t.Errorf("copilot/%s/manifest.yml: image.build.context = %q; want \".\" (the Dockerfile copies go.mod from the workspace root)", name, got)
			}
			raw, err := os.ReadFile(filepath.Join(root, wantFile))
			if err != nil {
				t.Fatalf("the Dockerfile the manifest names: %v", err)
			}
			stages, err := parseDockerfile(string(raw))
			if err != nil {
				t.Fatalf("parse %s: %v", wantFile, err)
			}

			// Build stage: golang at the go.mod version, one go build of ./cmd/<svc>.
			build := stageNamed(stages, "build")
			if build == nil {
				t.Fatalf("%s: no stage named build (FROM golang:... AS build)", wantFile)
			}
			if want := "golang:" + goVersion; !strings.HasPrefix(build.Image, want) {
				t.Errorf("%s: build stage FROM %s; want %s[-variant] (go.mod says go %s)", wantFile, build.Image, want, goVersion)
			}
			run := goBuildRun(t, wantFile, build)
			gb, err := parseGoBuild(run.Args)
			if err != nil {
				t.Fatalf("%s:%d: %v", wantFile, run.Line, err)
			}
			if got := gb.Env["CGO_ENABLED"]; got != "0" {
				t.Errorf("%s:%d: go build runs with CGO_ENABLED=%q; want CGO_ENABLED=0 (a static binary for a distroless/static image)", wantFile, run.Line, got)
			}
			if !slices.Contains(gb.Flags, "-trimpath") {
				t.Errorf("%s:%d: go build flags %q; want -trimpath among them", wantFile, run.Line, gb.Flags)
			}
			if want := []string{"./cmd/" + name}; !slices.Equal(gb.Packages, want) {
				t.Errorf("%s:%d: go build builds %q; want %q", wantFile, run.Line, gb.Packages, want)
			}
			if gb.Output == "" || !path.IsAbs(gb.Output) {
				t.Fatalf("%s:%d: go build -o %q; want an absolute path the final stage copies", wantFile, run.Line, gb.Output)
			}

			// Final stage: distroless or scratch, the binary copied from the build stage, run
			// directly as PID 1 by a user who is not root.
			final := &stages[len(stages)-1]
			if final == build {
				t.Fatalf("%s: the build stage is the final stage; want a separate runtime stage", wantFile)
			}
			if !strings.HasPrefix(final.Image, "gcr.io/distroless/") && final.Image != "scratch" {
				t.Errorf("%s: final stage FROM %s; want gcr.io/distroless/... or scratch", wantFile, final.Image)
			}
			binary := copiedFrom(final, build.Name, gb.Output)
			if binary == "" {
				t.Errorf("%s: final stage has no COPY --from=%s %s <path>; want the built binary copied", wantFile, build.Name, gb.Output)
			}
			if got, ok := entrypoint(final); !ok {
				t.Errorf("%s: final stage ENTRYPOINT %q; want the exec (JSON) form, so the binary is PID 1 and receives SIGTERM (there is no shell)", wantFile, got)
			} else if len(got) == 0 || got[0] != binary {
				t.Errorf("%s: ENTRYPOINT %q; want [%q], the copied binary", wantFile, got, binary)
			}
			if user, ok := runsAsNonRoot(final); !ok {
				t.Errorf("%s: final stage runs as %q; want a non-root USER (or a :nonroot base image)", wantFile, user)
			}
			var wantPorts []string
			if svc.Port != 0 {
				wantPorts = []string{strconv.Itoa(svc.Port)}
			}
			if diff := cmp.Diff(wantPorts, exposed(final)); diff != "" {
				t.Errorf("%s: EXPOSE differs from the manifest's image.port (-want +got):\n%s", wantFile, diff)
			}

			// Compile the go build line as Docker would run it.
			goarch, err := platformArch(svc.Manifest)
			if err != nil {
				t.Fatalf("copilot/%s/manifest.yml: %v", name, err)
			}
			bin := replayBuildStage(t, wantFile, ctxFiles, build, run, gb, goarch)
			checkStaticELF(t, bin, goarch)
		})
	}
}

// TestDockerfilesBelongToServices finds Dockerfiles no manifest builds (a renamed service
// leaves one behind, and its tests above would silently stop covering it).
func TestDockerfilesBelongToServices(t *testing.T) {
	root := integration.RepoRoot(t)
	top := integration.LoadTopology(t)
	files, err := filepath.Glob(filepath.Join(root, "Dockerfile*"))
	if err != nil {
		t.Fatal(err)
	}
	built := map[string]bool{}
	for _, s := range top.Services {
		built[s.Dockerfile] = true
	}
	for _, f := range files {
		if name := filepath.Base(f); !built[name] {
			t.Errorf("%s is built by no manifest in copilot/; want it removed or named in image.build.dockerfile", name)
		}
	}
}

// TestDockerignore checks that the build context (what Docker sends, .dockerignore applied)
// holds what go build needs and none of the heavy or private folders.
func TestDockerignore(t *testing.T) {
	root := integration.RepoRoot(t)
	files := buildContext(t, root)
	in := func(p string) bool {
		_, ok := files[p]
		return ok
	}
	under := func(dir string) bool {
		for f := range files {
			if strings.HasPrefix(f, dir+"/") {
				return true
			}
		}
		return false
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/publisher/main.go", "cmd/fulfilment/main.go", "cmd/promotion/main.go", "templates/templates.go"} {
		if !in(p) {
			t.Errorf("build context lacks %s; want it in (go build needs it)", p)
		}
	}
	if !under("internal") {
		t.Errorf("build context has nothing under internal/; want the packages the services import")
	}
	for _, dir := range []string{".git", ".venv", "bin", "copilot", "test", ".ci"} {
		if under(dir) {
			t.Errorf("build context has files under %s/; want it excluded by .dockerignore", dir)
		}
	}
	for f := range files {
		if strings.HasSuffix(f, ".md") || strings.HasSuffix(f, "_test.go") {
			t.Errorf("build context has %s; want docs and tests excluded by .dockerignore", f)
		}
	}
}

// --- Dockerfile parsing: enough of the format for these checks.

type instruction struct {
	Line int    // where it starts in the file
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string // the rest, continuation lines joined
}

type stage struct {
	Image, Name  string
	Line         int
	Instructions []instruction // after FROM
}

// parseDockerfile splits a Dockerfile into stages. It joins lines continued with a backslash
// and drops comments and blank lines, as Docker does; parser directives count as comments.
func parseDockerfile(src string) ([]stage, error) {
	var (
		stages []stage
		cur    *instruction
		all    []instruction
	)
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		cont := strings.HasSuffix(trimmed, `\`)
		text := strings.TrimSpace(strings.TrimSuffix(trimmed, `\`))
		if cur == nil {
			cmd, args, _ := strings.Cut(text, " ")
			cur = &instruction{Line: i + 1, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		} else if text != "" {
			cur.Args = strings.TrimSpace(cur.Args + " " + text)
		}
		if !cont {
			all = append(all, *cur)
			cur = nil
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: the file ends in a continued line", cur.Line)
	}
	for _, in := range all {
		if in.Cmd == "FROM" {
			st, err := parseFrom(in)
			if err != nil {
				return nil, err
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.Cmd == "ARG" { // ARG before FROM is allowed
				continue
			}
			return nil, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
		}
		last := &stages[len(stages)-1]
		last.Instructions = append(last.Instructions, in)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

func parseFrom(in instruction) (stage, error) {
	var words []string
	for _, w := range strings.Fields(in.Args) {
		if !strings.HasPrefix(w, "--") { // --platform=...
			words = append(words, w)
		}
	}
	st := stage{Line: in.Line}
	switch {
	case len(words) == 1:
		st.Image = words[0]
	case len(words) == 3 && strings.EqualFold(words[1], "AS"):
		st.Image, st.Name = words[0], words[2]
	default:
		return stage{}, fmt.Errorf("line %d: FROM %s: want FROM <image> [AS <name>]", in.Line, in.Args)
	}
	return st, nil
}

func stageNamed(stages []stage, name string) *stage {
	for i := range stages {
		if strings.EqualFold(stages[i].Name, name) {
			return &stages[i]
		}
	}
	return nil
}

// goBuildRun returns the stage's one RUN that calls go build.
func goBuildRun(t *testing.T, file string, st *stage) instruction {
	t.Helper()
	var runs []instruction
	for _, in := range st.Instructions {
		if in.Cmd == "RUN" && regexp.MustCompile(`(^|\s)go\s+build(\s|$)`).MatchString(in.Args) {
			runs = append(runs, in)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("%s: build stage has %d RUN lines with go build; want exactly 1", file, len(runs))
	}
	return runs[0]
}

// goBuild is a RUN line of the form [NAME=value ...] go build [flags] [packages].
type goBuild struct {
	Env      map[string]string
	Flags    []string // every flag as written, with its value when joined by '='
	Output   string   // the value of -o
	Packages []string
}

var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// Flags of go build that take their value as the next word when written without '='.
var goBuildValueFlags = map[string]bool{
	"-o": true, "-p": true, "-tags": true, "-ldflags": true, "-gcflags": true, "-asmflags": true,
	"-mod": true, "-modfile": true, "-pgo": true, "-buildmode": true, "-buildvcs": true,
	"-compiler": true, "-gccgoflags": true, "-installsuffix": true, "-overlay": true, "-pkgdir": true,
	"-toolexec": true, "-covermode": true, "-coverpkg": true, "-C": true,
}

func parseGoBuild(args string) (goBuild, error) {
	if strings.HasPrefix(strings.TrimSpace(args), "[") {
		return goBuild{}, fmt.Errorf("RUN %s: want the shell form, which this check can replay", args)
	}
	words, err := shellFields(args)
	if err != nil {
		return goBuild{}, fmt.Errorf("RUN %s: %v", args, err)
	}
	gb := goBuild{Env: map[string]string{}}
	i := 0
	for ; i < len(words) && envAssignment.MatchString(words[i]); i++ {
		k, v, _ := strings.Cut(words[i], "=")
		gb.Env[k] = v
	}
	if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
		return goBuild{}, fmt.Errorf("RUN %s: want [NAME=value ...] go build ... as a command of its own (no &&, ;, |)", args)
	}
	for _, w := range words {
		if w == "&&" || w == "||" || w == ";" || w == "|" || strings.ContainsAny(w, ";|&`") {
			return goBuild{}, fmt.Errorf("RUN %s: want go build as a command of its own (no &&, ;, |)", args)
		}
	}
	rest := words[i+2:]
	for j := 0; j < len(rest); j++ {
		w := rest[j]
		if !strings.HasPrefix(w, "-") {
			gb.Packages = append(gb.Packages, w)
			continue
		}
		name, value, hasValue := strings.Cut(strings.Replace(w, "--", "-", 1), "=")
		if !hasValue && goBuildValueFlags[name] {
			if j+1 >= len(rest) {
				return goBuild{}, fmt.Errorf("RUN %s: flag %s has no value", args, w)
			}
			j++
			value, w = rest[j], w+"="+rest[j]
		}
		gb.Flags = append(gb.Flags, w)
		if name == "-o" {
			gb.Output = value
		}
	}
	return gb, nil
}

// shellFields splits a simple POSIX shell command into words: quotes and backslashes are
// honoured, nothing is expanded.
func shellFields(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// copyArgs splits COPY's arguments into flags, sources and destination (shell or JSON form).
func copyArgs(args string) (flags map[string]string, srcs []string, dst string, err error) {
	flags = map[string]string{}
	var words []string
	rest := strings.TrimSpace(args)
	for strings.HasPrefix(rest, "--") {
		var w string
		w, rest, _ = strings.Cut(rest, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		flags[k] = v
		rest = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(rest, "[") {
		if err := json.Unmarshal([]byte(rest), &words); err != nil {
			return nil, nil, "", fmt.Errorf("COPY %s: %v", args, err)
		}
	} else {
		words = strings.Fields(rest)
	}
	if len(words) < 2 {
		return nil, nil, "", fmt.Errorf("COPY %s: want at least one source and a destination", args)
	}
	return flags, words[:len(words)-1], words[len(words)-1], nil
}

// copiedFrom returns where the final stage copies file src of stage from, or "".
func copiedFrom(st *stage, from, src string) string {
	for _, in := range st.Instructions {
		if in.Cmd != "COPY" {
			continue
		}
		flags, srcs, dst, err := copyArgs(in.Args)
		if err != nil || flags["from"] != from || len(srcs) != 1 || path.Clean(srcs[0]) != path.Clean(src) {
			continue
		}
		if strings.HasSuffix(dst, "/") {
			return path.Join(dst, path.Base(src))
		}
		return dst
	}
	return ""
}

// entrypoint returns the last ENTRYPOINT, and whether it is in the exec (JSON) form.
func entrypoint(st *stage) ([]string, bool) {
	var args string
	for _, in := range st.Instructions {
		if in.Cmd == "ENTRYPOINT" {
			args = in.Args
		}
	}
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		return []string{args}, false
	}
	return argv, true
}

// runsAsNonRoot returns the user the stage runs as and whether that user is not root. Without
// a USER line the base image decides; distroless's :nonroot tags run as uid 65532.
func runsAsNonRoot(st *stage) (string, bool) {
	user := ""
	for _, in := range st.Instructions {
		if in.Cmd == "USER" {
			user = in.Args
		}
	}
	if user == "" {
		if strings.HasSuffix(st.Image, ":nonroot") || strings.Contains(st.Image, ":nonroot-") {
			return "the :nonroot base image's user", true
		}
		return "root (no USER, and the base image's default)", false
	}
	name, _, _ := strings.Cut(user, ":")
	return user, name != "root" && name != "0"
}

// exposed returns the ports of the stage's EXPOSE lines (without /tcp), or nil.
func exposed(st *stage) []string {
	var ports []string
	for _, in := range st.Instructions {
		if in.Cmd == "EXPOSE" {
			for _, p := range strings.Fields(in.Args) {
				ports = append(ports, strings.TrimSuffix(p, "/tcp"))
			}
		}
	}
	return ports
}

// --- Replaying the build stage.

// replayBuildStage builds an image file system for the stage in a temporary folder: WORKDIR
// and COPY (from the build context) are replayed, ENV is kept, and the go build RUN line runs
// under /bin/sh -c as Docker runs it, with its -o path moved into the folder. Other RUN lines
// (go mod download) are skipped: the host's module cache serves the build. It returns the
// built binary.
func replayBuildStage(t *testing.T, file string, ctxFiles map[string]string, st *stage, run instruction, gb goBuild, goarch string) string {
	t.Helper()
	fsRoot := t.TempDir()
	inImage := func(p string) string { return filepath.Join(fsRoot, filepath.FromSlash(p)) }
	workdir := "/"
	env := map[string]string{}
	for _, in := range st.Instructions {
		switch in.Cmd {
		case "WORKDIR":
			if path.IsAbs(in.Args) {
				workdir = path.Clean(in.Args)
			} else {
				workdir = path.Join(workdir, in.Args)
			}
			if err := os.MkdirAll(inImage(workdir), 0o755); err != nil {
				t.Fatal(err)
			}
		case "ENV":
			k, v, ok := strings.Cut(in.Args, "=")
			if !ok {
				k, v, _ = strings.Cut(in.Args, " ")
			}
			env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		case "COPY":
			flags, srcs, dst, err := copyArgs(in.Args)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, in.Line, err)
			}
			if flags["from"] != "" {
				t.Fatalf("%s:%d: COPY --from in the build stage: this check cannot replay it", file, in.Line)
			}
			// A destination ending in / (or ".") is a folder; relative ones start at WORKDIR.
			isDir := strings.HasSuffix(dst, "/") || dst == "."
			if !path.IsAbs(dst) {
				dst = path.Join(workdir, dst)
			}
			if isDir {
				dst = strings.TrimSuffix(dst, "/") + "/"
			}
			replayCopy(t, ctxFiles, srcs, dst, inImage, fmt.Sprintf("%s:%d", file, in.Line))
		}
	}

	out := inImage(gb.Output)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	script := strings.Replace(run.Args, gb.Output, out, 1)
	if strings.Count(run.Args, gb.Output) != 1 {
		t.Fatalf("%s:%d: the -o path %s appears more than once; cannot move it", file, run.Line, gb.Output)
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = inImage(workdir)
	cmd.Env = buildEnv(env, goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s:%d: RUN %s (replayed on the build context in %s, GOOS=linux GOARCH=%s): %v\n%s", file, run.Line, run.Args, workdir, goarch, err, b)
	}
	return out
}

// replayCopy copies COPY's sources from the build context into the image.
func replayCopy(t *testing.T, ctxFiles map[string]string, srcs []string, dst string, inImage func(string) string, where string) {
	t.Helper()
	dirDst := strings.HasSuffix(dst, "/") || len(srcs) > 1
	for _, src := range srcs {
		src = path.Clean(src)
		if strings.ContainsAny(src, "*?[") {
			t.Fatalf("%s: COPY %s: wildcards are not replayed by this check", where, src)
		}
		n := 0
		for rel, abs := range ctxFiles {
			var target string
			switch {
			case src == ".":
				target = path.Join(dst, rel)
			case rel == src:
				target = dst
				if dirDst {
					target = path.Join(dst, path.Base(rel))
				}
			case strings.HasPrefix(rel, src+"/"):
				target = path.Join(dst, strings.TrimPrefix(rel, src+"/"))
			default:
				continue
			}
			copyFile(t, abs, inImage(target))
			n++
		}
		if n == 0 {
			t.Fatalf("%s: COPY %s: not in the build context (missing, or excluded by .dockerignore)", where, src)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildEnv is the host's environment (for the module cache, proxy and build cache) made to
// look like the golang image's: Linux for the manifest's architecture, no cgo unless the RUN
// line asks for it, no GOFLAGS or workspace, plus the stage's ENV.
func buildEnv(stageEnv map[string]string, goarch string) []string {
	drop := map[string]bool{"GOOS": true, "GOARCH": true, "CGO_ENABLED": true, "GOFLAGS": true, "GOWORK": true}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] && stageEnv[k] == "" {
			env = append(env, kv)
		}
	}
	env = append(env, "GOOS=linux", "GOARCH="+goarch, "GOWORK=off")
	for k, v := range stageEnv {
		env = append(env, k+"="+v)
	}
	return env
}

// checkStaticELF fails unless bin is a Linux executable for goarch with no dynamic loader
// and no shared libraries: what runs on distroless/static or scratch.
func checkStaticELF(t *testing.T, bin, goarch string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("built binary: %v", err)
	}
	defer f.Close()
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	if f.Machine != wantMachine {
		t.Errorf("built binary is for %v; want %v", f.Machine, wantMachine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("built binary asks for a dynamic loader (PT_INTERP); want a static binary (CGO_ENABLED=0)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("built binary needs shared libraries %q; want none", libs)
	}
}

// --- Manifest and module details.

// goDirective returns the major.minor of go.mod's go line ("1.26").
func goDirective(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// buildContextDir returns image.build.context of a parsed manifest, or "".
func buildContextDir(m map[string]any) string {
	image, _ := m["image"].(map[string]any)
	build, _ := image["build"].(map[string]any)
	s, _ := build["context"].(string)
	return s
}

// platformArch maps the manifest's platform (Copilot's default is linux/x86_64) to GOARCH.
func platformArch(m map[string]any) (string, error) {
	p, _ := m["platform"].(string)
	switch p {
	case "", "linux/x86_64", "linux/amd64":
		return "amd64", nil
	case "linux/arm64", "linux/arm":
		return "arm64", nil
	}
	return "", fmt.Errorf("platform %q: want linux/x86_64 or linux/arm64", p)
}

// --- The build context.

// buildContext lists the files Docker would send for the workspace root, .dockerignore
// applied: slash-separated relative path → absolute path.
func buildContext(t *testing.T, root string) map[string]string {
	t.Helper()
	var patterns []string
	if b, err := os.ReadFile(filepath.Join(root, ".dockerignore")); err == nil {
		patterns = ignorePatterns(string(b))
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	ignore, err := newIgnoreMatcher(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	files := map[string]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !ignore(rel) {
			files[rel] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// ignorePatterns reads a .dockerignore as Docker does: comments and blank lines dropped,
// patterns cleaned and made relative.
func ignorePatterns(src string) []string {
	var out []string
	for _, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.TrimSpace(line)
		if p == "" {
			continue
		}
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = strings.TrimSpace(p[1:])
		}
		p = strings.TrimPrefix(path.Clean(p), "/")
		if neg {
			p = "!" + p
		}
		out = append(out, p)
	}
	return out
}

// newIgnoreMatcher follows Docker's .dockerignore rules (github.com/moby/patternmatcher):
// a pattern matches a path or any of its parent folders, '*' and '?' stay within one path
// element, '**' spans any number of them, '!' re-includes, and the last matching pattern wins.
func newIgnoreMatcher(patterns []string) (func(string) bool, error) {
	type pattern struct {
		re      *regexp.Regexp
		include bool
	}
	var ps []pattern
	for _, p := range patterns {
		include := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case c == '*' && i+1 < len(p) && p[i+1] == '*':
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
				}
				if i+1 == len(p) {
					re.WriteString(".*")
				} else {
					re.WriteString("(.*/)?")
				}
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			case c == '\\' && i+1 < len(p):
				i++
				re.WriteString(regexp.QuoteMeta(string(p[i])))
			case c == '[' || c == ']':
				re.WriteByte(c)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		compiled, err := regexp.Compile(re.String())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %v", p, err)
		}
		ps = append(ps, pattern{compiled, include})
	}
	return func(file string) bool {
		ignored := false
		for _, p := range ps {
			if p.include != ignored {
				continue // only a later pattern of the other kind can change the verdict
			}
			match := p.re.MatchString(file)
			for dir := path.Dir(file); !match && dir != "."; dir = path.Dir(dir) {
				match = p.re.MatchString(dir)
			}
			if match {
				ignored = !p.include
			}
		}
		return ignored
	}, nil
}
