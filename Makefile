# Loyalty app: developer tasks. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN       := bin/loyalty
IMAGE     ?= loyalty
BENCH     ?= .
BENCHFLAGS ?=
ARGS      ?=
FUZZTIME  ?= 60s

.PHONY: help run test bench bench-go drill build services-up services-down migrate fmt vet fuzz docker clean

help: ## List the targets
	@echo "Usage: make <target>"
	@echo
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Ports: PostgreSQL 127.0.0.1:$${PG_PORT:-54329}, Redis 127.0.0.1:$${REDIS_PORT:-63799} (override with PG_PORT / REDIS_PORT)."
	@echo 'Shell env for the local services: eval "$$(scripts/services.sh env)"'

run: ## Start services, build, migrate, seed the demo shop and run web + worker
	scripts/run.sh

test: ## Start services, then vet, gofmt check, go test -race, short fuzz (ARGS="-run X" passed to go test)
	scripts/test.sh $(ARGS)

bench: services-up ## Measure the real stack, print a table, write BENCHMARKS.md (ARGS="-quick" or "-duration 20s")
	scripts/with-env.sh go run ./cmd/bench $(ARGS)

drill: ## Reliability drills on a private PostgreSQL/Redis (.data/drill): faults, bad input, 2+2 processes (ARGS="-orders 4000")
	go run ./cmd/drill $(ARGS)

bench-go: services-up ## Run the Go micro-benchmarks (BENCH=regexp, BENCHFLAGS=extra go test flags)
	scripts/with-env.sh go test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCHFLAGS) ./...

build: ## Build bin/loyalty
	go build -o $(BIN) .

services-up: ## Start local PostgreSQL (127.0.0.1:54329) and Redis (127.0.0.1:63799)
	scripts/services.sh up

services-down: ## Stop the local PostgreSQL and Redis
	scripts/services.sh down

migrate: build services-up ## Apply database migrations (bin/loyalty migrate up)
	scripts/with-env.sh $(BIN) migrate up

fmt: ## gofmt all Go files
	gofmt -l -w $$(find . -type f -name '*.go' -not -path './.git/*' -not -path './.data/*' -not -path './vendor/*' -not -path '*/testdata/*')

vet: ## go vet ./...
	go vet ./...

fuzz: services-up ## Fuzz every target for FUZZTIME each (default 60s)
	scripts/with-env.sh scripts/fuzz.sh '$(FUZZTIME)'

docker: ## Build the container image (IMAGE=loyalty)
	docker build -t $(IMAGE) .

clean: ## Stop the services, delete their data (.data) and bin/
	-scripts/services.sh destroy
	rm -rf .data bin
