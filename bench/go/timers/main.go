// bench/go/timers - Go peer of bench/timers.c: a million timers pending at
// once, memory per timer and the rate at which they fire.
//
// Each round creates N timers (time.NewTimer) all due at the same time T,
// 2 s after the round starts, and reads the resident memory
// (/proc/self/statm) before and after creating them; the main goroutine
// then sleeps until T and receives from every timer's channel in creation
// order. The time from T to the last receive, over N, is the cost of
// firing one timer and receiving its value. Then every timer is stopped
// and dropped (the collector frees them). Memory: the first round's
// figure; time: the median of R rounds.
//
// Run (make bench builds it as build/bench/go/timers):
//
//	GOMAXPROCS=2 build/bench/go/timers [-n N] [-r R]   (default 1000000, 3)
//
// Output ends with:
//
//	RESULT timers_bytes_per_timer <first round>
//	RESULT timers_fire_ns_per_timer <median>
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"time"
)

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, "timers:", err)
		os.Exit(1)
	}
	var size, res int64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		fmt.Fprintln(os.Stderr, "timers: cannot parse /proc/self/statm")
		os.Exit(1)
	}
	return res * int64(os.Getpagesize())
}

func main() {
	n := flag.Int("n", 1000000, "timers per round")
	rounds := flag.Int("r", 3, "rounds")
	flag.Parse()
	res := make([]float64, *rounds)
	var perTimer float64
	for r := range res {
		start := time.Now()
		t := start.Add(2 * time.Second)
		before := rss()
		ts := make([]*time.Timer, *n)
		for i := range ts {
			ts[i] = time.NewTimer(time.Until(t))
		}
		after := rss()
		made := time.Now()
		if !made.Before(t) {
			fmt.Fprintln(os.Stderr, "timers: creating took past T; use a smaller -n")
			os.Exit(1)
		}
		if r == 0 {
			perTimer = float64(after-before) / float64(*n)
		}
		time.Sleep(time.Until(t))
		for i := range ts {
			v := <-ts[i].C
			if v.Before(t) {
				fmt.Fprintf(os.Stderr, "timers: timer %d: bad value\n", i)
				os.Exit(1)
			}
		}
		res[r] = float64(time.Since(t).Nanoseconds()) / float64(*n)
		fmt.Printf("round %d: created in %.0f ns each, %.0f bytes each; %.1f ns per timer fired and received\n",
			r+1, float64(made.Sub(start).Nanoseconds())/float64(*n),
			float64(after-before)/float64(*n), res[r])
		for i := range ts {
			ts[i].Stop()
		}
	}
	sort.Float64s(res)
	fmt.Printf("RESULT timers_bytes_per_timer %.1f\n", perTimer)
	fmt.Printf("RESULT timers_fire_ns_per_timer %.1f\n", res[len(res)/2])
}
