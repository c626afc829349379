package rendered

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// adotReleases dates the ADOT collector releases a task definition may name, by tag and by the
// digest of the release's multi-arch image index (the same on public.ecr.aws and Docker Hub).
// Dates and digests come from public pages, as no registry is reachable from here: the date
// from the release's page on GitHub (and its git tag), the digest from repositories that pin
// that tag by digest. Add a release here when the manifests move to it (docs/operating.md, "One trace per order").
var adotReleases = []struct {
	version, digest string
	released        string // YYYY-MM-DD
	source          string
}{
	// Copilot v1.34.1's own sidecar (its template names the tag only). Date: the v0.17.0 tag
	// in github.com/aws-observability/aws-otel-collector (tagged 2022-03-03).
	{"v0.17.0", "", "2022-03-03", "git tag v0.17.0, github.com/aws-observability/aws-otel-collector"},
	{"v0.49.0", "sha256:d2bdfff2c377c3d71d78bd5d9ce9862fd535b12134a5739d87a07801297cf9fd", "2026-07-14",
		"https://github.com/aws-observability/aws-otel-collector/releases/tag/v0.49.0; digest as pinned by alphagov/pay-adot's Dockerfile and others"},
	{"v0.50.0", "sha256:7968fb60db6a2390a47ba6a2df029745638486e285c9b2487da1b722d0855a3e", "2026-08-31",
		"https://github.com/aws-observability/aws-otel-collector/releases/tag/v0.50.0; digest as pinned by alphagov/pay-adot's Dockerfile and others"},
}

// collectorRepositories are where the ADOT collector image is published.
var collectorRepositories = []string{
	"public.ecr.aws/aws-observability/aws-otel-collector",
	"amazon/aws-otel-collector",
}

// collectorActions is what the collector calls with the task role under Copilot's
// --config=/etc/ecs/ecs-xray.yaml: its awsxray exporter's PutTraceSegments (resourcedetection
// reads metadata endpoints only; no logs exporter, no X-Ray telemetry, no sampling proxy).
var collectorActions = []string{"xray:PutTraceSegments"}

var digestRef = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// renderedContainer is one container of one task definition of one rendered template.
type renderedContainer struct {
	file, taskDef, name string
	def                 map[string]any
}

// renderedContainers lists every container of every task definition of every rendered template.
func renderedContainers(t *testing.T, r *cfn.Rendered) []renderedContainer {
	t.Helper()
	var out []renderedContainer
	for _, file := range slices.Sorted(maps.Keys(r.Templates)) {
		tpl := r.Templates[file]
		for _, id := range tpl.OfType("AWS::ECS::TaskDefinition") {
			defs, _ := tpl.Resources[id].Properties["ContainerDefinitions"].([]any)
			for i, d := range defs {
				m, _ := d.(map[string]any)
				name, _ := m["Name"].(string)
				if ref, ok := cfn.Ref(m["Name"]); ok {
					name = "Ref " + ref
				}
				if name == "" {
					t.Errorf("%s: %s: container %d has no Name", file, id, i)
				}
				out = append(out, renderedContainer{file, id, name, m})
			}
		}
	}
	return out
}

// TestRenderedImagesPinned: every container of every rendered task definition runs either our
// own image (the ContainerImage parameter: the image Copilot builds from our Dockerfile and
// pushes to the application's ECR repository on deploy) or an image pinned by digest. A tag is
// a pointer its publisher can move: the next task placed would run other bytes, with no change
// in the stack.
func TestRenderedImagesPinned(t *testing.T) {
	r := integration.Rendered(t)
	containers := renderedContainers(t, r)
	if len(containers) == 0 {
		t.Fatal("no container in any rendered task definition")
	}
	for _, c := range containers {
		img := c.def["Image"]
		if ref, ok := cfn.Ref(img); ok && ref == "ContainerImage" {
			continue
		}
		s, ok := img.(string)
		if !ok {
			t.Errorf("%s: %s: container %s: Image %v is neither our image (Ref ContainerImage) nor a literal", c.file, c.taskDef, c.name, img)
			continue
		}
		if !digestRef.MatchString(s) {
			t.Errorf("%s: %s: container %s runs %s, by a tag its registry can move; want it pinned by digest (name@sha256:…, taskdef_overrides in the manifest) or our own image (Ref ContainerImage)",
				c.file, c.taskDef, c.name, s)
		}
	}
}

