# The pubsub application: three Go services and their Copilot topology.
#   make run    the whole system on this machine, on an AWS emulator
#   make test   unit, integration and end-to-end tests (starts moto when needed)

GO      ?= go
VENV    ?= .venv
PYTHON3 ?= python3
MOTO    := $(VENV)/.moto-installed
CFNLINT := $(VENV)/.cfn-lint-installed
SERVICES := publisher fulfilment promotion

.PHONY: all build run test test-unit vet lint venv clean

all: build

## build: compile the three services into bin/
build:
	$(GO) build -trimpath -o bin/ $(addprefix ./cmd/,$(SERVICES)) ./cmd/dev

## venv: a Python virtual environment with moto server (the local AWS emulator) and cfn-lint
## (test/deploy lints copilot/*/addons/*.yml with it)
venv: $(MOTO) $(CFNLINT)
$(MOTO):
	$(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "moto[server]>=5.1"
	touch $@
$(CFNLINT): $(MOTO)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "cfn-lint>=1.0"
	touch $@

## run: provision copilot/'s resources on an emulator and run the services (Ctrl-C stops all)
run: build venv
	bin/dev run -python $(VENV)/bin/python

## test: vet, every test against an emulator (AWS_ENDPOINT_URL, else LocalStack via Docker, else
## moto), then each fuzz target for a short bounded time. Screenshots and other artifacts: test-output/
test: vet venv
	$(GO) build -o bin/ ./cmd/dev
	mkdir -p test-output
	bin/dev exec -python $(VENV)/bin/python -- $(GO) test -count=1 -timeout 15m -artifacts -outputdir $(CURDIR)/test-output ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=20000x

## test-unit: the tests that need no emulator (integration tests skip)
test-unit:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## lint: staticcheck
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...

clean:
	rm -rf bin

# --- Copilot operations
# They need the copilot CLI and the aws CLI (v2) with credentials for the account; see the
# README, "Deploying with Copilot". ENV is the Copilot environment, REGION its region, SVC a
# service (a worker for the dlq- targets).
APP     := pubsub
ENV     ?= test
REGION  ?= eu-west-1
COPILOT ?= copilot
AWS     ?= aws
WORKERS := fulfilment promotion

.PHONY: deploy logs dlq-show dlq-redrive

## deploy: create the app, environment ENV and the services when missing, then deploy them all
deploy:
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
check-worker = $(if $(filter $(SVC),$(WORKERS)),,$(error SVC must be a worker: make $@ SVC=fulfilment|promotion))
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
