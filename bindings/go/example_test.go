package quic_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	quic "github.com/libquic/libquic/bindings/go"
)

// A Conn driven by the caller's own net.PacketConn loop: send what the
// connection has, wait for a datagram or its timer, feed it, take events.
func ExampleConn() {
	cfg, err := quic.NewClientConfig(quic.WithALPN("hq-interop"), quic.WithServerName("localhost"),
		quic.WithCAFile("ca.pem"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cfg.Close()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pc.Close()
	server := netip.MustParseAddrPort("127.0.0.1:4433")
	conn, err := quic.NewClientConn(cfg, server, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Free()

	buf, out := make([]byte, 65535), make([]byte, 65535)
	requested := false
	for !conn.IsClosed() {
		for {
			n, to, err := conn.Send(out, time.Now())
			if err != nil || n == 0 {
				break
			}
			pc.WriteTo(out[:n], net.UDPAddrFromAddrPort(to))
		}
		deadline, armed := conn.Timeout()
		if !armed {
			deadline = time.Time{}
		}
		pc.SetReadDeadline(deadline)
		n, from, err := pc.ReadFrom(buf)
		switch {
		case err == nil:
			conn.Recv(buf[:n], from.(*net.UDPAddr).AddrPort(), time.Now())
		case errors.Is(err, os.ErrDeadlineExceeded):
			conn.HandleTimer(time.Now())
		default:
			return
		}
		for _, ev := range conn.Events() {
			switch e := ev.(type) {
			case quic.HandshakeCompleted:
				if !requested {
					id, _ := conn.OpenStream(false)
					conn.StreamSend(id, []byte("GET /index.html\r\n"), true)
					requested = true
				}
			case quic.StreamDataReceived:
				os.Stdout.Write(e.Data)
				if e.EndStream {
					conn.Close(0, "", time.Now())
				}
			case quic.ConnectionTerminated:
				fmt.Println("closed:", e.Reason)
			}
		}
	}
}
