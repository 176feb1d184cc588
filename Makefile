# libquic: build, test, install.
#
#   make            build libquic.so / libquic.a / include/quic.h and the examples
#   make demo       build, then run the example program
#   make test       the whole suite (Rust, C under sanitizers, header/ABI/install checks, lints);
#                   installs what it needs first (tests/setup.sh)
#   make interop    the examples against every installable QUIC stack (not in make test)
#   make install    PREFIX=/usr/local DESTDIR= LIBDIR= INCLUDEDIR= PKGCONFIGDIR=
#
# OpenSSL is built from source (vendored) by default; set OPENSSL_NO_VENDOR=1
# (and OPENSSL_DIR if needed) to use a system OpenSSL >= 3.5.1.

CARGO ?= cargo
PROFILE ?= release
CC ?= cc
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The ABI's number, not the release's: bumped on every break (README:
# Versioning and the ABI); build.rs reads the same file.
SOVER := $(shell cat abi/SOVERSION)

ifeq ($(PROFILE),release)
CARGO_PROFILE := --release
else
CARGO_PROFILE :=
endif
OUT := target/$(PROFILE)
BUILD := build
LIB_SO := $(OUT)/libquic.so
LIB_A := $(OUT)/libquic.a

CSTD := -std=c11 -Wall -Wextra -Wpedantic -Werror
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LINK_SO := -L$(OUT) -lquic -Wl,-rpath,$(abspath $(OUT))

# What a static libquic.a needs besides libc (the Rust runtime's needs).
LIBS_PRIVATE := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
ifneq ($(filter-out 0,$(OPENSSL_NO_VENDOR)),)
REQUIRES_PRIVATE := libssl libcrypto
else
REQUIRES_PRIVATE :=
endif

C_TESTS := $(patsubst tests/c/%.c,$(BUILD)/c-tests/%,$(wildcard tests/c/test_*.c))
EXAMPLES := $(BUILD)/packet-tour $(BUILD)/quic-server $(BUILD)/quic-client $(BUILD)/quic-echo

.PHONY: all lib examples demo test test-suite setup setup-check interop rust-test c-test \
        interop-test quinn-test endpoint-test valgrind-test binding-test deb deb-check \
        deb-system-openssl-check \
        header-check abi-check tsan-test fuzz \
        install uninstall install-check lint fmt bench bench-echo bench-udp clean

all: lib examples

# The SONAME link lets programs linked against target/ run from there.
lib:
	$(CARGO) build $(CARGO_PROFILE)
	@ln -sf libquic.so $(OUT)/libquic.so.$(SOVER)

examples: $(EXAMPLES)

$(BUILD)/packet-tour: c-examples/packet-tour.c include/quic.h lib
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) -O2 -Iinclude $< -o $@ $(LINK_SO)

$(BUILD)/quic-server: c-examples/server.c c-examples/workers.c c-examples/workers.h \
                      c-examples/common.c c-examples/common.h c-examples/udp.c \
                      c-examples/udp.h include/quic.h lib
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) -O2 -Iinclude $< c-examples/common.c c-examples/udp.c c-examples/workers.c \
	    -o $@ $(LINK_SO)

$(BUILD)/quic-%: c-examples/%.c c-examples/common.c c-examples/common.h c-examples/udp.c \
                 c-examples/udp.h include/quic.h lib
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) -O2 -Iinclude $< c-examples/common.c c-examples/udp.c -o $@ $(LINK_SO)

demo:
	@sh tests/setup.sh build
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh c-examples/demo.sh

# What the suite needs is checked (and installed, where the machine lets
# us) before any long step; then the suite runs.
test:
	@sh tests/setup.sh test
	@$(MAKE) --no-print-directory test-suite

setup:
	@sh tests/setup.sh test

test-suite: setup-check lib lint c-test header-check abi-check install-check interop-test \
            quinn-test endpoint-test valgrind-test tsan-test binding-test deb-check \
            deb-system-openssl-check rust-test

# tests/setup.sh stops at once, naming the install command, when a tool is
# missing and it may not install it.
setup-check:
	@out=$$(SETUP_NO_INSTALL=1 SETUP_PRETEND_MISSING="go valgrind" sh tests/setup.sh test 2>&1); \
	 rc=$$?; \
	 if [ $$rc -eq 0 ]; then echo "setup-check: a missing tool was not reported"; exit 1; fi; \
	 echo "$$out" | grep -q "apt-get install -y.*golang-go.*valgrind\|apt-get install -y.*valgrind.*golang-go" || \
	   { echo "setup-check: no install command named:"; echo "$$out"; exit 1; }; \
	 echo "setup-check: missing tools are named with their install command"

