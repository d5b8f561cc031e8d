# regrelay — top-level entry points. `make demo` and `make test` install what is missing
# (deploy/install-deps.sh), build, and run.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 30
CMAKE_GEN  := -G Ninja

.PHONY: all deps build build-asan build-fuzz test test-fast demo fuzz fuzz-smoke bench clean

all: build

deps:
	@./deploy/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGRELAY_SANITIZE=ON -DREGRELAY_BENCH=OFF >/dev/null
	@cmake --build $(BUILD_ASAN)

build-fuzz: deps
	@CXX=clang++ cmake -S . -B $(BUILD_FUZZ) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGRELAY_FUZZ=ON >/dev/null
	@cmake --build $(BUILD_FUZZ)

# Each fuzz target for a bounded time, then ctest on the normal and the ASan+UBSan builds.
test: build build-asan build-fuzz
	./fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)
	ctest --test-dir $(BUILD) --output-on-failure
	ctest --test-dir $(BUILD_ASAN) --output-on-failure

# Only the normal build's tests (quick local loop).
test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure

demo: build
	@./deploy/demo.sh $(BUILD)

fuzz: build-fuzz
	./fuzz/run.sh $(BUILD_FUZZ) $${FUZZ_SECONDS:-600}

bench: build
	./bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
