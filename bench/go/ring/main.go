// bench/go/ring - Go peer of bench/ring.c: a ring of goroutines passing a
// token over unbuffered channels.
//
// Goroutine i receives on channel i and sends on channel i+1 (the last one
// on channel 0). The main goroutine puts a token carrying a hop count into
// channel 0; each goroutine counts one hop down and passes it on, until one
// finds the count at zero and tells the main goroutine. The time of the
// token's journey over the hops is a round's figure (the ring is built and
// torn down outside it); R rounds, median.
//
// Run (make bench builds it as build/bench/go/ring):
//
//	GOMAXPROCS=2 build/bench/go/ring [-g GS] [-n HOPS] [-r R]   (default 10000, 2000000, 5)
//
// Output ends with: RESULT ring_ns_per_hop_<procs>p <median>
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

func main() {
	ngs := flag.Int("g", 10000, "goroutines in the ring")
	hops := flag.Int("n", 2000000, "hops per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	procs := runtime.GOMAXPROCS(0)
	fmt.Printf("ring (Go): %d goroutines, %d hops per round, %d rounds\n",
		*ngs, *hops, *rounds)
	done := make(chan int, 1)
	res := make([]float64, *rounds)
	for r := range res {
		ch := make([]chan int, *ngs)
		for i := range ch {
			ch[i] = make(chan int)
		}
		var wg sync.WaitGroup
		wg.Add(*ngs)
		for i := 0; i < *ngs; i++ {
			go func(in <-chan int, out chan<- int) {
				for v := range in {
					if v == 0 {
						done <- v
						continue
					}
					out <- v - 1
				}
				wg.Done()
			}(ch[i], ch[(i+1)%*ngs])
		}
		t0 := time.Now()
		ch[0] <- *hops
		if end := <-done; end != 0 {
			fmt.Fprintln(os.Stderr, "ring: the token was lost")
			os.Exit(1)
		}
		res[r] = float64(time.Since(t0).Nanoseconds()) / float64(*hops)
		fmt.Printf("round %d: %.1f ns per hop\n", r+1, res[r])
		for i := range ch {
			close(ch[i])
		}
		wg.Wait()
	}
	sort.Float64s(res)
	fmt.Printf("RESULT ring_ns_per_hop_%dp %.1f\n", procs, res[len(res)/2])
}
