// Package docs checks that every repository path README.md and docs/ name exists, so a moved
// package or file cannot leave the documentation pointing at where it used to be.
package docs

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// topLevel are the folders a repository path in the docs starts with. It is a fixed list, not
// read from the tree, so a path under a folder that was removed is still checked. Generated
// folders (infrastructure/, test-output/, .venv/) are left out: a clean clone has none of them.
var topLevel = []string{"cmd", "internal", "copilot", "test", "emulators", "tools", "bench", "docs", "templates", ".ci"}

// rootFiles are the names a path may be without a folder.
var rootFiles = []string{"Makefile", "go.mod", "go.sum", "README.md", "renovate.json", ".dockerignore"}

// generated are folders inside topLevel ones that a command writes and git ignores; the docs may
// name what is in them.
var generated = []string{"bench/out"}

// ref is a repository path named in a Markdown file.
type ref struct {
	line int
	text string // as written
	path string // relative to the repository root, a glob where the text has <placeholders> or *
}

var (
	placeholder = regexp.MustCompile(`<[^<>/]*>`)
	lineSuffix  = regexp.MustCompile(`:\d+(-\d+)?$`)
	link        = regexp.MustCompile(`\]\(([^()\s]+)\)`)
)

// repoPath reports whether the token, trimmed of punctuation, names a repository path, and
// returns that path as a glob.
func repoPath(tok string) (string, bool) {
	tok = strings.TrimLeft(tok, "([{'\"`")
	tok = strings.TrimRight(tok, ")]},;:.'\"`")
	tok = strings.TrimSuffix(tok, "'s") // copilot/'s topology
	tok = strings.TrimPrefix(tok, "./")
	tok = lineSuffix.ReplaceAllString(tok, "")
	tok = strings.TrimSuffix(tok, "/")
	if tok == "" || strings.Contains(tok, "://") {
		return "", false
	}
	for _, g := range generated {
		if tok == g || strings.HasPrefix(tok, g+"/") {
			return "", false
		}
	}
	isRootFile := slices.Contains(rootFiles, tok) || strings.HasPrefix(tok, "Dockerfile.")
	first, _, hasSlash := strings.Cut(tok, "/")
	if !isRootFile && !(hasSlash && slices.Contains(topLevel, first)) {
		return "", false
	}
	return placeholder.ReplaceAllString(tok, "*"), true
}

// refs returns the repository paths a Markdown file names: tokens of its inline code spans and
// fenced blocks that look like repository paths, and the targets of its links to local files
// (relative to the file's folder, given as dir from the repository root).
func refs(md, dir string) []ref {
	var out []ref
	inFence := false
	inSpan, spanLine := false, 0
	var span strings.Builder
	for i, line := range strings.Split(md, "\n") {
		n := i + 1
		if !inSpan && strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			for _, tok := range strings.Fields(line) {
				if p, ok := repoPath(tok); ok {
					out = append(out, ref{n, tok, p})
				}
			}
			continue
		}
		// Code spans may run across a line break; text outside them is searched for links.
		var prose strings.Builder
		for _, part := range strings.SplitAfter(line, "`") {
			text, closes := strings.CutSuffix(part, "`")
			if !inSpan {
				prose.WriteString(text)
				if closes {
					inSpan, spanLine = true, n
					span.Reset()
				}
				continue
			}
			span.WriteString(text + " ")
			if closes {
				inSpan = false
				for _, tok := range strings.Fields(span.String()) {
					if p, ok := repoPath(tok); ok {
						out = append(out, ref{spanLine, tok, p})
					}
				}
			}
		}
		for _, m := range link.FindAllStringSubmatch(prose.String(), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, ":") {
				continue // an anchor in the same file, a URL, mailto:
			}
			out = append(out, ref{n, m[1], filepath.ToSlash(filepath.Join(dir, target))})
		}
	}
	return out
}

// TestDocsNameExistingPaths fails on every path README.md or docs/*.md names that is not in
// the repository, with the file and line that names it.
func TestDocsNameExistingPaths(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)

	checked := 0
	for _, f := range files {
		md, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for _, r := range refs(string(md), filepath.Dir(filepath.ToSlash(rel))) {
			checked++
			named := r.path
			if r.text != r.path {
				named = r.text + " (" + r.path + ")"
			}
			if strings.HasPrefix(r.path, "../") {
				t.Errorf("%s:%d: %s points outside the repository", rel, r.line, r.text)
				continue
			}
			full := filepath.Join(root, filepath.FromSlash(r.path))
			if strings.ContainsAny(r.path, "*?[") {
				if m, err := filepath.Glob(full); err != nil || len(m) == 0 {
					t.Errorf("%s:%d: %s: nothing in the repository matches it", rel, r.line, named)
				}
				continue
			}
			if _, err := os.Stat(full); errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s:%d: %s does not exist", rel, r.line, named)
			} else if err != nil {
				t.Errorf("%s:%d: %s: %v", rel, r.line, r.text, err)
			}
		}
	}
	t.Logf("checked %d paths named in %d files", checked, len(files))
	if checked < 50 {
		t.Errorf("checked %d paths in %d files; want at least 50 (is the extraction broken?)", checked, len(files))
	}
}

func TestRefs(t *testing.T) {
	md := "See `internal/devstack/iam/conditions.go:42`, `copilot/<svc>/manifest.yml` and\n" +
		"`go test -v ./test/e2e -run X`; not `make run`, `/etc/passwd` or `AWS_REGION`.\n" +
		"A span `across a\ntest/iam` break, [a link](journey-95.png), [an anchor](#x), <https://x/y>,\n" +
		"[the web](https://example.com/a).\n" +
		"```\n" +
		"cmd/dev                     make run, bench/out/results.md\n" +
		"```\n" +
		"`Dockerfile.*`, `go.mod`, `renovate.json`.\n"
	got := refs(md, "docs")
	want := []ref{
		{1, "internal/devstack/iam/conditions.go:42`,", "internal/devstack/iam/conditions.go"},
		{1, "copilot/<svc>/manifest.yml", "copilot/*/manifest.yml"},
		{2, "./test/e2e", "test/e2e"},
		{3, "test/iam", "test/iam"},
		{4, "journey-95.png", "docs/journey-95.png"},
		{7, "cmd/dev", "cmd/dev"},
		{9, "Dockerfile.*", "Dockerfile.*"},
		{9, "go.mod", "go.mod"},
		{9, "renovate.json", "renovate.json"},
	}
	// The text of a span is its token; compare paths and lines, which are what a failure names.
	if len(got) != len(want) {
		t.Fatalf("refs = %+v; want %d refs: %+v", got, len(want), want)
	}
	for i := range want {
		if got[i].line != want[i].line || got[i].path != want[i].path {
			t.Errorf("ref %d = line %d %q; want line %d %q", i, got[i].line, got[i].path, want[i].line, want[i].path)
		}
	}
}
