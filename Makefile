# shiplog — build, test, demo and benchmark.
#
#   make build   bin/shiplog
#   make test    go vet + every test against real MariaDB servers (needs mariadb-server)
#   make test-unit  the unit tests with -race, no servers (seconds)
#   make test-faults  the fault suite: cut, stalled, slow links; killed servers and shiplog
#   make demo    a live source -> destination sync on two local MariaDB servers
#   make bench   shiplog against mariadb-dump, mydumper and native replication
#   make bench-go  Go micro-benchmarks of the hot paths (no servers needed)

GO      ?= go
BIN     := bin/shiplog
PKGS    := ./...
# Extra flags for the benchmark driver, e.g. make bench BENCH_FLAGS="-rows 20000"
BENCH_FLAGS ?=

# CI=true is passed through to the tests when it is set.
export CI

.PHONY: all build test test-unit test-faults demo bench bench-go fmt vet clean deps-mariadb deps-bench

all: build

build:
	$(GO) build -o $(BIN) ./cmd/shiplog

# The server tests run in parallel, each on its own servers (in /dev/shm when
# it has room, see internal/testenv); TEST_PARALLEL bounds how many at once in
# each package. Measured for make test on 2 cores shared with other work:
# 4: 2m05, 8: 1m33-1m45, 16: 1m39.
TEST_PARALLEL ?= 8

test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 40m -parallel $(TEST_PARALLEL) $(PKGS)

# Unit tests only: no server is started (the tests that need one carry the
# build constraint !unit), with the race detector. Under 30 s once built.
test-unit:
	$(GO) test -tags unit -race -count=1 $(PKGS)

# The fault suite: a TCP proxy in front of the source, the destination and
# Kafka cuts, stalls and delays connections under load; servers and shiplog
# are killed. See cmd/shiplog/faults_test.go.
test-faults:
	$(GO) test -tags faults -count=1 -timeout 30m -run 'TestFault' -v ./cmd/shiplog/

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -s -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')

clean:
	rm -rf bin .bench
	$(GO) clean -testcache

# MariaDB's server binaries are needed by the demo, the benchmark and the tests.
# They are installed with apt-get when running as root; otherwise we say how.
deps-mariadb:
	@if command -v mariadbd >/dev/null 2>&1 || test -x /usr/sbin/mariadbd; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "installing mariadb-server with apt-get"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mariadb-server mariadb-client; \
	else \
		echo "mariadbd not found. Install it first, as root:"; \
		echo "    apt-get update && apt-get install -y --no-install-recommends mariadb-server mariadb-client"; \
		exit 1; \
	fi

# The benchmark also wants sysbench (required) and mydumper (optional baseline).
deps-bench: deps-mariadb
	@if command -v sysbench >/dev/null 2>&1 && command -v mydumper >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "installing sysbench and mydumper with apt-get"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sysbench mydumper || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sysbench; \
	elif ! command -v sysbench >/dev/null 2>&1; then \
		echo "sysbench not found. Install it first, as root:"; \
		echo "    apt-get update && apt-get install -y --no-install-recommends sysbench mydumper"; \
		exit 1; \
	fi

demo: deps-mariadb
	$(GO) run ./internal/demo

bench: deps-bench
	$(GO) run ./internal/bench $(BENCH_FLAGS)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...
