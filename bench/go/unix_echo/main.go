// bench/go/unix_echo - Go peer of bench/unix_echo.c: a Unix stream socket
// echo server, one goroutine per connection, each reading up to 4 KiB and
// writing it back until the peer closes.
//
// Run (make bench builds it as build/bench/go/unix_echo):
//
//	GOMAXPROCS=2 build/bench/go/unix_echo [-s PATH]   (default /tmp/go-echo.sock)
//
// It removes PATH if it exists, prints "listening on PATH" and serves until
// killed; the load is bench/echoload.go -net unix.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func conn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	path := flag.String("s", "/tmp/go-echo.sock", "socket path")
	flag.Parse()
	os.Remove(*path)
	l, err := net.Listen("unix", *path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "unix_echo (Go):", err)
		os.Exit(1)
	}
	// Killed, not closed: leave the file as the C server does.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	fmt.Printf("listening on %s\n", *path)
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "unix_echo (Go): accept:", err)
			continue
		}
		go conn(c)
	}
}
