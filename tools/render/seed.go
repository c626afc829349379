package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// account is moto's account id; the seeded ARNs use it so they match what moto returns.
const account = "123456789012"

// Dummy credentials: moto accepts any, and none of the caller's may leak into the render.
const (
	accessKey = "testing"
	secretKey = "testing"
)

// proxiedConfig is an SDK configuration that reaches AWS's real endpoints through the moto
// proxy, trusting its CA. It is built by hand rather than by config.LoadDefaultConfig, so
// nothing in the caller's environment (AWS_ENDPOINT_URL under make test, a profile, real
// credentials) can send a seeding call anywhere else.
func proxiedConfig(proxy *url.URL, caPEM []byte, region string) (aws.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return aws.Config{}, errors.New("moto proxy CA: no certificate in its PEM")
	}
	client := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = http.ProxyURL(proxy)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	})
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:  client,
	}, nil
}

// seed puts into moto what `copilot svc package` and `copilot env package` read about an
// application that has been deployed once: Copilot's SSM parameters for the application, the
// environment and each workload; the environment's stack; the application's StackSet with one
// instance in the region; and each published topic, tagged as Copilot tags it. The shapes
// follow Copilot v1.34.1 (internal/pkg/config and its app and environment templates).
func seed(ctx context.Context, cfg aws.Config, ws *workspace, env string) error {
	if err := seedSSM(ctx, ssm.NewFromConfig(cfg), ws, env, cfg.Region); err != nil {
		return fmt.Errorf("seed SSM parameters: %w", err)
	}
	cfn := cloudformation.NewFromConfig(cfg)
	if err := seedEnvStack(ctx, cfn, ws, env, cfg.Region); err != nil {
		return fmt.Errorf("seed environment stack: %w", err)
	}
	if err := seedAppStackSet(ctx, cfn, ws, cfg.Region); err != nil {
		return fmt.Errorf("seed application StackSet: %w", err)
	}
	if err := seedTopics(ctx, sns.NewFromConfig(cfg), ws, env); err != nil {
		return fmt.Errorf("seed topics: %w", err)
	}
	return nil
}

// seedSSM writes the parameters Copilot's store reads (internal/pkg/config: Application,
// Environment, Workload, as compact JSON).
func seedSSM(ctx context.Context, c *ssm.Client, ws *workspace, env, region string) error {
	app := ws.App
	params := []struct {
		name, desc string
		value      any
	}{
		{"/copilot/applications/" + app, "Copilot Application", map[string]string{
			"name": app, "account": account, "domain": "", "domainHostedZoneID": "", "version": "1.0",
		}},
		{"/copilot/applications/" + app + "/environments/" + env, "Copilot Environment", map[string]string{
			"app": app, "name": env, "region": region, "accountID": account, "registryURL": "",
			"executionRoleARN": iamRole(app + "-" + env + "-CFNExecutionRole"),
			"managerRoleARN":   iamRole(app + "-" + env + "-EnvManagerRole"),
		}},
	}
	for _, w := range ws.Workloads {
		desc := "Copilot Service"
		if w.isJob() {
			desc = "Copilot Job"
		}
		params = append(params, struct {
			name, desc string
			value      any
		}{"/copilot/applications/" + app + "/components/" + w.Name, desc, map[string]string{
			"app": app, "name": w.Name, "type": w.Type,
		}})
	}
	for _, p := range params {
		v, err := json.Marshal(p.value)
		if err != nil {
			return err
		}
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(p.name), Value: aws.String(string(v)), Description: aws.String(p.desc),
			Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
		}); err != nil {
			return fmt.Errorf("put %s: %w", p.name, err)
		}
	}
	return nil
}

