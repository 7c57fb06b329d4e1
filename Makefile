# The three commands of the README. CMake does the real work; this file only wraps it.
#   make run    install what is missing, build, start the demo service on 127.0.0.1:8888
#   make run-gateway  three demo instances on 127.0.0.1:8001-8003 behind czero-gateway on :8080
#   make test   install what is missing, build, run every test (release + ASan/UBSan + fuzz)
#   make bench  side-by-side benchmark against nginx and Go; writes docs/benchmarks.md
#   make fuzz   a fuzzing campaign with persistent corpora (not part of make test; see
#               docs/fuzzing.md): FUZZ_TIME=s or FUZZ_RUNS=n per target, FUZZ_TARGETS="http ..."
JOBS ?= $(shell nproc)
BUILD ?= build
PREFIX ?= /usr/local

.PHONY: all deps build run run-gateway test bench fuzz install clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/czero-demo -f etc/demo.yaml

run-gateway: build
	@bash scripts/run-gateway.sh $(BUILD)

test: deps
	@bash scripts/test.sh

bench: build
	@bash bench/run.sh $(BUILD)

fuzz: deps
	@bash scripts/fuzz.sh

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
