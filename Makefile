# rt — build, test, benchmark and demo. `make demo` and `make test` do all the
# set-up a fresh Debian machine needs (run them as root).
GO       ?= go
BIN      ?= bin
PREFIX   ?= /usr/local
CONFDIR  ?= /etc/rt
PKG      := github.com/rtkit/rt
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
# rt-init links libseccomp statically: `rt features` reports its version.
LIBSECCOMP ?= $(shell pkg-config --modversion libseccomp 2>/dev/null)
LDFLAGS  := -s -w -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.Commit=$(COMMIT) \
	-X $(PKG)/pkg/version.Libseccomp=$(LIBSECCOMP)
# Test flags: `make test TESTFLAGS='-run Lifecycle -v'`.
TESTFLAGS ?=
# Extra Go build tags, for test builds only: test/security's positive
# controls build with rt_nodefence (harness.BuildWithTags), which turns the
# race defences off, and test/crash with rt_killpoints, which lets
# $RT_KILLPOINT SIGKILL rt at a named step. Never ship such a build.
TAGS     ?=
comma    := ,
SOURCES  := $(shell find cmd pkg \( -name '*.go' -not -name '*_test.go' \) -o -name '*.c' -o -name '*.h' 2>/dev/null) go.mod go.sum

.PHONY: man all deps build test stress unit fuzz lint bench install demo clean

all: build

# deps installs the Debian packages the project needs and a working CRIU.
deps:
	@scripts/deps.sh

build: $(BIN)/rt $(BIN)/rt-checkpoint $(BIN)/rt-init

# rt and rt-checkpoint are static: no dynamic loader on every call.
$(BIN)/rt $(BIN)/rt-checkpoint: $(SOURCES)
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $@ ./cmd/$(notdir $@)

# rt-init is static too (libseccomp.a, glibc): it starts with every container
# and exec, and the dynamic loader cost ~0.5-1 ms of each (docs/performance.md).
# netgo and osusergo keep glibc's NSS, which cannot work statically, out.
$(BIN)/rt-init: $(SOURCES)
	$(GO) build -trimpath -tags 'netgo,osusergo$(if $(TAGS),$(comma)$(TAGS))' \
		-ldflags '$(LDFLAGS) -linkmode external -extldflags -static' -o $@ ./cmd/rt-init

# staticcheck and deadcode are pinned; the module proxy serves them (built
# once, then cached).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE ?= golang.org/x/tools/cmd/deadcode@v0.52.0

lint:
	@test -z "$$(gofmt -l cmd pkg test)" || { echo "gofmt needed:"; gofmt -l cmd pkg test; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags rt_nodefence ./...
	$(GO) vet -tags rt_killpoints ./...
	$(GO) vet -tags rt_man ./pkg/cli ./cmd/...
	$(GO) run $(STATICCHECK) ./...
	@dead="$$($(GO) run $(DEADCODE) -test ./...)"; test -z "$$dead" || { echo "deadcode:"; echo "$$dead"; exit 1; }

# test runs the whole suite: unit tests and the integration tests, which
# build the binaries themselves and need root. A test skipped for a reason
# not listed in test/host-limits.txt fails the run (test/skipcheck).
test: deps build lint
	$(GO) run ./test/skipcheck -allow test/host-limits.txt -- -count=1 -timeout 20m $(TESTFLAGS) ./...

# stress first runs STRESS_CONTAINERS containers (default 5000) through rt,
# runc and crun each, STRESS_WORKERS (8) at a time: create, start, exec,
# kill, delete; it prints containers/s and each step's p50/p99/max latency
# and fails if rt left a cgroup, mount, state entry, process or fd behind
# (test/bench/stress.go; make test runs 200 of rt's). Then test/security's
# race tests (TestRace*: a container swapping a shared path while another
# is created) with 5000 victims each where make test runs 200, to find a
# window a short run misses; RT_STRESS=N runs N. Then test/crash's kill
# sweep, each step three times and the delays finely (any RT_STRESS). It
# takes over an hour and a half on 2 CPUs, and needs root, as test does.
RT_STRESS ?= 1
STRESS_CONTAINERS ?= 5000
STRESS_WORKERS ?= 8
stress: deps build
	$(GO) run ./test/bench -only stress -stress-containers $(STRESS_CONTAINERS) -stress-workers $(STRESS_WORKERS) -rt $(abspath $(BIN))/rt
	RT_STRESS=$(RT_STRESS) $(GO) run ./test/skipcheck -allow test/host-limits.txt -- -count=1 -timeout 6h -v -run '^TestRace' $(TESTFLAGS) ./test/security/
	RT_STRESS=$(RT_STRESS) $(GO) run ./test/skipcheck -allow test/host-limits.txt -- -count=1 -timeout 2h $(TESTFLAGS) ./test/crash/

unit:
	$(GO) test -count=1 ./pkg/...

# fuzz runs every Go fuzz target of pkg/ (each func Fuzz… in a _test.go,
# found by scripts/fuzz.sh) for FUZZTIME, one after the other: go test
# fuzzes one target per run. A failure leaves its input in the package's
# testdata/fuzz/<target>/: fix the code and commit the file as a regression
# seed, which plain go test (make unit) then runs. FUZZ picks targets by a
# regexp (make fuzz FUZZ=store); FUZZFLAGS adds go test flags, such as
# -parallel 1 on a shared machine. At the end test/fuzzmerge moves the
# inputs the fuzzer found that cover something new from the build cache
# into testdata/fuzz/ (FUZZMERGE=0 skips it): commit them, the corpus.
FUZZTIME ?= 60s
FUZZ ?=
FUZZFLAGS ?=
FUZZMERGE ?= 1
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZFLAGS='$(FUZZFLAGS)' FUZZMERGE=$(FUZZMERGE) scripts/fuzz.sh '$(FUZZ)'

bench: deps build
	$(GO) run ./test/bench -rt $(abspath $(BIN))/rt

# man writes a man page per command of rt and rt-checkpoint (section 8) from
# their cobra commands, with a build tag that keeps the generator out of the
# release binaries.
man:
	rm -rf $(BIN)/man && mkdir -p $(BIN)/man
	$(GO) run -tags rt_man ./cmd/rt gen-man $(BIN)/man
	$(GO) run -tags rt_man ./cmd/rt-checkpoint gen-man $(BIN)/man

install: build man
	install -D -m 0755 $(BIN)/rt $(DESTDIR)$(PREFIX)/bin/rt
	install -D -m 0755 $(BIN)/rt-checkpoint $(DESTDIR)$(PREFIX)/bin/rt-checkpoint
	install -D -m 0755 $(BIN)/rt-init $(DESTDIR)$(PREFIX)/bin/rt-init
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(BIN)/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	$(BIN)/rt completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rt
	$(BIN)/rt-checkpoint completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rt-checkpoint
	@if [ -e $(DESTDIR)$(CONFDIR)/config.yaml ]; then \
		echo "keeping existing $(DESTDIR)$(CONFDIR)/config.yaml (the default is in configs/config.yaml)"; \
	else \
		install -D -m 0644 configs/config.yaml $(DESTDIR)$(CONFDIR)/config.yaml; \
	fi

demo: deps build
	@scripts/demo.sh $(abspath $(BIN))

clean:
	rm -rf $(BIN)
