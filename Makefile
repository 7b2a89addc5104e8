# vggnb: make test (whole suite), make run (main job), make bench, make fuzz.
# scripts/test.sh and scripts/run.sh install the dependencies first (Debian).

GO ?= go
PYTHON ?= /usr/bin/python3
export VGGNB_PYTHON ?= $(PYTHON)
export GOFLAGS ?= -buildvcs=false
# GoMLX's pure-Go backend runs its SIMD matmul (about 20x faster) with this
# experiment, which its compute v0.1.6 supports on Go 1.26 only (Go 1.27
# changed the archsimd API): on, where the go on PATH is 1.26. vggnb's own
# kernels are assembly chosen at run time and need no experiment.
GOVERSION := $(shell $(GO) env GOVERSION 2>/dev/null)
export GOEXPERIMENT ?= $(if $(filter go1.26%,$(GOVERSION)),simd,)
OUT ?= out
# The toolchains test-toolchains checks (the go command fetches them from the
# Go module proxy), and the CPUs test-arm64 emulates.
GO126 ?= go1.26.8
GO127 ?= go1.27.3
QEMU_CPUS ?= max cortex-a72

.PHONY: all build vet test test-k8s test-beam test-notebooks test-packages test-nosimd test-toolchains test-arm64 test-race test-short browser-test run run-go127 notebooks bench fuzz docker-test clean

all: build

build:
	$(GO) build ./...

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	GOEXPERIMENT= $(GO) vet ./...

# The kernels without the experiment (the assembly all the same) and with the
# purego tag (the portable Go): they must agree too.
test-nosimd:
	GOEXPERIMENT= $(GO) test -count=1 ./gomlx_vgg/internal/kernels
	GOEXPERIMENT= $(GO) test -count=1 -tags purego ./gomlx_vgg/internal/kernels

# Go 1.26 and Go 1.27, with and without GOEXPERIMENT=simd: the kernels'
# tests under all four (but the go on PATH without the experiment, which
# test-nosimd runs, and with the Makefile's, which the main go test runs);
# gomlx_vgg's short tests (two of the six fidelity cases) without the
# experiment under both (all of them with it under Go 1.26: `make test`
# itself), and the whole module's build and vet under Go 1.27.
# (gomlx_vgg with Go 1.27 + simd is left out: GoMLX compute v0.1.6 does not
# build there.)
test-toolchains:
	@set -e; for tc in $(GO126) $(GO127); do \
	  for exp in "" simd; do \
	    if [ "$$tc" = "$(GOVERSION)" ] && { [ -z "$$exp" ] || [ "$$exp" = "$(GOEXPERIMENT)" ]; }; then \
	      continue; \
	    fi; \
	    echo "== $$tc GOEXPERIMENT=$$exp: kernels"; \
	    GOTOOLCHAIN=$$tc GOEXPERIMENT=$$exp $(GO) vet ./gomlx_vgg/internal/kernels; \
	    GOTOOLCHAIN=$$tc GOEXPERIMENT=$$exp $(GO) test -count=1 ./gomlx_vgg/internal/kernels; \
	  done; \
	done
	@echo "== $(GO127): build and vet ./..."
	GOTOOLCHAIN=$(GO127) GOEXPERIMENT= $(GO) build ./...
	GOTOOLCHAIN=$(GO127) GOEXPERIMENT= $(GO) vet ./...
	@set -e; for tc in $(GO126) $(GO127); do \
	  echo "== $$tc GOEXPERIMENT=: gomlx_vgg -short"; \
	  GOTOOLCHAIN=$$tc GOEXPERIMENT= $(GO) test -short -count=1 ./gomlx_vgg; \
	done

# arm64: the whole module built and vetted for arm64, then the kernels' tests,
# cross-compiled and run under qemu-user on each of
# QEMU_CPUS (every NEON routine against the portable Go: the plain ARMv8.0
# Cortex-A72 shows no newer instruction crept in), and gomlx_vgg's (and the
# tape's) native-against-graph checks on the first of them (the NEON kernels
# against the portable GoMLX graph, its autodiff and the textbook convolution).
ARM64_GOMLX_VGG_TESTS = TestNativeMatchesGraph/vgg16/max|TestNativeMatchesGraph/vgg19/avg|TestConvolveMatchesIm2col|TestNativeRepacks
test-arm64:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "== arm64: build and vet ./... (the CLI and every package build there)"; \
	GOARCH=arm64 GOEXPERIMENT= $(GO) build ./...; \
	GOARCH=arm64 GOEXPERIMENT= $(GO) vet ./...; \
	GOARCH=arm64 GOEXPERIMENT= $(GO) test -c -o $$tmp/kernels.test ./gomlx_vgg/internal/kernels; \
	GOARCH=arm64 GOEXPERIMENT= $(GO) test -c -o $$tmp/gomlx_vgg.test ./gomlx_vgg; \
	GOARCH=arm64 GOEXPERIMENT= $(GO) test -c -o $$tmp/tape.test ./gomlx_vgg/tape; \
	for cpu in $(QEMU_CPUS); do \
	  echo "== arm64 (qemu -cpu $$cpu): kernels"; \
	  (cd gomlx_vgg/internal/kernels && qemu-aarch64-static -cpu $$cpu $$tmp/kernels.test -test.count=1); \
	done; \
	cpu=$(firstword $(QEMU_CPUS)); \
	echo "== arm64 (qemu -cpu $$cpu): gomlx_vgg"; \
	(cd gomlx_vgg && qemu-aarch64-static -cpu $$cpu $$tmp/gomlx_vgg.test -test.count=1 -test.run '$(ARM64_GOMLX_VGG_TESTS)'); \
	echo "== arm64 (qemu -cpu $$cpu): gomlx_vgg/tape"; \
	(cd gomlx_vgg/tape && qemu-aarch64-static -cpu $$cpu $$tmp/tape.test -test.count=1 -test.run 'TestTapeMatchesGraph')

