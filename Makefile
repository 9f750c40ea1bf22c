# parley — the two set-up commands are `make demo` and `make test`.
# Everything builds with CMake into build/ (release) and build-asan/
# (AddressSanitizer + UndefinedBehaviorSanitizer).

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build test test-slow demo asan test-asan fuzz clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

test: build
	@cd build && ctest -j $(JOBS) --output-on-failure -LE slow

# Cases labelled slow (e.g. every layer shape of the ImageNet networks).
test-slow: build
	@cd build && ctest -j $(JOBS) --output-on-failure -L slow

demo: build
	@scripts/demo

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)

test-asan: asan
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest -j $(JOBS) --output-on-failure -LE slow

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DPARLEY_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf build build-asan build-fuzz