# The protocol tests run twice: as shipped, and with overflow checks on, so
# that arithmetic which would wrap fails a test instead of passing quietly
# (--lib only: the library files in target/ stay the shipped build).
rust-test:
	$(CARGO) test $(CARGO_PROFILE)
	CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true $(CARGO) test $(CARGO_PROFILE) --lib

$(BUILD)/c-tests/%: tests/c/%.c tests/c/testutil.h include/quic.h lib
	@mkdir -p $(BUILD)/c-tests
	$(CC) $(CSTD) -g $(SANITIZE) -pthread -Iinclude $< -o $@ $(LINK_SO)

CERTS := $(BUILD)/certs

$(CERTS)/server.pem: tests/make-certs.sh
	sh tests/make-certs.sh $(CERTS)

c-test: $(C_TESTS) $(CERTS)/server.pem
	@set -e; for t in $(C_TESTS); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 ./$$t $(CERTS); done

# aioquic (PyPI) in a local virtual environment, driven against libquic
# through ctypes in one process.
VENV := $(BUILD)/venv
$(VENV)/.installed: tests/interop/requirements.txt
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/interop/requirements.txt
	touch $@

interop-test: lib $(VENV)/.installed $(CERTS)/server.pem
	cd tests/interop && CERT_DIR=$(abspath $(CERTS)) LIBQUIC=$(abspath $(LIB_SO)) \
	  $(abspath $(VENV))/bin/python -m pytest -q -p no:cacheprovider

# quinn-proto (a second independent stack) against libquic in memory, in
# a crate of its own (tests/quinn) so the library never depends on it.
quinn-test: $(CERTS)/server.pem
	cd tests/quinn && CARGO_TARGET_DIR=$(abspath target) CERT_DIR=$(abspath $(CERTS)) \
	  $(CARGO) test --release

# The c-examples over real UDP on loopback, with each other and with
# aioquic's asyncio endpoints.
endpoint-test: examples $(VENV)/.installed $(CERTS)/server.pem
	cargo build --release --quiet --example qlog-check
	cd tests/endpoints && BUILD=$(abspath $(BUILD)) \
	  QLOG_CHECK=$(abspath target/release/examples/qlog-check) \
	  $(abspath $(VENV))/bin/python -m pytest -q -p no:cacheprovider

# The C tests (built without sanitizers) and the examples under valgrind:
# no invalid access, no definite leak.
VALGRIND_CMD := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
PLAIN_C_TESTS := $(patsubst tests/c/%.c,$(BUILD)/c-tests-plain/%,$(wildcard tests/c/test_*.c))
$(BUILD)/c-tests-plain/%: tests/c/%.c tests/c/testutil.h include/quic.h lib
	@mkdir -p $(BUILD)/c-tests-plain
	$(CC) $(CSTD) -g -O1 -pthread -Iinclude $< -o $@ $(LINK_SO)

valgrind-test: $(PLAIN_C_TESTS) examples $(VENV)/.installed $(CERTS)/server.pem
	@command -v valgrind >/dev/null || { echo "valgrind-test: valgrind is not installed (apt-get install valgrind)"; exit 1; }
	@set -e; for t in $(PLAIN_C_TESTS); do echo "== valgrind $$t"; $(VALGRIND_CMD) ./$$t $(CERTS); done
	cd tests/endpoints && BUILD=$(abspath $(BUILD)) VALGRIND="$(VALGRIND_CMD)" \
	  $(abspath $(VENV))/bin/python -m pytest -q -p no:cacheprovider \
	  -k "fifty or wrong_ca or garbage or bad_input or echo or (quic_client_with_aioquic_server and names2)"

