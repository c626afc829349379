// Command cdk is the AWS CDK app of the pubsub application: the second way to deploy it, beside
// Copilot (copilot/), from the same sources: the manifests, the addons' CloudFormation and the
// Dockerfiles. It synthesizes CloudFormation offline, with no account, no Docker and no cdk CLI
// (make synth); the cdk CLI runs it to deploy (make deploy-cdk). See docs/cdk.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	if err := run(os.Args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cdk:", err)
		os.Exit(1)
	}
}

// contextFlags collects -c key=value, as the cdk CLI's --context.
type contextFlags map[string]any

func (c contextFlags) String() string { return fmt.Sprint(map[string]any(c)) }
func (c contextFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, have %q", s)
	}
	c[k] = v
	return nil
}

// run synthesizes the app. Run by the cdk CLI it takes no flags: the CLI passes the output
// folder and the context in the environment (CDK_OUTDIR, CDK_CONTEXT_JSON), which the app reads.
func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fs.String("out", "", "write the cloud assembly here (default: the cdk CLI's, else a temporary folder)")
	root := fs.String("root", "", "the repository root, holding copilot/ (default: found upwards from the working directory)")
	ctx := contextFlags{}
	fs.Var(ctx, "c", "context key=value (app, env, tablesEnv, waf, alarmEmail, deletionProtection, pointInTimeRecovery); repeatable")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *root == "" {
		var err error
		if *root, err = findRoot(); err != nil {
			return err
		}
	}
	ws, err := loadWorkspace(*root)
	if err != nil {
		return err
	}
	props := &awscdk.AppProps{
		// No CDKMetadata resource: the data stack must hold nothing but its tables to be created
		// by importing them (cdk import), and templates stay the same from run to run.
		AnalyticsReporting: jsii.Bool(false),
		Context:            (*map[string]any)(&ctx),
	}
	if *out != "" {
		props.Outdir = out
	}
	app := awscdk.NewApp(props)
	cfg, err := configFrom(app, ws)
	if err != nil {
		return err
	}
	if err := build(app, ws, cfg); err != nil {
		return err
	}
	asm := app.Synth(nil)
	fmt.Fprintf(stdout, "synthesized %s %s into %s\n", cfg.App, cfg.Env, *asm.Directory())
	return nil
}

// configFrom reads the user's choices from the app's context, with their defaults.
func configFrom(app awscdk.App, ws *workspace) (config, error) {
	get := func(key, def string) string {
		if v := app.Node().TryGetContext(jsii.String(key)); v != nil {
			return fmt.Sprint(v)
		}
		return def
	}
	enable, _ := ws.WAFParams["Enable"].(string)
	cfg := config{
		App:                 get("app", ws.Topology.App),
		Env:                 get("env", "test"),
		AlarmEmail:          get("alarmEmail", ""),
		DeletionProtection:  get("deletionProtection", ""),
		PointInTimeRecovery: get("pointInTimeRecovery", ""),
	}
	cfg.TablesEnv = get("tablesEnv", cfg.Env)
	switch waf := get("waf", enable); waf {
	case "true", "false":
		cfg.WAF = waf == "true"
	default:
		return cfg, fmt.Errorf("context waf=%q: want true or false", waf)
	}
	return cfg, nil
}

// findRoot is the nearest folder upwards holding copilot/.workspace.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "copilot", ".workspace")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no copilot/.workspace here or above: pass -root")
		}
		dir = parent
	}
}
