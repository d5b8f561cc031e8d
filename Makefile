# regrelay — top-level entry points. `make demo` and `make test` install what is missing
# (deploy/install-deps.sh), build, and run.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_O3   ?= build-o3
FUZZ_SECONDS ?= 30
CMAKE_GEN  := -G Ninja

.PHONY: all deps build build-asan build-fuzz build-o3 test test-fast test-vm test-package deb demo fuzz fuzz-smoke bench clean

all: build

deps:
	@./deploy/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGRELAY_WERROR=ON >/dev/null
	@cmake --build $(BUILD)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGRELAY_SANITIZE=ON -DREGRELAY_BENCH=OFF -DREGRELAY_WERROR=ON >/dev/null
	@cmake --build $(BUILD_ASAN)

build-fuzz: deps
	@CXX=clang++ cmake -S . -B $(BUILD_FUZZ) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGRELAY_FUZZ=ON -DREGRELAY_WERROR=ON >/dev/null
	@cmake --build $(BUILD_FUZZ)

# An optimised build as a packager would make it (Release is -O3, with Debian's hardening flags
# and _FORTIFY_SOURCE), with -Werror: optimiser-only warnings cannot come back unnoticed. Only
# its unit tests run (the other tests run on the builds above).
O3_FLAGS := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -Wformat -Werror=format-security
build-o3: deps
	@cmake -S . -B $(BUILD_O3) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=$(O3_FLAGS)" -DREGRELAY_BENCH=OFF -DREGRELAY_WERROR=ON >/dev/null
	@cmake --build $(BUILD_O3)

# Each fuzz target for a bounded time, the -O3 build's unit tests, then ctest on the normal and
# the ASan+UBSan builds.
test: build build-asan build-fuzz build-o3
	./fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)
	$(BUILD_O3)/tests/regrelay_unit_tests --gtest_brief=1
	ctest --test-dir $(BUILD) --output-on-failure
	ctest --test-dir $(BUILD_ASAN) --output-on-failure
	@$(MAKE) --no-print-directory test-package

# Only the normal build's tests (quick local loop).
test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure

# Only the VM test (tests/vm.cmake, docs/vm-test.md): a VLAN-filtering bridge in a QEMU VM booting
# Debian's kernel, about 4.5 minutes under TCG emulation (root only, else skipped). `make test` runs
# it too, in the normal build's ctest pass.
test-vm: build
	ctest --test-dir $(BUILD) -L vm --output-on-failure

# The Debian package test (tests/package_test.py; root only, else skipped): builds the package
# unless dist/ has one newer than the sources, installs it with dpkg, runs the installed binary
# in a namespace, purges it. It is registered only in this configure-only build directory
# (REGRELAY_PACKAGE_TEST=ON), so neither ctest pass above runs it.
BUILD_PACKAGE ?= build-package
test-package: deps
	@cmake -S . -B $(BUILD_PACKAGE) $(CMAKE_GEN) -DREGRELAY_BENCH=OFF -DREGRELAY_PACKAGE_TEST=ON >/dev/null
	ctest --test-dir $(BUILD_PACKAGE) -L package --output-on-failure

# The Debian package (debian/, docs/packaging.md), built the Debian way by dpkg-buildpackage,
# into dist/ rather than the parent directory: regrelay_VERSION_ARCH.deb, the -dbgsym .deb,
# .buildinfo and .changes. The tree is cleaned afterwards (dh clean: obj-*, debian/regrelay...).
DEB_VERSION = $(shell dpkg-parsechangelog -S Version)
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH)
deb: deps
	@mkdir -p dist
	@rm -f dist/regrelay_* dist/regrelay-dbgsym_*
	REGRELAY_DEB_DESTDIR=$(CURDIR)/dist dpkg-buildpackage -us -uc -b -tc \
	  --buildinfo-file=dist/regrelay_$(DEB_VERSION)_$(DEB_ARCH).buildinfo --buildinfo-option=-u$(CURDIR)/dist \
	  --changes-file=dist/regrelay_$(DEB_VERSION)_$(DEB_ARCH).changes --changes-option=-u$(CURDIR)/dist

demo: build
	@./deploy/demo.sh $(BUILD)

fuzz: build-fuzz
	./fuzz/run.sh $(BUILD_FUZZ) $${FUZZ_SECONDS:-600}

bench: build
	./bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_O3) $(BUILD_PACKAGE) dist
