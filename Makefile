# The three commands of the README. CMake does the real work; this file only wraps it.
#   make run    install what is missing, build, start the demo service on 127.0.0.1:8888
#   make run-gateway  three demo instances on 127.0.0.1:8001-8003 behind czero-gateway on :8080
#   make test   install what is missing, build, run every test (release + ASan/UBSan + fuzz)
#   make bench  side-by-side benchmark against nginx and Go; writes docs/benchmarks.md
#   make bench-overload  only its overload section (goodput with shedding on/off at 2x load)
JOBS ?= $(shell nproc)
BUILD ?= build
PREFIX ?= /usr/local

.PHONY: all deps build run run-gateway test bench bench-overload install clean

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

bench-overload: build
	@bash bench/overload.sh $(BUILD) docs/benchmarks.md

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
