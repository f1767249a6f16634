// bench/go/yield - Go peer of bench/yield.c: cost of runtime.Gosched
// between two goroutines on one P.
//
// Two goroutines each call runtime.Gosched() M times; with GOMAXPROCS=1
// every call switches to the other. The wall time of a round over 2*M is
// the cost of one yield. R rounds, median.
//
// Run (make bench builds it as build/bench/go/yield):
//
//	GOMAXPROCS=1 build/bench/go/yield [-n M] [-r R]   (default 10000000, 5)
//
// Output ends with: RESULT yield_ns <median>
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
	m := flag.Int("n", 10000000, "yields per goroutine per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	fmt.Printf("yield (Go): 2 goroutines x %d yields per round, %d rounds, GOMAXPROCS=%d\n",
		*m, *rounds, runtime.GOMAXPROCS(0))
	res := make([]float64, *rounds)
	var wg sync.WaitGroup
	for r := range res {
		t0 := time.Now()
		wg.Add(2)
		for i := 0; i < 2; i++ {
			go func() {
				for j := 0; j < *m; j++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		res[r] = float64(d.Nanoseconds()) / (2 * float64(*m))
		fmt.Printf("round %d: %.1f ns/yield (%.1f ms)\n", r+1, res[r],
			float64(d.Nanoseconds())/1e6)
	}
	sort.Float64s(res)
	fmt.Printf("RESULT yield_ns %.1f\n", res[len(res)/2])
}