# The race detector on what runs concurrently: a model and its Truncate() on the
# native kernels, the notebook runner's parallel runs, the convolutions' shared
# buffer of first-use Winograd kernels, the kernel gradient's workers. (Tests that go through the
# GoMLX graph are left out: compute v0.1.6's matmul packing fails checkptr.)
test-race:
	$(GO) test -race -count=1 -run 'TestTruncateSharesTheLock|TestNilAndZeroValues' ./gomlx_vgg
	$(GO) test -race -count=1 -run 'TestRunInterruptEndsEverything|TestRunConcurrentSameName' ./kernel
	$(GO) test -race -count=1 -run 'TestWino4Concurrent|TestWino4KernelKept|TestConv3x3Backward' ./gomlx_vgg/internal/kernels

# The whole suite, fixtures included (the Keras layout fixtures are generated with
# h5py on first use, ~2 GB in $TMPDIR, reused by later runs), the PyTorch fidelity
# checks and every notebook, executed once: the browser test's Run All, whose
# executed notebooks the kernel package's notebook tests then check.
# Two lines side by side (TEST_JOBS; their output interleaved by lines), each
# line's steps one after the other, of about the same length: the notebooks
# (the browser keeps about one core busy: Jupyter, GoNB's builds, Chromium),
# then the toolchains; and the packages, after the kernels' plain builds, arm64
# and the race detector.
EXECUTED = $(abspath $(OUT))/browser/executed
TEST_JOBS ?= 2
test: vet
	$(MAKE) --no-print-directory -j$(TEST_JOBS) test-notebooks test-packages

# The browser test, the kernel package's tests on the notebooks it executed,
# then test-toolchains. The notebooks' heavy cells run at CI's size
# (VGGNB_QUICK=1, see README.md; the packages' tests check what those cells
# claim at full size): make QUICK=0 test runs them at full size.
QUICK ?= 1
test-notebooks: export VGGNB_QUICK = $(QUICK)
test-notebooks: browser-test
	VGGNB_EXECUTED_NOTEBOOKS=$(EXECUTED) $(GO) test -count=1 -timeout 30m ./kernel
	$(MAKE) --no-print-directory test-toolchains

# Every package but the kernel (test-notebooks tests it), after test-nosimd,
# test-arm64, test-race and test-k8s.
test-packages:
	@set -e; for t in test-nosimd test-arm64 test-race test-k8s test-beam; do $(MAKE) --no-print-directory $$t; done
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v '/vggnb/kernel$$')

# The Kubernetes manifests (docker/k8s, a module of its own so that vggnb's
# does not depend on k8s.io/api), decoded strictly into the API's types.
test-k8s:
	cd docker/k8s && $(GO) vet ./... && $(GO) test -count=1 ./...

# The Apache Beam pipeline (beam/, a module of its own: Beam's Go SDK is about
# 90 modules, a few minutes' first build), run on Prism.
test-beam:
	cd beam && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m ./...

# The notebooks as a person sees them: Jupyter Notebook in Debian's Chromium
# (puppeteer-core), Run All, then each code cell alone after a kernel restart.
# Fails on error outputs, outputs wider than the column, images that did not
# load, folded outputs. Screenshots and per-cell times: $(OUT)/browser.
browser-test:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/vggnb ./cmd/vggnb-graphviz
	bin/vggnb kernel install
	OUT=$(OUT) bash scripts/browser-test.sh

test-short: vet test-k8s
	$(GO) test -short -count=1 ./...

# Main job: the flagship notebook, executed headless on the pure-Go backend
# through the vggnb GoNB kernel (installed first, pinned), to $(OUT)/report.html.
# Fails if any cell fails to compile, panics or errors.
NOTEBOOK ?= notebooks/01_vgg19_consistency.ipynb
run:
	@mkdir -p $(OUT) bin
	$(GO) build -o bin/ ./cmd/vggnb ./cmd/vggnb-graphviz
	bin/vggnb kernel install
	bin/vggnb kernel run --out $(OUT) $(NOTEBOOK)
	cp $(OUT)/$(basename $(notdir $(NOTEBOOK))).html $(OUT)/report.html
	@echo "report: $(OUT)/report.html"

# Notebook 01 through `vggnb kernel run` with Go 1.27 as the only Go on PATH.
run-go127:
	bash scripts/go127-notebook.sh

# The notebooks are generated from their Go sources in notebooks/src.
notebooks:
	$(GO) run ./notebooks/gen

bench:
	$(GO) run ./bench/weightsload -python $(PYTHON)
	$(GO) run ./bench/mlp -python $(PYTHON)
	$(GO) run ./bench/vgg -python $(PYTHON)
	$(GO) run ./bench/transfer -python $(PYTHON)
	$(GO) run ./bench/serve
	$(GO) run ./bench/dataset
	$(GO) test -run XXX -bench . -benchtime 5x ./weights ./gomlx_vgg/internal/kernels

fuzz:
	$(GO) test -run XXX -fuzz FuzzRead -fuzztime 60s ./weights
	$(GO) test -run XXX -fuzz FuzzModelFlags -fuzztime 60s ./cmd/vggnb

# The CPU image (docker/Dockerfile), checked as a class uses it and with the
# README's two commands inside (docker/test.sh; ~1 hour, not part of make test).
docker-test:
	bash docker/test.sh

# Binder builds binder/Dockerfile: docker/Dockerfile's stages plus Binder's.
binder/Dockerfile: docker/Dockerfile docker/binder.Dockerfile
	cat docker/Dockerfile docker/binder.Dockerfile > $@

clean:
	rm -rf $(OUT)
