#!/bin/sh
# deb-check: the packages `make deb` built, unpacked into a scratch root
# (dpkg -x, as nothing is installed on the machine), hold what they should;
# a C client built against them through pkg-config downloads a file from
# aioquic's server (tests/endpoints/hq.py).
# Usage: deb-check.sh DEB_DIR CERT_DIR WORK_DIR PYTHON
set -eu
debs=$1 certs=$2 work=$3 python=$4
fail() { echo "deb-check: $*" >&2; exit 1; }

lib_deb=$(ls "$debs"/libquic[0-9]*_*.deb | grep -v dbgsym)
dev_deb=$(ls "$debs"/libquic-dev_*.deb)
rm -rf "$work"
mkdir -p "$work/root"
work=$(cd "$work" && pwd)
root=$work/root
dpkg -x "$lib_deb" "$root"
dpkg -x "$dev_deb" "$root"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=$root/usr/lib/$multiarch
sover=$(cat abi/SOVERSION)

# The runtime package holds the library under its SONAME; the -dev package
# the link, the static library, the header and quic.pc.
[ -f "$(readlink -f "$libdir/libquic.so.$sover")" ] || fail "libquic.so.$sover missing from $lib_deb"
dpkg-deb -c "$lib_deb" | grep -q "/libquic.so.$sover " || fail "$lib_deb lacks the SONAME link"
dpkg-deb -c "$lib_deb" | grep -Eq 'quic\.h|\.a$|\.pc$' && fail "$lib_deb holds development files"
for f in "usr/include/quic.h" "usr/lib/$multiarch/libquic.a" "usr/lib/$multiarch/pkgconfig/quic.pc"; do
    [ -f "$root/$f" ] || fail "$f missing from $dev_deb"
done
[ "$(readlink "$libdir/libquic.so")" = "libquic.so.$sover" ] || fail "libquic.so does not point at the SONAME"

# The symbols control file lists exactly the promised ABI, and shlibs
# dependencies come from it.
dpkg-deb -I "$lib_deb" symbols > "$work/symbols" || fail "$lib_deb has no symbols file"
head -n 1 "$work/symbols" | grep -q "^libquic.so.$sover libquic$sover " || fail "symbols file names the wrong SONAME"
sed -n 's/^ \(quic_[a-z0-9_]*\)@Base .*/\1/p' "$work/symbols" | LC_ALL=C sort > "$work/packaged"
grep -v '^#' abi/libquic.symbols | grep -v '^$' | LC_ALL=C sort > "$work/promised"
cmp -s "$work/packaged" "$work/promised" || { diff "$work/promised" "$work/packaged" >&2; fail "symbols file differs from abi/libquic.symbols"; }
echo "deb-check: $(wc -l < "$work/packaged") symbols in the symbols file, as abi/libquic.symbols lists"

# A symbol listed under "# since VERSION" gets that version.
printf '# comment\nquic_a\n# since 0.3.1\nquic_b\n\n' > "$work/list"
sh debian/gen-symbols "$work/list" 7 > "$work/gen"
grep -qx 'libquic.so.7 libquic7 #MINVER#' "$work/gen" && grep -qx ' quic_a@Base 0.2.0' "$work/gen" && \
    grep -qx ' quic_b@Base 0.3.1' "$work/gen" && [ "$(grep -c '@Base' "$work/gen")" = 2 ] || \
    { cat "$work/gen" >&2; fail "debian/gen-symbols ignores the since lines"; }

# A C program built against the packages alone, through pkg-config.
export PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
pkg-config --exists quic || fail "pkg-config cannot find quic in the -dev package"
# shellcheck disable=SC2046
cc -std=c11 -O2 c-examples/client.c c-examples/common.c c-examples/udp.c \
   $(pkg-config --cflags --libs quic) -Wl,-rpath,"$libdir" -o "$work/quic-client"
ldd "$work/quic-client" | grep -q "libquic.so.$sover => $libdir/" || \
    fail "the client does not load libquic from the package: $(ldd "$work/quic-client" | grep quic)"

# dpkg-shlibdeps, as a package of that client would run it, takes the
# dependency from the symbols file: libquic1 at the version that brought
# the newest symbol the client uses.
dpkg-deb -e "$lib_deb" "$root/DEBIAN"
mkdir -p "$work/shlibs/debian"
printf 'Source: client\n\nPackage: client\nArchitecture: any\n' > "$work/shlibs/debian/control"
deps=$(cd "$work/shlibs" && dpkg-shlibdeps -O -S"$root" -l"$libdir" "$work/quic-client" 2>/dev/null)
echo "$deps" | grep -q "libquic$sover (>= [0-9]" || fail "dpkg-shlibdeps gave no versioned libquic$sover dependency: $deps"
echo "deb-check: a client built against the packages depends on ${deps#shlibs:Depends=}"

mkdir -p "$work/www" "$work/out"
head -c 1000000 /dev/urandom > "$work/www/file.bin"
port=$("$python" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" tests/endpoints/hq.py serve 127.0.0.1 "$port" "$certs/server.pem" "$certs/server.key" "$work/www" \
    > "$work/server.out" 2> "$work/server.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q listening "$work/server.out" && break
    sleep 0.1
done
grep -q listening "$work/server.out" || { cat "$work/server.err" >&2; fail "aioquic's server did not start"; }
timeout 60 "$work/quic-client" --ca "$certs/ca.pem" --output "$work/out" "https://127.0.0.1:$port/file.bin" \
    || fail "the download failed"
cmp "$work/www/file.bin" "$work/out/file.bin" || fail "the file arrived damaged"
echo "deb-check: a client built against the packages downloaded a file from aioquic's server"