# Threads sharing one frozen configuration under ThreadSanitizer. The
# library is built a second time, all of it instrumented: its Rust code and
# the standard library (rebuilt from rust-src with -Zbuild-std, so that
# Rust's locks and reference counts are visible to TSan; the stable
# toolchain stands in for nightly with RUSTC_BOOTSTRAP=1) and its vendored
# OpenSSL (CFLAGS reach openssl-src's build). Any report fails the run
# (exit code 66).
# The program links Rust's own TSan runtime: the one of the system's gcc
# can be older than the entry points rustc's LLVM calls (__tsan_memcpy).
TSAN_TARGET := target/tsan
RUST_HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
RUST_SYSROOT := $(shell rustc --print sysroot 2>/dev/null)
TSAN_OUT := $(TSAN_TARGET)/$(RUST_HOST)/$(PROFILE)
TSAN_RT = $(firstword $(wildcard $(RUST_SYSROOT)/lib/rustlib/$(RUST_HOST)/lib/librustc-*_rt.tsan.a))
tsan-test: $(CERTS)/server.pem
	CFLAGS="-fsanitize=thread -g -O1" RUSTFLAGS="-Zsanitizer=thread" RUSTC_BOOTSTRAP=1 \
	  CARGO_TARGET_DIR=$(TSAN_TARGET) $(CARGO) build $(CARGO_PROFILE) --lib \
	  -Zbuild-std --target $(RUST_HOST)
	@ln -sf libquic.so $(TSAN_OUT)/libquic.so.$(SOVER)
	@test -n "$(TSAN_RT)" || { echo "tsan-test: no TSan runtime in $(RUST_SYSROOT)"; exit 1; }
	@mkdir -p $(BUILD)/tsan
	$(CC) $(CSTD) -g -O1 -fsanitize=thread -pthread -Iinclude -c tests/c/test_threads.c \
	  -o $(BUILD)/tsan/test_threads.o
	$(CC) -pthread $(BUILD)/tsan/test_threads.o -o $(BUILD)/tsan/test_threads \
	  -Wl,--whole-archive $(TSAN_RT) -Wl,--no-whole-archive -L$(TSAN_OUT) -lquic \
	  -Wl,-rpath,$(abspath $(TSAN_OUT)) -ldl -lm -lrt
	TSAN_OPTIONS=exitcode=66 ./$(BUILD)/tsan/test_threads $(CERTS)

# Go (cgo) and Node (koffi) load the library and run a handshake and an
# echo in memory. A missing toolchain fails the target with a clear message.
# The Go module, the npm package and the Python package (bindings/)
# against the built library, found as installed ones find it: through
# pkg-config, here a quic.pc that points into the tree. Each downloads
# files from quic-server over UDP.
PC_TREE := $(BUILD)/pkgconfig/quic.pc
$(PC_TREE): quic.pc.in Cargo.toml
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(abspath .)|' -e 's|@LIBDIR@|$(abspath $(OUT))|' -e 's|@INCLUDEDIR@|$(abspath include)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES_PRIVATE@|$(REQUIRES_PRIVATE)|' \
	    -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' quic.pc.in > $@

BINDING_ENV := PKG_CONFIG_PATH=$(abspath $(BUILD)/pkgconfig) LD_LIBRARY_PATH=$(abspath $(OUT)) \
  CERT_DIR=$(abspath $(CERTS)) QUIC_SERVER=$(abspath $(BUILD))/quic-server \
  QUIC_CLIENT=$(abspath $(BUILD))/quic-client AIOQUIC_PYTHON=$(abspath $(VENV))/bin/python \
  HQ_PY=$(abspath tests/endpoints/hq.py)

binding-test: lib examples $(CERTS)/server.pem $(VENV)/.installed $(PC_TREE)
	@command -v go >/dev/null || { echo "binding-test: Go is missing (apt-get install golang-go)"; exit 1; }
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "binding-test: Node.js or npm is missing (apt-get install nodejs npm)"; exit 1; }
	@cd bindings/go && test -z "$$(gofmt -l .)" || { echo "binding-test: gofmt -w bindings/go"; exit 1; }
	cd bindings/go && $(BINDING_ENV) go vet ./... && $(BINDING_ENV) go test -race -count=1 ./...
	cd bindings/node && npm install --no-audit --no-fund --silent && npm run -s typecheck && \
	  $(BINDING_ENV) node --test test/
	@# The npm package as a user installs it: packed, then installed into an
	@# empty project, where it loads the library and makes a config.
	rm -rf $(BUILD)/npm-check && mkdir -p $(BUILD)/npm-check/app
	cd bindings/node && npm pack --silent --pack-destination $(abspath $(BUILD)/npm-check) >/dev/null
	cd $(BUILD)/npm-check/app && npm init -y >/dev/null && \
	  npm install --no-audit --no-fund --silent ../libquic-$(VERSION).tgz && \
	  $(BINDING_ENV) node -e "const q = require('libquic'); q.Config.client({ alpn: ['x'] }).close(); console.log('npm-check: the packed package loads libquic')"
	@# The Python package, installed into the test venv as a user would, so
	@# that the tests import it from there rather than from the tree.
	$(abspath $(VENV))/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
	  --force-reinstall ./bindings/python
	cd bindings/python/tests && $(BINDING_ENV) $(abspath $(VENV))/bin/python -m pytest -q -p no:cacheprovider

