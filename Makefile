# callscope: build, test, benchmark. Every target is a thin wrapper over a
# command you can also run by hand; BENCHMARKS.md names the same commands.
#
#   make build        static binary ./callscope, version and commit from git
#   make test         scripts/test: gofmt, vet, templ check, go test -race ./...
#   make bench        the BENCHMARKS.md figures (about 5 minutes; see below)
#   make docker       the container image (needs a Docker engine)

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.Version=$(VERSION) -X main.Commit=$(COMMIT)

# Ingest load: BENCHMARKS.md records RATE=60000 DURATION=60s.
RATE     ?= 60000
DURATION ?= 60s

.PHONY: all build test bench bench-go bench-ingest bench-ingest-targets bench-two-ingests bench-search-10m bench-search-10m-load docker clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o callscope ./cmd/callscope
	./callscope version

test:
	scripts/test

# bench = the in-process benchmarks, then ingest under load as two
# processes (UDP and TCP), then two ingest processes sharing one database.
# The 10-million-row search figure needs a database built once (about an
# hour): make bench-search-10m-load, then make bench-search-10m.
bench: bench-go bench-ingest bench-two-ingests

bench-go:
	$(GO) test -run XX -bench PacketPath -benchtime 2s ./ingest
	$(GO) test -run XXX -bench ViewerRender -benchtime 3s ./viewer
	$(GO) test -run XXX -bench 'BenchmarkSearch$$' ./query

bench-ingest:
	RATE=$(RATE) DURATION=$(DURATION) scripts/bench-ingest.sh

# The targets of the ingest issue, one summary line each: UDP 60,000/s for
# 60 s quiet and with one core busy, TCP 60,000/s, a 100,000/s burst for
# 10 s, two ingests (about 10 minutes; reports in /tmp/ingest-targets.log).
bench-ingest-targets:
	scripts/ingest-targets.sh

bench-two-ingests:
	RATE=$(RATE) DURATION=$(DURATION) scripts/two-ingests.sh

bench-search-10m-load:
	CALLSCOPE_BENCH_LOAD=1 $(GO) test -run TestLoadBenchDatabase -timeout 2h ./query

bench-search-10m:
	CALLSCOPE_BENCH_DB=1 $(GO) test -run XXX -bench SearchBench -benchtime 50x ./query

docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t callscope:$(VERSION) .

clean:
	rm -f callscope hepload