// TestRenderedCollectorRelease: the collector sidecar is a release adotReleases dates, made
// within the last year.
func TestRenderedCollectorRelease(t *testing.T) {
	r := integration.Rendered(t)
	now := time.Now()
	found := false
	for _, c := range renderedContainers(t, r) {
		img, _ := c.def["Image"].(string)
		repo, tag, digest := splitImage(img)
		if !slices.Contains(collectorRepositories, repo) {
			if c.name == "aws-otel-collector" {
				// The manifests override the image by index: a container added before it would
				// take the collector's image instead.
				t.Errorf("%s: container aws-otel-collector runs %v; want the ADOT collector (%s)", c.file, c.def["Image"], collectorRepositories[0])
			}
			continue
		}
		found = true
		var version, released, source string
		for _, rel := range adotReleases {
			if (digest != "" && digest == rel.digest) || (digest == "" && tag == rel.version) {
				version, released, source = rel.version, rel.released, rel.source
			}
		}
		if version == "" {
			t.Errorf("%s: container %s runs %s, a collector release adotReleases (test/rendered/sidecar_test.go) does not date; add it, with its release date and where both come from",
				c.file, c.name, img)
			continue
		}
		if tag != "" && digest != "" && tag != version {
			t.Errorf("%s: container %s runs %s: tag %s but the digest of %s", c.file, c.name, img, tag, version)
		}
		day, err := time.Parse(time.DateOnly, released)
		if err != nil {
			t.Fatalf("adotReleases %s: %v", version, err)
		}
		if limit := day.AddDate(1, 0, 0); now.After(limit) {
			t.Errorf("%s: container %s runs the ADOT collector %s, released %s (%s), more than a year ago; want a release of the last year pinned by digest (docs/operating.md, \"One trace per order\", says how)",
				c.file, c.name, version, released, source)
		}
	}
	if !found {
		skip.Exempt(t, "no ADOT collector sidecar in the render (observability.tracing is off)")
	}
}

// TestRenderedCollectorGrants: the task role of a workload that runs the collector grants it
// what its configuration calls and no more: Copilot's AWSDistroOpenTelemetryPolicy, cut down by
// overrides/cfn.patches.yml to collectorActions (no CloudWatch Logs on "*"), while Copilot's
// DenyIAM still denies iam:* (the patch addresses the policy by its index in the list).
func TestRenderedCollectorGrants(t *testing.T) {
	r := integration.Rendered(t)
	for _, w := range r.Info.Workloads {
		t.Run(w.Name, func(t *testing.T) {
			stack := r.Stacks[w.Name]
			role := taskRole(t, r, w.Name)
			policies, _ := stack.Resources[role].Properties["Policies"].([]any)
			byName := map[string]map[string]any{}
			for _, p := range policies {
				m, _ := p.(map[string]any)
				name, _ := m["PolicyName"].(string)
				byName[name] = m
				var logs []string
				for _, st := range statements(m) {
					for _, a := range actions(st) {
						if strings.HasPrefix(strings.ToLower(a), "logs:") && st["Effect"] == "Allow" {
							logs = append(logs, a)
						}
					}
				}
				if len(logs) > 0 {
					t.Errorf("%s: %s policy %s allows %q; want no CloudWatch Logs action: the collector's X-Ray-only pipeline calls none (its own output goes to stdout, the awslogs driver)",
						r.StackFile(w.Name), role, name, logs)
				}
			}
			deny := statements(byName["DenyIAM"])
			if len(deny) != 1 || deny[0]["Effect"] != "Deny" || !slices.Equal(actions(deny[0]), []string{"iam:*"}) {
				t.Errorf("%s: %s policy DenyIAM is %v; want Copilot's Deny of iam:* (did a patch land on the wrong policy?)", r.StackFile(w.Name), role, byName["DenyIAM"])
			}
			otel, ok := byName["AWSDistroOpenTelemetryPolicy"]
			if !ok {
				skip.Exempt(t, r.StackFile(w.Name)+": no AWSDistroOpenTelemetryPolicy (observability.tracing is off)")
			}
			var got []string
			for _, st := range statements(otel) {
				if st["Effect"] == "Allow" {
					got = append(got, actions(st)...)
				}
			}
			if !slices.Equal(got, collectorActions) {
				t.Errorf("%s: %s policy AWSDistroOpenTelemetryPolicy allows %q; want %q, the calls the collector's config makes (overrides/cfn.patches.yml)",
					r.StackFile(w.Name), role, got, collectorActions)
			}
		})
	}
}

// splitImage splits an image reference into its repository, tag and digest (either may be
// empty).
func splitImage(img string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(img, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

// taskRole returns the logical id of the role the workload's task definition names as its
// TaskRoleArn.
func taskRole(t *testing.T, r *cfn.Rendered, svc string) string {
	t.Helper()
	stack := r.Stacks[svc]
	defs := stack.OfType("AWS::ECS::TaskDefinition")
	if len(defs) != 1 {
		t.Fatalf("%s: task definitions %q; want one", r.StackFile(svc), defs)
	}
	role, attr, ok := cfn.GetAtt(stack.Resources[defs[0]].Properties["TaskRoleArn"])
	if !ok || attr != "Arn" || stack.Resources[role].Type != "AWS::IAM::Role" {
		t.Fatalf("%s: %s: TaskRoleArn %v; want the Arn of a role in the stack", r.StackFile(svc), defs[0], stack.Resources[defs[0]].Properties["TaskRoleArn"])
	}
	return role
}

// statements returns the statements of an inline policy (PolicyName, PolicyDocument).
func statements(policy map[string]any) []map[string]any {
	doc, _ := policy["PolicyDocument"].(map[string]any)
	var out []map[string]any
	switch s := doc["Statement"].(type) {
	case []any:
		for _, st := range s {
			if m, ok := st.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		out = append(out, s)
	}
	return out
}

// actions returns a statement's Action, a string or a list.
func actions(st map[string]any) []string {
	switch a := st["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
