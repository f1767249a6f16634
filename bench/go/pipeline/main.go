// bench/go/pipeline - Go peer of bench/pipeline.c: a 4-stage pipeline over
// buffered channels (64 values each).
//
// The main goroutine sends N values into the first channel; three relay
// goroutines each receive, add one and pass the value on; a sink goroutine
// receives and sums. The result is the time per value through all four
// hand-overs; R rounds, median.
//
// Run (make bench builds it as build/bench/go/pipeline):
//
//	GOMAXPROCS=2 build/bench/go/pipeline [-n N] [-r R]   (default 2000000, 5)
//
// Output ends with: RESULT pipeline_ns_per_value <median>
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

const stages = 4

func main() {
	n := flag.Int("n", 2000000, "values per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	fmt.Printf("pipeline (Go): %d values per round, %d rounds\n", *n, *rounds)
	res := make([]float64, *rounds)
	for r := range res {
		var ch [stages]chan int
		for i := range ch {
			ch[i] = make(chan int, 64)
		}
		var wg sync.WaitGroup
		wg.Add(stages)
		var sum int
		t0 := time.Now()
		for i := 0; i < stages-1; i++ {
			go func(in <-chan int, out chan<- int) {
				for v := range in {
					out <- v + 1
				}
				close(out)
				wg.Done()
			}(ch[i], ch[i+1])
		}
		go func() {
			for v := range ch[stages-1] {
				sum += v
			}
			wg.Done()
		}()
		for i := 0; i < *n; i++ {
			ch[0] <- i
		}
		close(ch[0])
		wg.Wait()
		res[r] = float64(time.Since(t0).Nanoseconds()) / float64(*n)
		want := *n*(*n-1)/2 + *n*(stages-1)
		if sum != want {
			fmt.Fprintf(os.Stderr, "pipeline: sum %d, want %d\n", sum, want)
			os.Exit(1)
		}
		fmt.Printf("round %d: %.1f ns per value\n", r+1, res[r])
	}
	sort.Float64s(res)
	fmt.Printf("RESULT pipeline_ns_per_value %.1f\n", res[len(res)/2])
}
