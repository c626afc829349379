package tracing

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/modfile"
)

// deprecatedModules were deprecated in opentelemetry-go-contrib in September
// 2026 for want of an owner: the SDK's own tracing (AWSTracerProvider) and
// this package's X-Ray propagator and id generator replace them.
var deprecatedModules = map[string]bool{
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws": true,
	"go.opentelemetry.io/contrib/propagators/aws":                                      true,
}

// deprecatedRequires returns the deprecated modules the go.mod at path requires.
func deprecatedRequires(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, r := range f.Require {
		if deprecatedModules[r.Mod.Path] {
			found = append(found, r.Mod.String())
		}
	}
	return found
}

// TestNoDeprecatedModules: no module of the repository requires them, even
// indirectly (bench/ builds on the root module).
func TestNoDeprecatedModules(t *testing.T) {
	for _, dir := range []string{".", "bench", "tools"} {
		path := filepath.Join("..", "..", dir, "go.mod")
		if found := deprecatedRequires(t, path); len(found) > 0 {
			t.Errorf("%s requires %v: deprecated (September 2026); use AWSTracerProvider, XRayPropagator and XRayIDGenerator", filepath.Clean(path), found)
		}
	}
}
