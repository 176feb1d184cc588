# Sourced by the shell checks that need quic-server:
#   start_quic_server SERVER_BIN CERT_DIR WWW LOG
# starts it on a free loopback port serving WWW, kills it when the script
# exits, and sets $port (nonzero status when it did not start in 5 s).
start_quic_server() {
    rm -f "$4"
    "$1" --listen 127.0.0.1:0 --cert "$2/server.pem" --key "$2/server.key" --root "$3" > "$4" 2>&1 &
    quic_server_pid=$!
    trap 'kill $quic_server_pid 2>/dev/null || true' EXIT
    port=
    for _ in $(seq 50); do
        port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$4")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    return 1
}
