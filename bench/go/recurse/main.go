// bench/go/recurse - Go peer of bench/recurse.c: recursion to 1 MiB of
// stack in a fresh goroutine.
//
// The main goroutine starts one goroutine at a time; it recurses 4096
// levels with a 256-byte frame (a 216-byte array, the other locals, the
// frame pointer and return address), 1 MiB of stack, then returns and
// exits; the main goroutine waits for it before starting the next. Each run starts on a
// fresh stack, so the time includes the stack copies on the way down. The
// time of N runs over N is the result; R rounds, median.
//
// Run (make bench builds it as build/bench/go/recurse):
//
//	GOMAXPROCS=1 build/bench/go/recurse [-n N] [-r R]   (default 2000, 5)
//
// Output ends with: RESULT recurse_1mib_us_per_run <median>
package main

import (
	"flag"
	"fmt"
	"sort"
	"sync"
	"time"
)

const depth = 4096

var sink int

//go:noinline
func deep(d int) int {
	var pad [216]byte
	pad[d%len(pad)] = byte(d)
	if d <= 0 {
		return 0
	}
	return deep(d-1) + int(pad[d%len(pad)])
}

func main() {
	n := flag.Int("n", 2000, "runs per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	fmt.Printf("recurse (Go): %d runs of %d levels (~1 MiB) per round, %d rounds\n",
		*n, depth, *rounds)
	res := make([]float64, *rounds)
	var wg sync.WaitGroup
	for r := range res {
		t0 := time.Now()
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func() {
				sink = deep(depth)
				wg.Done()
			}()
			wg.Wait()
		}
		d := time.Since(t0)
		res[r] = float64(d.Nanoseconds()) / 1e3 / float64(*n)
		fmt.Printf("round %d: %.2f us/run (%.1f ms for %d runs)\n", r+1, res[r],
			float64(d.Nanoseconds())/1e6, *n)
	}
	sort.Float64s(res)
	fmt.Printf("RESULT recurse_1mib_us_per_run %.2f\n", res[len(res)/2])
}
