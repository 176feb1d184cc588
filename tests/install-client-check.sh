#!/bin/sh
# install-check, part 2: quic-client built against the installed library
# (through pkg-config) downloads a file from quic-server.
# Usage: install-client-check.sh CLIENT_BIN SERVER_BIN CERT_DIR WORK_DIR
set -eu
client=$1 server=$2 certs=$3 work=$4
mkdir -p "$work/www" "$work/out"
head -c 300000 /dev/urandom > "$work/www/x.bin"
"$server" --listen 127.0.0.1:0 --cert "$certs/server.pem" --key "$certs/server.key" \
  --root "$work/www" > "$work/server.out" 2> "$work/server.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
port=
for _ in $(seq 50); do
  port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/server.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "install-check: server did not start"; exit 1; }
"$client" --ca "$certs/ca.pem" --output "$work/out" "https://127.0.0.1:$port/x.bin"
cmp "$work/www/x.bin" "$work/out/x.bin"
echo "install-check: quic-client built against the installed library downloaded a file"
