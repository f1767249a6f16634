// bench/go/udp_echo - Go peer of bench/udp_echo.c: a UDP echo server, one
// goroutine receiving datagrams (up to 64 KiB) and sending each back to
// its sender, with the AddrPort calls that allocate nothing per datagram.
//
// Run (make bench builds it as build/bench/go/udp_echo):
//
//	GOMAXPROCS=2 build/bench/go/udp_echo [-p PORT]   (default 7004)
//
// It prints "listening on PORT" and serves until killed; the load is
// bench/echoload.go -net udp.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func main() {
	port := flag.Int("p", 7004, "port")
	flag.Parse()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: *port})
	if err != nil {
		fmt.Fprintln(os.Stderr, "udp_echo (Go):", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %d\n", *port)
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "udp_echo (Go): read:", err)
			continue
		}
		if _, err := c.WriteToUDPAddrPort(buf[:n], from); err != nil {
			fmt.Fprintln(os.Stderr, "udp_echo (Go): write:", err)
		}
	}
}
