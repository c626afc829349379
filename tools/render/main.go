// Command render writes the CloudFormation templates AWS Copilot would deploy for this
// workspace, with no AWS account: the unmodified Copilot CLI (built once from its Go module and
// cached) runs `svc package` for every workload and `env package` for the environment against
// moto's HTTPS proxy, seeded with what Copilot reads about an application deployed once.
//
//	cd tools && go run ./render [-out DIR] [-env test]
//
// The templates land in -out (default infrastructure/ at the repository root), with
// render.json listing them; test/deploy checks them when RENDERED_DIR names that folder.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

// run renders every template of the workspace; progress goes to stderr, the list of files
// written to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("render", flag.ContinueOnError)
	flags.SetOutput(stderr)
	root := flags.String("root", "", "the repository (the folder holding copilot/); default: found from the working directory up")
	out := flags.String("out", "", "where the templates go; default: infrastructure/ in the repository")
	env := flags.String("env", "test", "the Copilot environment to render for (copilot/environments/<env>)")
	region := flags.String("region", "us-east-1", "the environment's region, as the templates are rendered for it")
	python := flags.String("python", "", "a Python with moto[proxy]; default: .venv/bin/python in the repository (make venv)")
	goBin := flags.String("go", "go", "the go command that builds Copilot")
	cache := flags.String("cache", "", "where the built Copilot is kept; default: <user cache dir>/pubsub-copilot")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}

	// --- The workspace, and where things go.
	if *root == "" {
		r, err := findRoot(".")
		if err != nil {
			return err
		}
		*root = r
	}
	ws, err := readWorkspace(*root)
	if err != nil {
		return err
	}
	if err := ws.checkEnv(*env); err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*root, "infrastructure")
	}
	if *python == "" {
		*python = filepath.Join(*root, ".venv", "bin", "python")
	}
	if *cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no user cache folder for the Copilot build (%w); pass -cache", err)
		}
		*cache = filepath.Join(dir, "pubsub-copilot")
	}
	// Shared by a user's clones and worktrees, unlike a folder in the repository, and outside
	// every module, so the build never reads the project's go.mod.
	copilot, err := copilotBinary(ctx, *goBin, *cache, stderr)
	if err != nil {
		return err
	}

	// --- moto, seeded.
	start := time.Now()
	scratch, err := os.MkdirTemp("", "pubsub-render-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	m, err := startMoto(ctx, *python, scratch)
	if err != nil {
		return err
	}
	defer m.Stop()
	ca, err := m.caPEM()
	if err != nil {
		return err
	}
	cfg, err := proxiedConfig(m.Proxy, ca, *region)
	if err != nil {
		return err
	}
	if err := seed(ctx, cfg, ws, *env); err != nil {
		return fmt.Errorf("%w\n%s", err, m.tail(15))
	}

	// --- Copilot, in a copy of the workspace.
	wsCopy := filepath.Join(scratch, "workspace")
	rendered := filepath.Join(scratch, "out")
	home := filepath.Join(scratch, "home")
	for _, d := range []string{wsCopy, rendered, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := ws.copyTo(wsCopy); err != nil {
		return err
	}
	cenv := copilotEnv(os.Environ(), m.Proxy, m.CAFile, *region, home)
	var commands [][]string
	for _, w := range ws.Workloads {
		kind := "svc"
		if w.isJob() {
			kind = "job"
		}
		commands = append(commands, []string{kind, "package", "--name", w.Name, "--env", *env, "--output-dir", rendered})
	}
	commands = append(commands, []string{"env", "package", "--name", *env, "--output-dir", rendered})
	for _, c := range commands {
		cmd := exec.CommandContext(ctx, copilot, c...)
		cmd.Dir = wsCopy
		cmd.Env = cenv
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("copilot %s: %w\n%s\n%s", strings.Join(c, " "), err, strings.TrimSpace(string(b)), m.tail(15))
		}
	}

	// --- The templates, into -out.
	info := renderInfo{Copilot: copilotVersion, App: ws.App, Env: *env, Region: *region}
	for _, w := range ws.Workloads {
		info.Workloads = append(info.Workloads, renderedWorkload{Name: w.Name, Type: w.Type})
	}
	files, err := publish(rendered, *out, info)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rendered %d workloads and environment %s with copilot %s in %s\n",
		len(ws.Workloads), *env, copilotVersion, time.Since(start).Round(100*time.Millisecond))
	for _, f := range files {
		fmt.Fprintln(stdout, filepath.Join(*out, f))
	}
	return nil
}

// renderInfo is render.json: what was rendered, for the tests that read the templates.
type renderInfo struct {
	Copilot   string             `json:"copilot"`
	App       string             `json:"app"`
	Env       string             `json:"env"`
	Region    string             `json:"region"`
	Workloads []renderedWorkload `json:"workloads"`
	Files     []string           `json:"files"` // relative to the folder, sorted
}

type renderedWorkload struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

const infoFile = "render.json"

// publish moves the rendered files into out, replacing those a previous render listed in
// its render.json (so a workload removed from copilot/ leaves no stale template), and writes
// render.json last, so it only ever lists a complete render. Other files in out are left alone.
func publish(rendered, out string, info renderInfo) ([]string, error) {
	entries, err := os.ReadDir(rendered)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			info.Files = append(info.Files, e.Name())
		}
	}
	if len(info.Files) == 0 {
		return nil, errors.New("copilot wrote no templates")
	}
	slices.Sort(info.Files)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(out, infoFile)); err == nil {
		var prev renderInfo
		if err := json.Unmarshal(b, &prev); err != nil {
			return nil, fmt.Errorf("read previous %s: %w", filepath.Join(out, infoFile), err)
		}
		for _, f := range append(prev.Files, infoFile) {
			if filepath.Base(f) != f { // never outside out, whatever the file says
				return nil, fmt.Errorf("previous %s lists %q, not a file name", infoFile, f)
			}
			if err := os.Remove(filepath.Join(out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	for _, f := range info.Files {
		b, err := os.ReadFile(filepath.Join(rendered, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(out, f), b, 0o644); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, infoFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return append(info.Files, infoFile), nil
}

// copilotEnv is the environment Copilot runs in: the caller's, without anything that could
// point it at a real account or another endpoint (AWS_*, proxies, the home folder with
// ~/.aws), plus dummy credentials, the region, and moto's proxy and CA. Copilot's SDK
// (aws-sdk-go v1) ignores AWS_ENDPOINT_URL, so the proxy is what reaches moto.
func copilotEnv(environ []string, proxy *url.URL, caFile, region, home string) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch u := strings.ToUpper(k); {
		case strings.HasPrefix(u, "AWS_"), u == "HTTP_PROXY", u == "HTTPS_PROXY", u == "NO_PROXY", u == "ALL_PROXY", u == "HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"HTTPS_PROXY="+proxy.String(), "HTTP_PROXY="+proxy.String(), "NO_PROXY=",
		"AWS_CA_BUNDLE="+caFile,
	)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