// seedEnvStack creates a stand-in for the environment stack <app>-<env>: Copilot reads its
// Metadata.Version (which must be the CLI's), its parameters (which workloads use the load
// balancer, the service discovery endpoint) and its outputs (VPC, subnets, cluster, listener).
// Its only resource is a placeholder; the outputs are fixed fake values.
func seedEnvStack(ctx context.Context, c *cloudformation.Client, ws *workspace, env, region string) error {
	app := ws.App
	params := envStackParameters(ws, env)
	outputs := envStackOutputs(app, env, region, params)
	tmpl := map[string]any{
		"Description": "Stand-in for the Copilot environment stack, for tools/render.",
		"Metadata":    map[string]any{"Version": copilotVersion},
		"Parameters":  mapValues(params, func(string) any { return map[string]string{"Type": "String"} }),
		"Resources":   placeholder,
		"Outputs": mapValues(outputs, func(k string) any {
			// CloudFormation rejects an empty output value; Copilot reads " " as unset.
			if outputs[k] == "" {
				return map[string]any{"Value": " "}
			}
			return map[string]any{"Value": outputs[k], "Export": map[string]string{"Name": app + "-" + env + "-" + k}}
		}),
	}
	body, err := json.Marshal(tmpl)
	if err != nil {
		return err
	}
	in := &cloudformation.CreateStackInput{
		StackName:    aws.String(app + "-" + env),
		TemplateBody: aws.String(string(body)),
		Tags: []cfntypes.Tag{
			{Key: aws.String("copilot-application"), Value: aws.String(app)},
			{Key: aws.String("copilot-environment"), Value: aws.String(env)},
		},
	}
	for _, k := range sortedKeys(params) {
		in.Parameters = append(in.Parameters, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(params[k])})
	}
	if _, err := c.CreateStack(ctx, in); err != nil {
		return fmt.Errorf("create stack %s: %w", *in.StackName, err)
	}
	return nil
}

// envStackParameters are the parameters of the environment stack that workloads' templates
// depend on (templates/environment/cf.yml). A Copilot environment has no HTTPS listener
// without a domain or certificates, and this workspace's environments declare neither.
func envStackParameters(ws *workspace, env string) map[string]string {
	return map[string]string{
		"AppName": ws.App, "EnvironmentName": env,
		"ALBWorkloads": strings.Join(ws.loadBalanced(), ","), "InternalALBWorkloads": "",
		"EFSWorkloads": "", "NATWorkloads": "", "AppRunnerPrivateWorkloads": "",
		"ToolsAccountPrincipalARN": "arn:aws:iam::" + account + ":root",
		"AppDNSName":               "", "AppDNSDelegationRole": "", "Aliases": "",
		"CreateHTTPSListener": "false", "CreateInternalHTTPSListener": "false",
		"ServiceDiscoveryEndpoint": env + "." + ws.App + ".local",
	}
}

// envStackOutputs are the environment stack's outputs, with fake ids of the right shapes.
func envStackOutputs(app, env, region string, p map[string]string) map[string]string {
	lb := app + "-Publi-XXXX"
	return map[string]string{
		"VpcId":                        "vpc-0123456789abcdef0",
		"PublicSubnets":                "subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa2",
		"PrivateSubnets":               "subnet-0bbbbbbbbbbbbbbb1,subnet-0bbbbbbbbbbbbbbb2",
		"InternetGatewayID":            "igw-0123456789abcdef0",
		"PublicRouteTableID":           "rtb-0123456789abcdef0",
		"PrivateRouteTableIDs":         "rtb-0123456789abcdef1,rtb-0123456789abcdef2",
		"ServiceDiscoveryNamespaceID":  "ns-abcdefghijklmnop",
		"EnvironmentSecurityGroup":     "sg-0123456789abcdef0",
		"PublicLoadBalancerDNSName":    lb + "-1234567890." + region + ".elb.amazonaws.com",
		"PublicLoadBalancerFullName":   "app/" + lb + "/0123456789abcdef",
		"PublicLoadBalancerHostedZone": "Z35SXDOTRQ7X7K",
		"HTTPListenerArn":              "arn:aws:elasticloadbalancing:" + region + ":" + account + ":listener/app/" + lb + "/0123456789abcdef/0123456789abcdef",
		"DefaultHTTPTargetGroupArn":    "arn:aws:elasticloadbalancing:" + region + ":" + account + ":targetgroup/" + app + "-D-XXXX/0123456789abcdef",
		"ClusterId":                    app + "-" + env + "-Cluster-XXXXXXXX",
		"EnvironmentManagerRoleARN":    iamRole(app + "-" + env + "-EnvManagerRole"),
		"CFNExecutionRoleARN":          iamRole(app + "-" + env + "-CFNExecutionRole"),
		// As the template computes it, so it agrees with the parameters above.
		"EnabledFeatures": strings.Join([]string{p["ALBWorkloads"], p["InternalALBWorkloads"], p["EFSWorkloads"],
			p["NATWorkloads"], p["Aliases"], p["AppRunnerPrivateWorkloads"]}, ","),
		"PublicALBAccessible": "true",
		"LastForceDeployID":   "",
	}
}

