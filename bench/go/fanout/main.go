// bench/go/fanout - Go peer of bench/fanout.c: fan-out/fan-in over
// buffered channels, one producer, 8 workers, one collector.
//
// A producer goroutine sends N values into a buffered channel (capacity
// 128) and closes it; 8 workers receive from it, square the values and
// send the squares into a second buffered channel (capacity 128); the main
// goroutine receives N squares and sums them. The time per value is the
// result; R rounds, median.
//
// Run (make bench builds it as build/bench/go/fanout):
//
//	GOMAXPROCS=2 build/bench/go/fanout [-n N] [-r R]   (default 2000000, 5)
//
// Output ends with: RESULT fanout_ns_per_value_<procs>p <median>
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

const (
	nworkers = 8
	capacity = 128
)

func main() {
	n := flag.Int("n", 2000000, "values per round")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	procs := runtime.GOMAXPROCS(0)
	var want uint
	for i := 0; i < *n; i++ {
		want += uint(i) * uint(i)
	}
	res := make([]float64, *rounds)
	for r := range res {
		jobs := make(chan int, capacity)
		results := make(chan int, capacity)
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(nworkers + 1)
		for i := 0; i < nworkers; i++ {
			go func() {
				for v := range jobs {
					results <- v * v
				}
				wg.Done()
			}()
		}
		go func() {
			for i := 0; i < *n; i++ {
				jobs <- i
			}
			close(jobs)
			wg.Done()
		}()
		var sum uint
		for i := 0; i < *n; i++ {
			sum += uint(<-results)
		}
		res[r] = float64(time.Since(t0).Nanoseconds()) / float64(*n)
		wg.Wait()
		if sum != want {
			fmt.Fprintf(os.Stderr, "fanout: sum %d, want %d\n", sum, want)
			os.Exit(1)
		}
		fmt.Printf("round %d: %.1f ns per value\n", r+1, res[r])
	}
	sort.Float64s(res)
	fmt.Printf("RESULT fanout_ns_per_value_%dp %.1f\n", procs, res[len(res)/2])
}
