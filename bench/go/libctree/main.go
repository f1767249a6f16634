// bench/go/libctree - Go peer of bench/libctree.c: a tree of goroutines
// that allocate and talk over channels.
//
// The main goroutine starts the root of a tree, FANOUT children a node,
// DEPTH levels below the root (default 10 and 6: 1,111,111 goroutines),
// and waits for its result. An inner node makes a channel (capacity
// FANOUT), allocates one argument struct per child (its depth and the
// channel; it escapes to the heap, as the struct a C node mallocs), starts
// its children, receives their results and sends up the size of its
// subtree; a leaf sends up 1. The wall time of one tree is a round's
// figure; R rounds, median.
//
// Run (make bench builds it as build/bench/go/libctree):
//
//	GOMAXPROCS=2 build/bench/go/libctree [-f FANOUT] [-d DEPTH] [-r R]   (default 10, 6, 5)
//
// Output ends with: RESULT libctree_ms_<procs>p <median>
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

type nodeArg struct {
	depth int
	up    chan int // the parent's channel: this node's result
}

var fanout, depth int

func node(a *nodeArg) {
	sum := 1
	if a.depth < depth {
		c := make(chan int, fanout)
		for k := 0; k < fanout; k++ {
			go node(&nodeArg{depth: a.depth + 1, up: c})
		}
		for k := 0; k < fanout; k++ {
			sum += <-c
		}
	}
	a.up <- sum
}

func main() {
	f := flag.Int("f", 10, "children per inner node")
	d := flag.Int("d", 6, "levels below the root")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	fanout, depth = *f, *d
	if fanout < 1 || depth < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "usage: libctree [-f FANOUT] [-d DEPTH] [-r ROUNDS]")
		os.Exit(2)
	}
	nodes, level := 1, 1
	for i := 1; i <= depth; i++ {
		level *= fanout
		nodes += level
		if nodes > 100000000 {
			fmt.Fprintln(os.Stderr, "libctree: tree too large")
			os.Exit(2)
		}
	}
	fmt.Printf("libctree (Go): fan-out %d, depth %d: %d goroutines per tree, %d rounds, GOMAXPROCS=%d\n",
		fanout, depth, nodes, *rounds, runtime.GOMAXPROCS(0))
	res := make([]float64, *rounds)
	result := make(chan int, 1)
	for r := range res {
		t0 := time.Now()
		go node(&nodeArg{depth: 0, up: result})
		if got := <-result; got != nodes {
			fmt.Fprintf(os.Stderr, "libctree: the root said %d nodes, not %d\n", got, nodes)
			os.Exit(1)
		}
		dt := time.Since(t0)
		res[r] = float64(dt.Nanoseconds()) / 1e6
		fmt.Printf("round %d: %.1f ms per tree (%.1f ns per G)\n", r+1, res[r],
			float64(dt.Nanoseconds())/float64(nodes))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("GCs: %d\n", ms.NumGC)
	sort.Float64s(res)
	fmt.Printf("RESULT libctree_ms_%dp %.1f\n", runtime.GOMAXPROCS(0), res[len(res)/2])
}
