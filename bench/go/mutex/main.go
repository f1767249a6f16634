// bench/go/mutex - Go peer of bench/mutex.c: 64 goroutines contending for
// one sync.Mutex around a tiny critical section (an increment), or (-w)
// for a sync.RWMutex with 90% readers (a read of the counter under RLock,
// every tenth operation an increment under Lock).
//
// Each round starts 64 goroutines that each make N/64 lock/unlock pairs
// and waits for them; the round's time over N is the cost of one
// operation. R rounds, median.
//
// Run (make bench builds it as build/bench/go/mutex):
//
//	GOMAXPROCS=1 build/bench/go/mutex [-n N] [-r R] [-w]   (default 6400000, 5)
//	GOMAXPROCS=2 build/bench/go/mutex ...
//
// Output ends with: RESULT mutex_ns_per_op_<procs>p <median>
// or (-w): RESULT rwmutex_ns_per_op_<procs>p <median>
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

const ng = 64

var counter, sink int

func main() {
	n := flag.Int("n", 6400000, "operations per round")
	rounds := flag.Int("r", 5, "rounds")
	rw := flag.Bool("w", false, "RWMutex, 90% readers")
	flag.Parse()
	procs := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var rwm sync.RWMutex
	res := make([]float64, *rounds)
	per := *n / ng
	for r := range res {
		counter = 0
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(ng)
		for g := 0; g < ng; g++ {
			go func() {
				if *rw {
					for i := 0; i < per; i++ {
						if i%10 == 0 {
							rwm.Lock()
							counter++
							rwm.Unlock()
						} else {
							rwm.RLock()
							sink = counter
							rwm.RUnlock()
						}
					}
				} else {
					for i := 0; i < per; i++ {
						mu.Lock()
						counter++
						mu.Unlock()
					}
				}
				wg.Done()
			}()
		}
		wg.Wait()
		res[r] = float64(time.Since(t0).Nanoseconds()) / float64(per*ng)
		want := per * ng
		if *rw {
			want = (per + 9) / 10 * ng
		}
		if counter != want {
			fmt.Fprintf(os.Stderr, "mutex: counter %d, want %d\n", counter, want)
			os.Exit(1)
		}
		fmt.Printf("round %d: %.1f ns per operation\n", r+1, res[r])
	}
	sort.Float64s(res)
	name := "mutex"
	if *rw {
		name = "rwmutex"
	}
	fmt.Printf("RESULT %s_ns_per_op_%dp %.1f\n", name, procs, res[len(res)/2])
}
