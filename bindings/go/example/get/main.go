// Command get downloads files with HTTP/0.9 over QUIC (ALPN hq-interop)
// through libquic's Go binding:
//
//	go run ./example/get -ca ca.pem -o out https://127.0.0.1:4433/file.bin
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	quic "github.com/libquic/libquic/bindings/go"
)

func main() {
	ca := flag.String("ca", "", "PEM file of the CA that signed the server's certificate (default: the system's)")
	out := flag.String("o", ".", "directory to save the files in")
	insecure := flag.Bool("insecure", false, "do not verify the server's certificate (tests only)")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: get [-ca FILE] [-o DIR] https://host:port/path ...")
		os.Exit(2)
	}
	if err := run(*ca, *out, *insecure, *timeout, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "get:", err)
		os.Exit(1)
	}
}

func run(ca, out string, insecure bool, timeout time.Duration, urls []string) error {
	first, err := url.Parse(urls[0])
	if err != nil {
		return err
	}
	opts := []quic.Option{quic.WithALPN("hq-interop"), quic.WithServerName(first.Hostname())}
	if ca != "" {
		opts = append(opts, quic.WithCAFile(ca))
	}
	if insecure {
		opts = append(opts, quic.WithVerifyPeer(false))
	}
	cfg, err := quic.NewClientConfig(opts...)
	if err != nil {
		return err
	}
	defer cfg.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sess, err := quic.Dial(ctx, first.Host, cfg)
	if err != nil {
		return err
	}
	defer sess.Close(context.Background(), 0, "")
	for _, u := range urls {
		body, err := quic.Get(ctx, sess, u)
		if err != nil {
			return err
		}
		p, _ := url.Parse(u)
		if err := os.WriteFile(filepath.Join(out, path.Base(p.Path)), body, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d bytes\n", u, len(body))
	}
	return nil
}
