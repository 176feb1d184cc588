#!/bin/sh
# deb-system-openssl-check: the Debian packages built on Debian 13, whose
# OpenSSL (3.5) libquic links instead of its bundled copy. A trixie root
# (debootstrap, cached in ~/.cache/libquic-debian) builds the packages from
# this tree with the host's Rust toolchain and vendor/, offline; they must
# depend on the system libssl at 3.5.1 or newer and load it, and a client
# built against them there downloads a file from quic-server (on the
# host's loopback). Needs root (debootstrap, chroot, mounts).
# Usage: SOURCE_TAR=... deb-system-openssl.sh SERVER_BIN CERT_DIR
set -eu
server=$1 certs=$2
fail() { echo "deb-system-openssl: $*" >&2; exit 1; }
[ -n "${SOURCE_TAR:-}" ] || fail "SOURCE_TAR (the Makefile's) is not set: run make deb-system-openssl-check"
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || fail "needs debootstrap (apt-get install debootstrap)"

cache=${XDG_CACHE_HOME:-$HOME/.cache}/libquic-debian
root=$cache/trixie
# One run at a time: two (a CI clone and a working tree on one machine)
# would build in the same cached root over each other.
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
# The mounts below live in a private mount namespace and vanish with it,
# so nothing outside is ever reachable through this directory: removing
# it is safe.
if [ ! -f "$root/.complete" ]; then
    rm -rf "$root"
    mkdir -p "$root"
    echo "deb-system-openssl: making a Debian 13 root in $root (once)"
    debootstrap --variant=minbase \
        --include=libssl-dev,pkg-config,debhelper,dpkg-dev,gcc,libc6-dev,make,perl,ca-certificates \
        trixie "$root" http://deb.debian.org/debian > "$cache/debootstrap.log" 2>&1 || \
        { tail -n 20 "$cache/debootstrap.log" >&2; fail "debootstrap failed"; }
    touch "$root/.complete"
fi

rm -rf "$root/src" "$root"/libquic*.deb "$root"/libquic_* "$root/tmp/out" "$root/tmp/www" \
    "$root/tmp/build.log" "$root/tmp/ldd.txt"
mkdir -p "$root/src" "$root/vendor" "$root/root/.cargo" "$root/root/.rustup" "$root/tmp/www" "$root/tmp/out"
# The tree as make deb copies it (the Makefile's SOURCE_TAR).
sh -c "$SOURCE_TAR" | tar -x -C "$root/src"
ln -s /vendor "$root/src/vendor"
head -c 2000000 /dev/urandom > "$root/tmp/www/f.bin"
cp "$certs/ca.pem" "$root/tmp/ca.pem"

. "$(dirname "$0")/quic-server.sh"
start_quic_server "$server" "$certs" "$root/tmp/www" "$root/tmp/server.out" || fail "quic-server did not start"

# In a private mount namespace: the host's Rust toolchain and vendored
# crates, read-only; inside the root, build offline, install, build the
# client and download.
ROOT=$root VENDOR=$(pwd)/vendor PORT=$port unshare -m --propagation private sh -eu -c '
    for d in .rustup .cargo; do
        mount --bind "$HOME/$d" "$ROOT/root/$d"
        mount -o remount,bind,ro "$ROOT/root/$d"
    done
    mount --bind "$VENDOR" "$ROOT/vendor"
    mount -o remount,bind,ro "$ROOT/vendor"
    mount -t proc proc "$ROOT/proc"
    chroot "$ROOT" env -i HOME=/root CARGO_HOME=/root/cargo-home RUSTUP_HOME=/root/.rustup \
        PATH=/root/.cargo/bin:/usr/sbin:/usr/bin:/sbin:/bin PORT="$PORT" sh -eu -c "
        cd /src
        unshare -n dpkg-buildpackage -b -us -uc -d > /tmp/build.log 2>&1 || { tail -n 30 /tmp/build.log; exit 1; }
        grep \"^OpenSSL:\" /tmp/build.log
        dpkg -i /libquic1_*.deb /libquic-dev_*.deb > /dev/null
        cc -std=c11 -O2 c-examples/client.c c-examples/common.c c-examples/udp.c \$(pkg-config --cflags --libs quic) \
            -o /tmp/quic-client
        /tmp/quic-client --ca /tmp/ca.pem --output /tmp/out https://127.0.0.1:\$PORT/f.bin
        ldd /tmp/quic-client > /tmp/ldd.txt
    "
'
grep -q "^OpenSSL: the system's" "$root/tmp/build.log" || fail "the build did not take the system OpenSSL"
deps=$(dpkg-deb -f "$root"/libquic1_*.deb Depends)
echo "$deps" | grep -Eq 'libssl3(t64)? \(>= 3\.5\.1\)' || fail "libquic1 does not depend on libssl >= 3.5.1: $deps"
grep -q 'libssl.so.3 => /lib' "$root/tmp/ldd.txt" || fail "the client does not load the system libssl"
cmp "$root/tmp/www/f.bin" "$root/tmp/out/f.bin" || fail "the file arrived damaged"
echo "deb-system-openssl: on Debian 13 the packages link the system OpenSSL (Depends: $deps)"
echo "deb-system-openssl: a client built against them there downloaded a file from quic-server"
