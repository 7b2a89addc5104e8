# vggnb: make test (whole suite), make run (main job), make bench, make fuzz.
# scripts/test.sh and scripts/run.sh install the dependencies first (Debian).

GO ?= go
PYTHON ?= /usr/bin/python3
export VGGNB_PYTHON ?= $(PYTHON)
export GOFLAGS ?= -buildvcs=false
# The pure-Go backend's SIMD matmul (about 20x faster) needs this experiment.
export GOEXPERIMENT ?= simd
OUT ?= out

.PHONY: all build vet test test-short run bench fuzz clean

all: build

build:
	$(GO) build ./...

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# The whole suite, fixtures included (the Keras layout fixtures are generated with
# h5py on first use, ~2 GB in $TMPDIR, reused by later runs).
test: vet
	$(GO) test -count=1 -timeout 30m ./...

test-short: vet
	$(GO) test -short -count=1 ./...

# Main job. Until the flagship notebook lands (issue "kernel/, display/ ..."), it
# loads SYNTHETIC VGG19 weights in the published Keras layout, measures the load
# paths against h5py and writes the report to $(OUT)/report.html.
run:
	@mkdir -p $(OUT)
	$(GO) run ./bench/weightsload -python $(PYTHON) | tee $(OUT)/weightsload.txt
	@{ echo '<!doctype html><meta charset="utf-8"><title>vggnb report</title>'; \
	   echo '<h1>vggnb: VGG19 weight loading</h1>'; \
	   echo '<p><b>SYNTHETIC WEIGHTS</b>: deterministic random values in the published Keras file layout, not ImageNet weights.</p><pre>'; \
	   sed 's/&/\&amp;/g; s/</\&lt;/g' $(OUT)/weightsload.txt; echo '</pre>'; } > $(OUT)/report.html
	@echo "report: $(OUT)/report.html"

bench:
	$(GO) run ./bench/weightsload -python $(PYTHON)
	$(GO) test -run XXX -bench . -benchtime 5x ./weights

fuzz:
	$(GO) test -run XXX -fuzz FuzzRead -fuzztime 60s ./weights

clean:
	rm -rf $(OUT)
