#!/bin/sh
# make demo: a throwaway CA and certificate, a random file, quic-server on
# loopback, quic-client downloading the file, and a SHA-256 check. Both
# write qlog traces into $BUILD/demo/qlog (open them in qvis).
set -eu
BUILD=${BUILD:-build}
DEMO=$BUILD/demo
rm -rf "$DEMO"
mkdir -p "$DEMO/www" "$DEMO/downloads" "$DEMO/qlog"
sh tests/make-certs.sh "$DEMO/certs"
head -c 8000000 /dev/urandom > "$DEMO/www/demo.bin"

"$BUILD/quic-server" --listen 127.0.0.1:0 --cert "$DEMO/certs/server.pem" \
  --key "$DEMO/certs/server.key" --root "$DEMO/www" --qlog-dir "$DEMO/qlog" \
  > "$DEMO/server.out" 2> "$DEMO/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT INT TERM
port=
for _ in $(seq 50); do
  port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$DEMO/server.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "demo: the server did not start:"; cat "$DEMO/server.err"; exit 1; }
echo "quic-server listening on 127.0.0.1:$port, serving an 8 MB file"

start=$(date +%s%N)
"$BUILD/quic-client" --ca "$DEMO/certs/ca.pem" --output "$DEMO/downloads" -v \
  --qlog-dir "$DEMO/qlog" \
  "https://127.0.0.1:$port/demo.bin"
end=$(date +%s%N)

want=$(sha256sum "$DEMO/www/demo.bin" | cut -d' ' -f1)
got=$(sha256sum "$DEMO/downloads/demo.bin" | cut -d' ' -f1)
if [ "$want" != "$got" ]; then
  echo "demo: FAILED: SHA-256 differs ($got, expected $want)"
  exit 1
fi
ms=$(( (end - start) / 1000000 ))
[ "$ms" -gt 0 ] || ms=1
echo "demo: 8 MB arrived intact over QUIC (SHA-256 $want) in $ms ms: $(( 8000000 * 8 / ms / 1000 )) Mbit/s"
echo "demo: qlog traces of both sides in $DEMO/qlog (load them in qvis, https://qvis.quictools.info):"
ls "$DEMO/qlog"
