// bench/go/pingpong - Go peer of bench/pingpong.c: round trip over
// unbuffered channels between two goroutines.
//
// Goroutine A sends a value on ping and waits for it on pong; B receives on
// ping and sends it back on pong. The time of N round trips over N is the
// result; R rounds, median.
//
// Run (make bench builds it as build/bench/go/pingpong):
//
//	GOMAXPROCS=1 build/bench/go/pingpong [-n N] [-r R]   (default 2000000, 5)
//	GOMAXPROCS=2 build/bench/go/pingpong
//	... -trace FILE   with runtime/trace recording into FILE (the peer of
//	                  GORO_TRACE=FILE; scripts/tracecost uses /dev/null)
//
// Output ends with: RESULT pingpong_ns_per_roundtrip_<procs>p <median>
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"sort"
	"time"
)

func main() {
	n := flag.Int("n", 2000000, "round trips per round")
	rounds := flag.Int("r", 5, "rounds")
	tracefile := flag.String("trace", "", "record an execution trace into this file")
	flag.Parse()
	if *tracefile != "" {
		f, err := os.Create(*tracefile)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pingpong:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer trace.Stop()
	}
	procs := runtime.GOMAXPROCS(0)
	fmt.Printf("pingpong (Go): %d round trips per round, %d rounds, GOMAXPROCS=%d\n",
		*n, *rounds, procs)
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	res := make([]float64, *rounds)
	for r := range res {
		t0 := time.Now()
		for i := 0; i < *n; i++ {
			ping <- i
			<-pong
		}
		d := time.Since(t0)
		res[r] = float64(d.Nanoseconds()) / float64(*n)
		fmt.Printf("round %d: %.1f ns/round trip\n", r+1, res[r])
	}
	close(ping)
	<-pong
	sort.Float64s(res)
	fmt.Printf("RESULT pingpong_ns_per_roundtrip_%dp %.1f\n", procs, res[len(res)/2])
}
