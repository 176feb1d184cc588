package binding

import (
	"bytes"
	"os"
	"testing"
)

func TestHandshakeAndEcho(t *testing.T) {
	certs := os.Getenv("CERT_DIR")
	if certs == "" {
		certs = "../../../build/certs"
	}
	message := []byte("hello from go")
	clientDone, serverDone, echoed, err := Echo(certs, message)
	if err != nil {
		t.Fatal(err)
	}
	if !clientDone || !serverDone {
		t.Fatalf("handshake incomplete: client %v server %v", clientDone, serverDone)
	}
	if !bytes.Equal(echoed, message) {
		t.Fatalf("echo %q, want %q", echoed, message)
	}
}
