// bench/echo_server.go - the Go peer of bench/echo_server.c: a TCP echo
// server with one goroutine per connection, each reading up to 4 KiB and
// writing it back until the peer closes.
//
//	go build -o build/bench/echo_server_go bench/echo_server.go
//	GOMAXPROCS=2 build/bench/echo_server_go [-p PORT]   (default 7002)
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
	port := flag.Int("p", 7002, "port")
	flag.Parse()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_server_go:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %d\n", *port)
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo_server_go: accept:", err)
			continue
		}
		go conn(c)
	}
}
