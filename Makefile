# edgeagent — `make run` starts the agent (a demo when nothing is configured),
# `make test` runs every test. Both work on a fresh Debian machine with Go.

GO      ?= go
PKGS    ?= ./...
# testcontainers' reaper image cannot be pulled without a registry; our
# tests remove their own containers.
export TESTCONTAINERS_RYUK_DISABLED ?= true

# Lint tools are pinned by go.mod's tool directives; `go tool` builds them
# once and runs them from the build cache.
STATICCHECK = $(GO) tool staticcheck
# Cooperative-scheduling checks (loop/loopvet); exits non-zero on a finding.
LOOPVET     = $(GO) tool loopvet

.PHONY: all build run test test-short bench lint fuzz clean

all: lint test

build:
	$(GO) build -o bin/edgeagent ./cmd/edgeagent

run:
	$(GO) run ./cmd/edgeagent demo

# Every test, with the race detector.
test:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Unit tests only (no containers, no child processes that need a build).
test-short:
	$(GO) test -race -count=1 -short $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# go.mod and go.sum must be tidy: every requirement used, none missing, the
# direct ones not marked indirect (go mod tidy -diff prints what it would change).
lint:
	@out=$$(gofmt -l . 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; exit 1; }
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	$(LOOPVET) $(PKGS)

# Runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
