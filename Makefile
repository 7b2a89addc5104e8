# vggnb: make test (whole suite), make run (main job), make bench, make fuzz.
# scripts/test.sh and scripts/run.sh install the dependencies first (Debian).

GO ?= go
PYTHON ?= /usr/bin/python3
export VGGNB_PYTHON ?= $(PYTHON)
export GOFLAGS ?= -buildvcs=false
# The pure-Go backend's SIMD matmul (about 20x faster) needs this experiment.
export GOEXPERIMENT ?= simd
OUT ?= out

.PHONY: all build vet test test-nosimd test-race test-short browser-test run notebooks bench fuzz docker-test clean

all: build

build:
	$(GO) build ./...

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	GOEXPERIMENT= $(GO) vet ./...

# Builds without GOEXPERIMENT=simd use the portable kernels: they must agree too.
test-nosimd:
	GOEXPERIMENT= $(GO) test -count=1 ./gomlx_vgg/internal/kernels

# The race detector on what runs concurrently: a model and its Truncate() on the
# native kernels, the notebook runner's parallel runs. (Tests that go through the
# GoMLX graph are left out: compute v0.1.6's matmul packing fails checkptr.)
test-race:
	$(GO) test -race -count=1 -run 'TestTruncateSharesTheLock|TestNilAndZeroValues' ./gomlx_vgg
	$(GO) test -race -count=1 -run 'TestRunInterruptEndsEverything|TestRunConcurrentSameName' ./kernel

# The whole suite, fixtures included (the Keras layout fixtures are generated with
# h5py on first use, ~2 GB in $TMPDIR, reused by later runs), the PyTorch fidelity
# checks and the flagship notebook run through Jupyter.
test: vet test-nosimd test-race
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) browser-test

# The notebooks as a person sees them: Jupyter Notebook in Debian's Chromium
# (puppeteer-core), Run All, then each code cell alone after a kernel restart.
# Fails on error outputs, outputs wider than the column, images that did not
# load, folded outputs. Screenshots and per-cell times: $(OUT)/browser.
browser-test:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/vggnb ./cmd/vggnb-graphviz
	bin/vggnb kernel install
	OUT=$(OUT) bash scripts/browser-test.sh

test-short: vet
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

# The notebooks are generated from their Go sources in notebooks/src.
notebooks:
	$(GO) run ./notebooks/gen

bench:
	$(GO) run ./bench/weightsload -python $(PYTHON)
	$(GO) run ./bench/mlp -python $(PYTHON)
	$(GO) run ./bench/vgg -python $(PYTHON)
	$(GO) run ./bench/transfer -python $(PYTHON)
	$(GO) run ./bench/serve
	$(GO) test -run XXX -bench . -benchtime 5x ./weights ./gomlx_vgg/internal/kernels

fuzz:
	$(GO) test -run XXX -fuzz FuzzRead -fuzztime 60s ./weights

# The CPU image (docker/Dockerfile), checked as a class uses it and with the
# README's two commands inside (docker/test.sh; ~1 hour, not part of make test).
docker-test:
	bash docker/test.sh

# Binder builds binder/Dockerfile: docker/Dockerfile's stages plus Binder's.
binder/Dockerfile: docker/Dockerfile docker/binder.Dockerfile
	cat docker/Dockerfile docker/binder.Dockerfile > $@

clean:
	rm -rf $(OUT)
