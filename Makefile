# suiji — the commands a developer (and CI) needs. `make help` lists them.
#
# The real work is in deploy/local/*.sh, so that each step can be read, and
# run, without make.

# Extra arguments for go test in `make test` / `make bench`, e.g.
#   make test ARGS='-run TestReadyz ./mobile-api/...'
ARGS ?=

TOOLS_BIN := .tools/bin
GO_FILES = $(shell find . -name '*.go' -not -path './.tools/*' -not -path './var/*' -not -path './.git/*')

.DEFAULT_GOAL := help
.PHONY: help run test bench check build tools clean-data load faults

help: ## list the targets
	@echo "suiji — make targets:"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  make %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "  (ARGS='...' passes go test arguments to test and bench)"

# MinIO nodes of `make run`: 1, or MINIO_NODES=4 for a distributed,
# erasure-coded MinIO on 9000, 9100, 9200, 9300.
MINIO_NODES ?= 1
# How long `make load` loads (the set-up and the read-back come on top).
LOAD_DURATION ?= 3m

run: ## start FerretDB, MinIO, Redis and suiji on 127.0.0.1:8080 (data in var/); Ctrl-C stops all (MINIO_NODES=4: distributed MinIO)
	MINIO_NODES=$(MINIO_NODES) deploy/local/run.sh

test: ## isolated test stack + go test -race -count=1 ./... (ARGS='-run X ./storage/...')
	deploy/local/test.sh $(ARGS)

bench: ## the benchmarks, on the same isolated test stack, with their figures
	deploy/local/test.sh --bench $(ARGS)

load: ## the bounded load scenario (deploy/load, vegeta) on a stack of its own; figures to deploy/load/RESULTS.md (LOAD_DURATION=3m)
	LOAD_DURATION=$(LOAD_DURATION) deploy/local/load.sh

faults: ## the slow fault tests (kill -9 an instance mid-request, database restart, Redis failover) on the test stack
	deploy/local/test.sh -tags faults -run 'TestFaults' ./backend/cmd/suiji/

check: ## gofmt, go mod tidy, go vet, staticcheck and the OpenAPI lint (pinned)
	@deploy/local/tools.sh staticcheck redocly
	@echo "check: gofmt"
	@unformatted=$$(gofmt -l $(GO_FILES)); \
	if [ -n "$$unformatted" ]; then \
		echo "check: these files are not gofmt-formatted (run gofmt -w on them):"; \
		echo "$$unformatted" | sed 's/^/  /'; \
		exit 1; \
	fi
	@echo "check: go mod tidy"
	@go mod tidy -diff || { echo "check: go.mod/go.sum are not tidy (run go mod tidy)"; exit 1; }
	@echo "check: go vet"
	@go vet ./...
	@cd deploy/ferretdb && go vet ./...
	@cd deploy/load && go vet ./...
	@echo "check: staticcheck"
	@$(TOOLS_BIN)/staticcheck ./...
	@echo "check: OpenAPI lint (Redocly, recommended rules)"
	@go run ./backend/cmd/suiji openapi >.tools/openapi.json
	@NO_UPDATE_NOTIFIER=1 .tools/redocly/node_modules/.bin/redocly lint --config deploy/local/openapi-lint/redocly.yaml --format=stylish .tools/openapi.json
	@echo "check: all good"

build: ## build the suiji binary into .tools/bin/suiji
	go build -o $(TOOLS_BIN)/suiji ./backend/cmd/suiji

tools: ## build the pinned tools (MinIO, suiji-ferretdb, staticcheck) into .tools/bin
	deploy/local/tools.sh all

clean-data: ## delete var/ — the make run stack's data (stop make run first)
	rm -rf var/
