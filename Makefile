# The three commands of the README. CMake does the real work; this file only wraps it.
#   make run    install what is missing, build, start the demo service on 127.0.0.1:8888 and,
#               over TLS, https://localhost:8443 (a self-signed certificate made on the first
#               run in .czero/tls/: scripts/demo-cert.sh)
#   make run-gateway  three demo instances on 127.0.0.1:8001-8003 behind czero-gateway on :8080
#               (ports: GATEWAY_PORT, GATEWAY_DEV_PORT, DEMO_PORTS, DEMO_DEV_PORTS; scripts/run-gateway.sh)
#   make test   install what is missing, build, run every test (release + ASan/UBSan + fuzz)
#   make bench  side-by-side benchmark against nginx and Go; writes docs/benchmarks.md
#   make bench-overload  only its overload section (goodput with shedding on/off at 2x load)
#   make bench-tls  only its TLS section (czero-tls vs nginx ssl: keep-alive HTTPS, handshakes/s)
#   make fuzz   a fuzzing campaign with persistent corpora (not part of make test; see
#               docs/fuzzing.md): FUZZ_TIME=s or FUZZ_RUNS=n per target, FUZZ_TARGETS="http ..."
# The build prints one line unless it fails (V=1: all of it); BUILD and BUILD_TYPE pick the
# directory and CMAKE_BUILD_TYPE.
JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local

.PHONY: all deps build run run-gateway test bench bench-overload bench-tls fuzz install clean

all: build

deps:
	@bash scripts/deps.sh

# Quiet unless it fails: the build's output goes to $(BUILD)/build.log and is shown (without
# the progress and directory lines) only when it fails; V=1 shows all of it as it comes.
build: deps
ifeq ($(V),1)
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j $(JOBS)
else
	@mkdir -p $(BUILD)
	@echo "make: building in $(BUILD)/ (output in $(BUILD)/build.log; make V=1 shows it)"
	@{ cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) && \
	   cmake --build $(BUILD) -j $(JOBS); } > $(BUILD)/build.log 2>&1 || { \
	  grep -v -E '^\[ *[0-9]+%\]|^g?make\[[0-9]+\]: (Entering|Leaving) directory' $(BUILD)/build.log; \
	  echo "make: the build failed; the lines above are from $(BUILD)/build.log" >&2; exit 1; }
endif

run: build
	@bash scripts/demo-cert.sh .czero/tls
	@echo "make run: the demo on http://127.0.0.1:8888 and https://localhost:8443 (dev: 127.0.0.1:6060)"
	@echo "make run: try curl -s localhost:8888/hello, curl --cacert .czero/tls/cert.pem https://localhost:8443/hello"
	./$(BUILD)/czero-demo -f etc/demo.yaml

run-gateway: build
	@bash scripts/demo-cert.sh .czero/tls
	@bash scripts/run-gateway.sh $(BUILD)

test: deps
	@bash scripts/test.sh

bench: build
	@bash bench/run.sh $(BUILD)

bench-overload: build
	@bash bench/overload.sh $(BUILD) docs/benchmarks.md

bench-tls: build
	@bash bench/tls.sh $(BUILD) docs/benchmarks.md

fuzz: deps
	@bash scripts/fuzz.sh

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