# The committed header must be what cbindgen generates from src/ffi.
header-check: lib
	@git ls-files --error-unmatch include/quic.h >/dev/null 2>&1 || \
	  { echo "header-check: include/quic.h is not committed"; exit 1; }
	@git diff --exit-code -- include/quic.h || \
	  { echo "header-check: include/quic.h differs from what cbindgen generates; commit it"; exit 1; }
	@echo "header-check: include/quic.h is up to date"

# Only quic_* symbols may leave the shared object (no OpenSSL, no Rust
# runtime), and exactly those in abi/libquic.symbols: the ABI promise to
# compiled programs is checked, not remembered (README: Versioning).
abi-check: lib
	@mkdir -p $(BUILD)
	@syms=$$(nm -D --defined-only $(LIB_SO) | awk 'NF==3 {print $$3}'); \
	 n=$$(printf '%s\n' "$$syms" | grep -c '^quic_'); \
	 bad=$$(printf '%s\n' "$$syms" | grep -v '^quic_' || true); \
	 if [ "$$n" -eq 0 ]; then echo "abi-check: no quic_ symbols exported"; exit 1; fi; \
	 if [ -n "$$bad" ]; then echo "abi-check: symbols without the quic_ prefix:"; echo "$$bad"; exit 1; fi; \
	 printf '%s\n' "$$syms" | grep '^quic_' | LC_ALL=C sort > $(BUILD)/exported.symbols; \
	 grep -v '^#' abi/libquic.symbols | grep -v '^$$' | LC_ALL=C sort > $(BUILD)/promised.symbols; \
	 gone=$$(comm -23 $(BUILD)/promised.symbols $(BUILD)/exported.symbols); \
	 new=$$(comm -13 $(BUILD)/promised.symbols $(BUILD)/exported.symbols); \
	 if [ -n "$$gone" ]; then echo "abi-check: symbols removed (programs linked against libquic.so.$(SOVER) break; a removal needs a new SONAME, see README Versioning):"; echo "$$gone"; exit 1; fi; \
	 if [ -n "$$new" ]; then echo "abi-check: new symbols not in abi/libquic.symbols (add them there; an addition is a minor release):"; echo "$$new"; exit 1; fi; \
	 echo "abi-check: $$n symbols, all quic_*, as abi/libquic.symbols lists"
	@soname=$$(readelf -d $(LIB_SO) | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p'); \
	 if [ "$$soname" != "libquic.so.$(SOVER)" ]; then echo "abi-check: SONAME is '$$soname', expected libquic.so.$(SOVER)"; exit 1; fi; \
	 echo "abi-check: SONAME $$soname"

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libquic.so.$(VERSION)
	ln -sf libquic.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libquic.so.$(SOVER)
	ln -sf libquic.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libquic.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libquic.a
	install -m 0644 include/quic.h $(DESTDIR)$(INCLUDEDIR)/quic.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES_PRIVATE@|$(REQUIRES_PRIVATE)|' \
	    -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' quic.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/quic.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/quic.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libquic.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libquic.so.$(SOVER) \
	      $(DESTDIR)$(LIBDIR)/libquic.so $(DESTDIR)$(LIBDIR)/libquic.a \
	      $(DESTDIR)$(INCLUDEDIR)/quic.h $(DESTDIR)$(PKGCONFIGDIR)/quic.pc

# Install into a scratch DESTDIR, then build a C program against it through
# pkg-config, linked dynamically and statically, and run both.
INSTALL_CHECK_DIR := $(BUILD)/install-check
install-check: lib examples $(CERTS)/server.pem
	rm -rf $(INSTALL_CHECK_DIR)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(INSTALL_CHECK_DIR)) PREFIX=/usr >/dev/null
	@root=$(abspath $(INSTALL_CHECK_DIR)); \
	 test -L $$root/usr/lib/libquic.so.$(SOVER) && test -L $$root/usr/lib/libquic.so || \
	   { echo "install-check: SONAME links missing"; exit 1; }; \
	 export PKG_CONFIG_PATH=$$root/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$$root PKG_CONFIG_LIBDIR=; \
	 pkg-config --exists quic || { echo "install-check: pkg-config cannot find quic"; exit 1; }; \
	 set -e; \
	 $(CC) $(CSTD) tests/c/test_server_helpers.c $$(pkg-config --cflags --libs quic) \
	   -o $(INSTALL_CHECK_DIR)/dynamic; \
	 LD_LIBRARY_PATH=$$root/usr/lib $(INSTALL_CHECK_DIR)/dynamic >/dev/null; \
	 $(CC) $(CSTD) tests/c/test_server_helpers.c $$(pkg-config --cflags quic) \
	   $$root/usr/lib/libquic.a $$(pkg-config --libs-only-other --libs-only-l --static quic | sed 's/-lquic//') \
	   -o $(INSTALL_CHECK_DIR)/static; \
	 $(INSTALL_CHECK_DIR)/static >/dev/null; \
	 echo "install-check: dynamic and static builds against the DESTDIR install ran"; \
	 $(CC) $(CSTD) -O2 c-examples/client.c c-examples/common.c c-examples/udp.c $$(pkg-config --cflags --libs quic) \
	   -Wl,-rpath,$$root/usr/lib -o $(INSTALL_CHECK_DIR)/quic-client; \
	 sh tests/install-client-check.sh $(INSTALL_CHECK_DIR)/quic-client $(BUILD)/quic-server \
	   $(CERTS) $(INSTALL_CHECK_DIR)/run

