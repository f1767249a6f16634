// bench/go/dial - Go peer of bench/dial.c: cost of dialling a local TCP
// listener, net.Dial("tcp", ADDR) and Close, a goroutine accepting on
// 127.0.0.1 (a kernel-chosen port) and closing each connection. ADDR is
// "127.0.0.1:PORT", or with -h localhost "localhost:PORT" (resolved at
// each dial: Go's own resolver, /etc/hosts). Wall time over N, R rounds,
// median.
//
// Run (make bench builds it as build/bench/go/dial):
//
//	GOMAXPROCS=2 build/bench/go/dial [-n N] [-r R] [-h localhost]   (default 2000, 5)
//
// Output ends with: RESULT dial_ns_per_dial <median> (dial_name_... with -h)
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"time"
)

func main() {
	n := flag.Int("n", 2000, "dials per round")
	rounds := flag.Int("r", 5, "rounds")
	host := flag.String("h", "", "dial this host name instead of 127.0.0.1")
	flag.Parse()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial (Go):", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	h := "127.0.0.1"
	key := "dial_ns_per_dial"
	if *host != "" {
		h = *host
		key = "dial_name_ns_per_dial"
	}
	addr := net.JoinHostPort(h, fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
	fmt.Printf("dial (Go): net.Dial(\"tcp\", %q) + Close, %d per round, %d rounds\n",
		addr, *n, *rounds)
	res := make([]float64, *rounds)
	for r := range res {
		t0 := time.Now()
		for i := 0; i < *n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				fmt.Fprintf(os.Stderr, "dial (Go): %v (dial %d)\n", err, i)
				os.Exit(1)
			}
			c.Close()
		}
		res[r] = float64(time.Since(t0).Nanoseconds()) / float64(*n)
		fmt.Printf("round %d: %.0f ns per dial\n", r+1, res[r])
	}
	sort.Float64s(res)
	m := res[len(res)/2]
	if len(res)%2 == 0 {
		m = (res[len(res)/2-1] + res[len(res)/2]) / 2
	}
	fmt.Printf("median: %.0f ns per dial\n", m)
	fmt.Printf("RESULT %s %.0f\n", key, m)
	l.Close()
}
