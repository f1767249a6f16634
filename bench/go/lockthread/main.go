// bench/go/lockthread - Go peer of bench/lockthread.c: round trip over
// unbuffered channels between two goroutines, the pinging one locked to
// its thread (runtime.LockOSThread).
//
// Run (make bench builds it as build/bench/go/lockthread):
//
//	GOMAXPROCS=1 build/bench/go/lockthread [-n N] [-r R]   (default 200000, 5)
//	GOMAXPROCS=2 build/bench/go/lockthread
//
// Output ends with: RESULT lockthread_ns_per_roundtrip_<procs>p <median>
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"time"
)

func main() {
	n := flag.Int("n", 200000, "round trips per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	procs := runtime.GOMAXPROCS(0)
	fmt.Printf("lockthread (Go): %d round trips per round, %d rounds, GOMAXPROCS=%d\n",
		*n, *rounds, procs)
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	runtime.LockOSThread()
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
	runtime.UnlockOSThread()
	close(ping)
	<-pong
	sort.Float64s(res)
	fmt.Printf("RESULT lockthread_ns_per_roundtrip_%dp %.1f\n", procs, res[len(res)/2])
}
