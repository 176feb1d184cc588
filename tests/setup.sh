#!/bin/sh
# Installs what building or testing libquic needs and the machine lacks.
#
#   sh tests/setup.sh build    the build: a C compiler, perl, make, pkg-config,
#                              binutils, git, the openssl command, python3
#   sh tests/setup.sh test     the build's needs, and the test suite's: valgrind,
#                              Go, Node.js and npm, Python's venv, the ASan and
#                              UBSan runtimes, dpkg-dev, debhelper, lintian and
#                              debootstrap,
#                              rustfmt, clippy and rust-src
#
# It only looks when nothing is missing (a second or so). Otherwise, as root
# or with passwordless sudo on a Debian or Ubuntu machine, it installs the
# missing packages with apt-get; anywhere else it stops at once and prints the
# one command that would install them, so that `make test` never runs for
# minutes before failing on a missing tool.
#
# SETUP_NO_INSTALL=1 reports instead of installing; SETUP_PRETEND_MISSING="go
# valgrind" treats those commands as absent (both for the script's own test).
set -eu

what=${1:-test}
need=""
missing_cmds=""

has() {
    for p in ${SETUP_PRETEND_MISSING:-}; do
        [ "$p" = "$1" ] && return 1
    done
    command -v "$1" >/dev/null 2>&1
}

want() { # want COMMAND PACKAGE...
    cmd=$1
    shift
    if ! has "$cmd"; then
        need="$need $*"
        missing_cmds="$missing_cmds $cmd"
    fi
}

want cc gcc libc6-dev
want perl perl
want make make
want pkg-config pkg-config
want nm binutils
want git git
want openssl openssl
want python3 python3
if [ "$what" = test ]; then
    want valgrind valgrind
    want go golang-go
    want node nodejs
    want npm npm
    want sha256sum coreutils
    # make deb and deb-check: the Debian package build and its checker.
    want dpkg-buildpackage dpkg-dev
    want dh debhelper
    want lintian lintian
    # deb-system-openssl-check: a Debian 13 root to build the packages in.
    want debootstrap debootstrap
    if has python3 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        need="$need python3-venv"
        missing_cmds="$missing_cmds python3-venv"
    fi
    # The sanitizer runtimes gcc links C tests with.
    if ! ls /usr/lib/*/libasan.so* >/dev/null 2>&1; then need="$need libasan8"; fi
    if ! ls /usr/lib/*/libubsan.so* >/dev/null 2>&1; then need="$need libubsan1"; fi
fi

if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo "; fi
    cmd="${sudo}apt-get install -y$need"
    can=0
    if [ -z "${SETUP_NO_INSTALL:-}" ] && command -v apt-get >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            can=1
        elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
            can=1
        fi
    fi
    if [ "$can" = 1 ]; then
        echo "setup: installing$need"
        ${sudo}apt-get update -qq
        DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y -qq $need
    else
        echo "setup: make $what needs what this machine lacks:${missing_cmds:-$need}" >&2
        if command -v apt-get >/dev/null 2>&1 || [ -n "${SETUP_NO_INSTALL:-}" ]; then
            echo "setup: install it with: $cmd" >&2
        else
            echo "setup: install the equivalent of these Debian packages:$need" >&2
        fi
        exit 1
    fi
fi

# Rust components for the lint step, and the standard library's source,
# which tsan-test rebuilds instrumented (rustup installs them without root).
rust_src="$(rustc --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library"
if [ "$what" = test ] && command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    [ -d "$rust_src" ] || rustup component add rust-src
fi
if [ "$what" = test ] && ! cargo fmt --version >/dev/null 2>&1; then
    echo "setup: make test needs rustfmt and clippy: rustup component add rustfmt clippy" >&2
    exit 1
fi
if [ "$what" = test ] && [ ! -d "$rust_src" ]; then
    echo "setup: make test needs the Rust standard library's source: rustup component add rust-src" >&2
    exit 1
fi
exit 0