# Debian packages libquic1 and libquic-dev (debian/), built by
# dpkg-buildpackage in a copy of the tree, build/deb/libquic-VERSION, whose
# target/ is kept between runs. The crates come from vendor/, which `cargo
# vendor` fills once: the only step that needs the network. Rust comes from
# rustup, not Debian, so the build dependencies are not checked (-d).
DEB_DIR := $(BUILD)/deb
DEB_SRC := $(DEB_DIR)/libquic-$(VERSION)
# The source tree as a package build takes it, as a tar stream on stdout.
SOURCE_TAR := tar -c --exclude-vcs --exclude=./target --exclude=./build --exclude=./vendor \
  --exclude=node_modules --exclude=./fuzz/target --exclude=./tests/netsim/target --exclude=./bench/target \
  --exclude=./bindings/python/build --exclude='*.egg-info' .

vendor/.complete: Cargo.lock
	rm -rf vendor
	$(CARGO) vendor -q --locked --versioned-dirs vendor >/dev/null
	touch $@

deb: vendor/.complete
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null && command -v lintian >/dev/null || \
	  { echo "deb: needs dpkg-dev, debhelper and lintian (apt-get install dpkg-dev debhelper lintian)"; exit 1; }
	@mkdir -p $(DEB_SRC)
	find $(DEB_SRC) -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
	rm -f $(DEB_DIR)/*.deb $(DEB_DIR)/*.ddeb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	$(SOURCE_TAR) | tar -x -C $(DEB_SRC)
	ln -s $(abspath vendor) $(DEB_SRC)/vendor
	@# Without a network where the kernel allows it (unshare -n): that the
	@# build is offline is then shown, not assumed.
	cd $(DEB_SRC) && $$(unshare -n true 2>/dev/null && echo unshare -n) dpkg-buildpackage -b -us -uc -d -nc
	lintian --fail-on error  \
	  $(DEB_DIR)/libquic_*_$$(dpkg --print-architecture).changes

# The packages unpacked into a scratch root: their contents and symbols
# file, and a C client built against them through pkg-config downloading a
# file from aioquic's server.
deb-check: deb $(VENV)/.installed $(CERTS)/server.pem
	sh tests/deb-check.sh $(DEB_DIR) $(CERTS) $(BUILD)/deb-check $(abspath $(VENV))/bin/python

# The same packages built on Debian 13 (a debootstrap root, cached in
# ~/.cache/libquic-debian), where they link the system OpenSSL 3.5: their
# dependency on it, and a client built there downloading a file. Needs root
# (chroot); skipped, saying so, without it.
deb-system-openssl-check: vendor/.complete examples $(CERTS)/server.pem
	@if [ "$$(id -u)" != 0 ]; then echo "deb-system-openssl-check: skipped, needs root (debootstrap, chroot)"; \
	 else SOURCE_TAR="$(SOURCE_TAR)" sh tests/deb-system-openssl.sh $(BUILD)/quic-server $(CERTS); fi

lint:
	$(CARGO) fmt --check
	cd tests/quinn && $(CARGO) fmt --check
	cd fuzz && $(CARGO) fmt --check
	cd tests/netsim && $(CARGO) fmt --check
	cd bench && $(CARGO) fmt --check
	$(CARGO) clippy $(CARGO_PROFILE) --all-targets -- -D warnings
	# The bench crate is not run by the tests; checking it here keeps it
	# building as the library's API grows.
	cd bench && CARGO_TARGET_DIR=$(abspath target) $(CARGO) clippy --release -- -D warnings

fmt:
	$(CARGO) fmt

# The examples against every QUIC stack that can be installed here
# (aioquic, quinn, picoquic, quiche), both roles, over UDP loopback. The
# peers' programs come from PEERS_DIR; they are built into a cache outside
# the tree (tests/peers/interop.py). INTEROP_ARGS="--only quinn --case v2".
PEERS_DIR ?= $(abspath ../shared/peers)
interop: examples $(VENV)/.installed $(CERTS)/server.pem
	PEERS_DIR=$(PEERS_DIR) BUILD=$(abspath $(BUILD)) python3 tests/peers/interop.py --install $(INTEROP_ARGS)

# The side-by-side benchmark in bench/ (a separate crate, so make test never
# builds quinn-proto); aioquic runs from the test venv. BENCH_MB,
# BENCH_HANDSHAKES, BENCH_STREAMS and BENCH_CONNS size it; BENCH_ONLY=a,b
# runs only the rows whose name contains a or b.
bench: $(CERTS)/server.pem $(VENV)/.installed examples
	cd bench && CARGO_TARGET_DIR=$(abspath target) $(CARGO) build --release --quiet --bins
	cd bench && CARGO_TARGET_DIR=$(abspath target) CERT_DIR=$(abspath $(CERTS)) \
	  BUILD=$(abspath $(BUILD)) AIOQUIC_PYTHON=$(abspath $(VENV))/bin/python \
	  $(CARGO) run --release --quiet --bin libquic-bench

# Over real UDP: aioquic's client downloading 5 MB from quic-server and
# from aioquic's server, in turns, through a relay losing 10% each way
# (tests/peers/loss_compare.py says what each side does). Wall-clock:
# compare the ratio. BENCH_UDP_ARGS="--loss 0.05 --reorder 0.02 --runs 9".
BENCH_UDP_ARGS ?=
bench-echo: examples $(VENV)/.installed $(CERTS)/server.pem
	$(abspath $(VENV))/bin/python tests/peers/slow_readers.py $(BUILD) $(CERTS) $(BENCH_ECHO_ARGS)

bench-udp: examples $(VENV)/.installed $(CERTS)/server.pem
	$(abspath $(VENV))/bin/python tests/peers/loss_compare.py $(BUILD) $(CERTS) $(BENCH_UDP_ARGS)

# libFuzzer through cargo-fuzz (fuzz/README.md): every target for
# FUZZ_SECS seconds, starting from a copy of the committed corpus. The
# stable toolchain stands in for nightly with RUSTC_BOOTSTRAP=1.
FUZZ_SECS ?= 60
FUZZ_SANITIZER ?= none
FUZZ_TARGETS := frames header transport_params server_initial established_payload address_token path_frames
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz-corpus/$$t; cp fuzz/corpus/$$t/* $(BUILD)/fuzz-corpus/$$t/; \
	  echo "== fuzz $$t for $(FUZZ_SECS) s"; \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(abspath target/fuzz) \
	    $(CARGO) fuzz run -O --sanitizer $(FUZZ_SANITIZER) $$t $(abspath $(BUILD))/fuzz-corpus/$$t \
	    -- -max_total_time=$(FUZZ_SECS)); \
	done

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
