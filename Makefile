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

.PHONY: all build run test test-short bench lint fuzz clean deb deb-test

all: lint test

build:
	$(GO) build -o bin/edgeagent ./cmd/edgeagent

run:
	$(GO) run ./cmd/edgeagent demo

# Every test, with the race detector, then the package checks.
test:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(MAKE) deb-test

# Unit tests only (no containers, no child processes that need a build).
test-short:
	$(GO) test -race -count=1 -short $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# go.mod and go.sum must be tidy: every requirement used, none missing, the
# direct ones not marked indirect (go mod tidy -diff prints what it would change).
# The packaging tools module gets the same checks, with the staticcheck that
# edgeagent's go.mod pins.
lint:
	@out=$$(gofmt -l . 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; exit 1; }
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	$(LOOPVET) $(PKGS)
	@cd $(PKGTOOLS) && $(GO) mod tidy -diff || { echo "$(PKGTOOLS)/go.mod is not tidy: run 'go mod tidy' there"; exit 1; }
	cd $(PKGTOOLS) && $(GO) vet ./...
	cd $(PKGTOOLS) && $$($(GO) -C $(CURDIR) tool -n staticcheck) ./...

# Runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin $(DIST)

# Debian packages. The builder and the checks live in their own module,
# packaging/tools, so nfpm's modules stay out of edgeagent's go.mod.
PKGTOOLS = packaging/tools
DIST    ?= dist

# edgeagent_<version>_{amd64,arm64,armhf}.deb in $(DIST)/.
deb:
	cd $(PKGTOOLS) && $(GO) run ./cmd/debbuild -root $(CURDIR) -out $(abspath $(DIST))

# The builder's unit tests, then the package checks (packaging/tools/debtest):
# lintian, reproducibility, systemd-analyze, install/upgrade/remove/purge in
# a clean Debian root, systemd in a container, the ARM binaries under qemu.
# The checks build their own packages; a missing tool fails under CI=true
# and skips elsewhere.
deb-test:
	cd $(PKGTOOLS) && $(GO) test -count=1 ./build/ && $(GO) test -count=1 -timeout 40m -v ./debtest/
