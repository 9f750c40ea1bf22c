# parley — the two set-up commands are `make demo` and `make test`.
# Everything builds with CMake into build/ (release) and build-asan/
# (AddressSanitizer + UndefinedBehaviorSanitizer).

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# The tests' seed: a fresh one per `make` run, printed, so every run tries new
# inputs; `make test PARLEY_TEST_SEED=N` replays a run (README, "Tests").
# PARLEY_TEST_ITERS=K multiplies the randomized cases' trials.
ifndef PARLEY_TEST_SEED
PARLEY_TEST_SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
export PARLEY_TEST_SEED
SEED_NOTE = @echo "test seed $(PARLEY_TEST_SEED) (replay: make $@ PARLEY_TEST_SEED=$(PARLEY_TEST_SEED))"

.PHONY: all deps build test test-slow demo asan test-asan fuzz install clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

test: build
	$(SEED_NOTE)
	@cd build && ctest -j $(JOBS) --output-on-failure -LE slow

# Cases labelled slow (e.g. every layer shape of the ImageNet networks).
test-slow: build
	$(SEED_NOTE)
	@cd build && ctest -j $(JOBS) --output-on-failure -L slow

demo: build
	@scripts/demo

# The library (libparley.so), its header, parley.pc and the parley command
# under PREFIX (docs/API.md).
PREFIX ?= /usr/local
install: build
	@cmake --install build --prefix "$(PREFIX)"

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)

test-asan: asan
	$(SEED_NOTE)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest -j $(JOBS) --output-on-failure -LE "slow|timing"

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DPARLEY_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf build build-asan build-fuzz
