// bench/go/libcspawn - Go peer of bench/libcspawn.c: cost of spawning and
// joining a goroutine that allocates.
//
// Each round does wg.Add(N), starts N goroutines and waits; each allocates
// a 64-byte object on the heap (it escapes: it is passed to a function
// through a func variable, which the compiler cannot see into), formats
// its index into it with fmt.Appendf (snprintf's peer), drops it and calls
// wg.Done. The wall time over N is the cost of one spawn + run + exit +
// join, garbage collection included. R rounds, median.
//
// Run (make bench builds it as build/bench/go/libcspawn):
//
//	GOMAXPROCS=2 build/bench/go/libcspawn [-n N] [-r R]   (default 1000000, 5)
//
// Output ends with: RESULT libcspawn_ns_per_g_<procs>p <median>
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

// consume is called through a variable, so its argument escapes to the
// heap, as the object a C G mallocs.
var consume = func(p *[64]byte) {}

func main() {
	n := flag.Int("n", 1000000, "goroutines per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	fmt.Printf("libcspawn (Go): %d goroutines per round, %d rounds, GOMAXPROCS=%d, "+
		"each allocates 64 bytes and formats into them\n",
		*n, *rounds, runtime.GOMAXPROCS(0))
	res := make([]float64, *rounds)
	var wg sync.WaitGroup
	for r := range res {
		t0 := time.Now()
		wg.Add(*n)
		for i := 0; i < *n; i++ {
			go func(i int) {
				p := new([64]byte)
				fmt.Appendf(p[:0], "G %d", i)
				consume(p)
				wg.Done()
			}(i)
		}
		wg.Wait()
		d := time.Since(t0)
		res[r] = float64(d.Nanoseconds()) / float64(*n)
		fmt.Printf("round %d: %.1f ns/G (%.1f ms for %d Gs)\n", r+1, res[r],
			float64(d.Nanoseconds())/1e6, *n)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("GCs: %d\n", ms.NumGC)
	sort.Float64s(res)
	fmt.Printf("RESULT libcspawn_ns_per_g_%dp %.1f\n", runtime.GOMAXPROCS(0), res[len(res)/2])
}
