#!/bin/sh
# install-check, part 2: quic-client built against the installed library
# (through pkg-config) downloads a file from quic-server.
# Usage: install-client-check.sh CLIENT_BIN SERVER_BIN CERT_DIR WORK_DIR
set -eu
client=$1 server=$2 certs=$3 work=$4
mkdir -p "$work/www" "$work/out"
head -c 300000 /dev/urandom > "$work/www/x.bin"
. "$(dirname "$0")/quic-server.sh"
start_quic_server "$server" "$certs" "$work/www" "$work/server.out" || \
  { echo "install-check: server did not start"; cat "$work/server.out"; exit 1; }
"$client" --ca "$certs/ca.pem" --output "$work/out" "https://127.0.0.1:$port/x.bin"
cmp "$work/www/x.bin" "$work/out/x.bin"
echo "install-check: quic-client built against the installed library downloaded a file"