// seedAppStackSet creates a stand-in for the application's StackSet <app>-infrastructure with
// one instance in the region, whose outputs Copilot reads as the regional resources: the KMS
// key and bucket for artifacts and an ECR repository per workload (templates/app/cf.yml).
func seedAppStackSet(ctx context.Context, c *cloudformation.Client, ws *workspace, region string) error {
	app := ws.App
	outputs := map[string]string{
		"KMSKeyARN":       "arn:aws:kms:" + region + ":" + account + ":key/11111111-2222-3333-4444-555555555555",
		"PipelineBucket":  "stackset-" + app + "-infrastr-pipelinebuiltartifactbuc-abcdefghijkl",
		"TemplateVersion": "v1.2.0",
		"StackSetOpId":    "1",
	}
	for _, w := range ws.Workloads {
		outputs["ECRRepo"+w.Name] = "arn:aws:ecr:" + region + ":" + account + ":repository/" + app + "/" + w.Name
	}
	tmpl := map[string]any{
		"Description": "Stand-in for Copilot's application regional resources, for tools/render.",
		"Metadata":    map[string]any{"TemplateVersion": "v1.2.0", "Version": 1, "Services": ws.names(), "Accounts": []string{account}},
		"Resources":   placeholder,
		"Outputs":     mapValues(outputs, func(k string) any { return map[string]string{"Value": outputs[k]} }),
	}
	body, err := json.Marshal(tmpl)
	if err != nil {
		return err
	}
	name := aws.String(app + "-infrastructure")
	if _, err := c.CreateStackSet(ctx, &cloudformation.CreateStackSetInput{
		StackSetName: name, TemplateBody: aws.String(string(body)),
		PermissionModel:       cfntypes.PermissionModelsSelfManaged,
		AdministrationRoleARN: aws.String(iamRole(app + "-adminrole")),
		ExecutionRoleName:     aws.String(app + "-executionrole"),
	}); err != nil {
		return fmt.Errorf("create stack set %s: %w", *name, err)
	}
	if _, err := c.CreateStackInstances(ctx, &cloudformation.CreateStackInstancesInput{
		StackSetName: name, Accounts: []string{account}, Regions: []string{region},
	}); err != nil {
		return fmt.Errorf("create stack instance of %s in %s: %w", *name, region, err)
	}
	return nil
}

// seedTopics creates each published topic as its service's stack would have, with the tags
// a worker's `subscribe.topics` is checked against (ResourceGroupsTaggingAPI GetResources).
func seedTopics(ctx context.Context, c *sns.Client, ws *workspace, env string) error {
	for _, w := range ws.Workloads {
		for _, t := range w.Topics {
			name := ws.App + "-" + env + "-" + w.Name + "-" + t
			if _, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Tags: []snstypes.Tag{
				{Key: aws.String("copilot-application"), Value: aws.String(ws.App)},
				{Key: aws.String("copilot-environment"), Value: aws.String(env)},
				{Key: aws.String("copilot-service"), Value: aws.String(w.Name)},
			}}); err != nil {
				return fmt.Errorf("create topic %s: %w", name, err)
			}
		}
	}
	return nil
}

// placeholder is the one resource of a stand-in stack: a template needs one.
var placeholder = map[string]any{"Placeholder": map[string]string{"Type": "AWS::CloudFormation::WaitConditionHandle"}}

func iamRole(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// mapValues maps each key of m to f(key).
func mapValues(m map[string]string, f func(string) any) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = f(k)
	}
	return out
}
