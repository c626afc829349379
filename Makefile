# The pubsub application: three Go services and their Copilot topology.
#   make run    the whole system on this machine, on an AWS emulator
#   make test   unit, integration and end-to-end tests (starts moto when needed)

GO      ?= go
VENV    ?= .venv
PYTHON3 ?= python3
MOTO    := $(VENV)/.moto-installed
SERVICES := publisher fulfilment promotion

.PHONY: all build run test test-unit vet lint venv clean

all: build

## build: compile the three services into bin/
build:
	$(GO) build -trimpath -o bin/ $(addprefix ./cmd/,$(SERVICES)) ./cmd/dev

## venv: a Python virtual environment with moto server (the local AWS emulator)
venv: $(MOTO)
$(MOTO):
	$(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "moto[server]>=5.1"
	touch $@

## run: provision copilot/'s resources on an emulator and run the services (Ctrl-C stops all)
run: build venv
	bin/dev run -python $(VENV)/bin/python

## test: vet, then every test against an emulator (AWS_ENDPOINT_URL, else LocalStack via Docker, else moto)
test: vet venv
	$(GO) build -o bin/ ./cmd/dev
	bin/dev exec -python $(VENV)/bin/python -- $(GO) test -count=1 -timeout 15m ./...

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
