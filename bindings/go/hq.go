package quic

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
)

// Get downloads one URL ("https://host:port/path") with HTTP/0.9 over
// QUIC (ALPN "hq-interop", the QUIC interop runner's protocol) on an
// established Session: a request on a new stream, the response is the
// stream's bytes until its end. It is the smallest useful application
// protocol; HTTP/3 needs more. Get reads the Session's Events itself
// (dropping those of other streams): nothing else may read them meanwhile.
func Get(ctx context.Context, s *Session, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	id, err := s.OpenStream(false)
	if err != nil {
		return nil, err
	}
	if err := s.StreamSend(id, []byte("GET "+path+"\r\n"), true); err != nil {
		return nil, err
	}
	var body bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-s.Events():
			if !ok {
				if err := s.Err(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("quic: connection closed before %s arrived", path)
			}
			switch e := ev.(type) {
			case StreamDataReceived:
				if e.StreamID != id {
					continue
				}
				body.Write(e.Data)
				if e.EndStream {
					return body.Bytes(), nil
				}
			case StreamReset:
				if e.StreamID == id {
					return nil, fmt.Errorf("quic: the server reset the stream for %s (error 0x%x)", path, e.ErrorCode)
				}
			}
		}
	}
}
