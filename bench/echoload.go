// bench/echoload.go - load for the echo servers (not built on goro): C
// connections, each sending a SIZE-byte message and waiting for the whole
// echo before the next (request/response), for D. Prints the requests per
// second and the latency percentiles of all requests.
//
//	go build -o build/bench/echoload bench/echoload.go
//	build/bench/echoload -addr 127.0.0.1:7001 [-c 100] [-size 64] [-d 10s] [-name goro]
//
// Output ends with:
//
//	RESULT echo_<name>_req_per_s <req/s>
//	RESULT echo_<name>_p99_us <p99 latency in microseconds>
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7001", "server address")
	conns := flag.Int("c", 100, "connections")
	size := flag.Int("size", 64, "message size in bytes")
	dur := flag.Duration("d", 10*time.Second, "duration")
	name := flag.String("name", "server", "name in the RESULT lines")
	flag.Parse()

	var wg sync.WaitGroup
	lats := make([][]time.Duration, *conns)
	errs := make(chan error, *conns)
	start := make(chan struct{})
	var end time.Time
	for i := 0; i < *conns; i++ {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echoload:", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			out := make([]byte, *size)
			in := make([]byte, *size)
			for k := range out {
				out[k] = byte(i + k)
			}
			l := make([]time.Duration, 0, 1<<16)
			<-start
			for {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				if _, err := c.Write(out); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, in); err != nil {
					errs <- err
					return
				}
				l = append(l, time.Since(t0))
			}
			lats[i] = l
		}(i, c)
	}
	t0 := time.Now()
	end = t0.Add(*dur)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "echoload:", err)
		os.Exit(1)
	default:
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "echoload: no requests completed")
		os.Exit(1)
	}
	pct := func(p float64) float64 {
		return float64(all[int(float64(len(all)-1)*p)].Microseconds())
	}
	rps := float64(len(all)) / elapsed.Seconds()
	fmt.Printf("%s: %d connections, %d-byte messages, %.1f s: %.0f req/s, "+
		"latency p50 %.0f us, p99 %.0f us, max %.0f us\n",
		*name, *conns, *size, elapsed.Seconds(), rps, pct(0.5), pct(0.99),
		pct(1))
	fmt.Printf("RESULT echo_%s_req_per_s %.0f\n", *name, rps)
	fmt.Printf("RESULT echo_%s_p99_us %.0f\n", *name, pct(0.99))
}
