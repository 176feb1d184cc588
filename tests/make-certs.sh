#!/bin/sh
# Makes a throwaway CA and a server certificate for "localhost" and
# 127.0.0.1 / ::1 in directory $1 (P-256 keys), unless already there.
set -eu
dir=$1
[ -f "$dir/server.pem" ] && [ -f "$dir/server.key" ] && [ -f "$dir/ca.pem" ] && exit 0
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.pem -days 30 -subj "/CN=libquic test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 30 -extfile server.ext 2>/dev/null
rm -f server.csr server.ext ca.srl
