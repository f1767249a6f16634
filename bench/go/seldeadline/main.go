// bench/go/seldeadline - Go peer of bench/seldeadline.c: what a deadline
// that never fires (time.After(time.Hour) in the select) adds to a select
// in a loop.
//
// Two loops of N selects, each on a channel c and a channel nobody uses:
// ready (c, capacity 1, gets a value just before each select) and block (a
// partner goroutine sends on c, unbuffered, in a loop, so each select
// parks). Each loop runs plain and with `case <-time.After(time.Hour)`
// beside the two channels' cases (goro's select has the same two cases and
// a deadline). The overhead is (with - plain) per select; R rounds,
// medians.
//
// Run (make bench builds it as build/bench/go/seldeadline):
//
//	GOMAXPROCS=1 build/bench/go/seldeadline [-n N] [-r R]   (default 1000000, 5)
//
// Output ends with:
//
//	RESULT seldeadline_ready_overhead_ns <median>
//	RESULT seldeadline_block_overhead_ns <median>
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"time"
)

var n int
var never chan int

func selects(c chan int, ready, dl bool) float64 {
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if ready {
			c <- 0
		}
		if dl {
			select {
			case <-c:
			case <-never:
			case <-time.After(time.Hour):
				fmt.Fprintln(os.Stderr, "seldeadline: the deadline fired")
				os.Exit(1)
			}
		} else {
			select {
			case <-c:
			case <-never:
			}
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func main() {
	flag.IntVar(&n, "n", 1000000, "selects per loop")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	never = make(chan int)
	readyOver := make([]float64, *rounds)
	blockOver := make([]float64, *rounds)
	for r := 0; r < *rounds; r++ {
		c := make(chan int, 1)
		rp := selects(c, true, false)
		rd := selects(c, true, true)
		c = make(chan int)
		done := make(chan bool)
		go func() {
			for i := 0; i < 2*n; i++ {
				c <- 1
			}
			done <- true
		}()
		bp := selects(c, false, false)
		bd := selects(c, false, true)
		<-done
		fmt.Printf("round %d: ready %.1f / %.1f ns, blocking %.1f / %.1f ns (plain / with a deadline)\n",
			r+1, rp, rd, bp, bd)
		readyOver[r] = rd - rp
		blockOver[r] = bd - bp
	}
	fmt.Printf("RESULT seldeadline_ready_overhead_ns %.1f\n", median(readyOver))
	fmt.Printf("RESULT seldeadline_block_overhead_ns %.1f\n", median(blockOver))
}
