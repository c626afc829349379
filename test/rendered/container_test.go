package rendered

import (
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestRenderedReadonlyRootFilesystem: in both deployers' stacks, each service's own container runs with a read-only root
// file system (taskdef_overrides in its manifest). The binaries write no file: they log to
// stdout, serve embedded templates, and parse only url-encoded forms (no multipart temporary
// files), so a writable root would only serve an attacker. ECS's default is writable, so a
// dropped override shows here, not on deploy.
func TestRenderedReadonlyRootFilesystem(t *testing.T) {
	integration.EachDeployment(t, func(t *testing.T, d *cfn.Deployment) {
		for _, w := range d.Workloads {
			t.Run(w.Name, func(t *testing.T) {
				got, ok := w.Container["ReadonlyRootFilesystem"]
				if !ok {
					t.Fatalf("%s: the %s container has no ReadonlyRootFilesystem (ECS then mounts its root file system writable); "+
						"want true: taskdef_overrides ContainerDefinitions[0].ReadonlyRootFilesystem in copilot/%s/manifest.yml",
						w.File, w.Name, w.Name)
				}
				if got != true {
					t.Errorf("%s: the %s container has ReadonlyRootFilesystem %v (%T); want true", w.File, w.Name, got, got)
				}
			})
		}
	})
}
