// bench/go/spawn - Go peer of bench/spawn.c: cost of spawning and joining a
// goroutine.
//
// Each round does wg.Add(N), starts N goroutines that only call wg.Done
// and waits; the wall time over N is the cost of one spawn + run + exit +
// join. R rounds, median.
//
// Run (make bench builds it as build/bench/go/spawn):
//
//	GOMAXPROCS=2 build/bench/go/spawn [-n N] [-r R]   (default 1000000, 5)
//
// Output ends with: RESULT spawn_join_ns_per_g <median>
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 1000000, "goroutines per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	fmt.Printf("spawn (Go): %d goroutines per round, %d rounds, GOMAXPROCS=%d\n",
		*n, *rounds, runtime.GOMAXPROCS(0))
	res := make([]float64, *rounds)
	var wg sync.WaitGroup
	for r := range res {
		t0 := time.Now()
		wg.Add(*n)
		for i := 0; i < *n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		d := time.Since(t0)
		res[r] = float64(d.Nanoseconds()) / float64(*n)
		fmt.Printf("round %d: %.1f ns/G (%.1f ms for %d Gs)\n", r+1, res[r],
			float64(d.Nanoseconds())/1e6, *n)
	}
	sort.Float64s(res)
	fmt.Printf("RESULT spawn_join_ns_per_g %.1f\n", res[len(res)/2])
}
