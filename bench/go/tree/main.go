// bench/go/tree - Go peer of bench/tree.c: a binary tree of goroutines,
// each reporting to its parent over an unbuffered channel.
//
// The main goroutine starts the root of a complete binary tree of DEPTH
// levels below the root (default 19: 1,048,575 goroutines) and waits for
// its result. An inner node makes an unbuffered channel, starts its two
// children, receives their results and sends its subtree's size (1 + the
// children's results) to its parent; a leaf sends 1. The wall time of one
// tree is a round's figure; R rounds, median.
//
// Run (make bench builds it as build/bench/go/tree):
//
//	GOMAXPROCS=2 build/bench/go/tree [-d DEPTH] [-r R]   (default 19, 5)
//
// Output ends with: RESULT tree_ms_<procs>p <median ms per tree>
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

var depth int

func node(d int, up chan<- int) {
	sum := 1
	if d < depth {
		c := make(chan int)
		go node(d+1, c)
		go node(d+1, c)
		sum += <-c
		sum += <-c
	}
	up <- sum
}

func main() {
	flag.IntVar(&depth, "d", 19, "levels below the root")
	rounds := flag.Int("r", 5, "rounds")
	flag.Parse()
	procs := runtime.GOMAXPROCS(0)
	nodes := (2 << depth) - 1
	fmt.Printf("tree (Go): depth %d: %d goroutines per tree, %d rounds\n",
		depth, nodes, *rounds)
	result := make(chan int)
	res := make([]float64, *rounds)
	for r := range res {
		t0 := time.Now()
		go node(0, result)
		if got := <-result; got != nodes {
			fmt.Fprintf(os.Stderr, "tree: the root said %d nodes, not %d\n",
				got, nodes)
			os.Exit(1)
		}
		el := time.Since(t0)
		res[r] = float64(el.Nanoseconds()) / 1e6
		fmt.Printf("round %d: %.1f ms per tree (%.1f ns per goroutine)\n",
			r+1, res[r], float64(el.Nanoseconds())/float64(nodes))
	}
	sort.Float64s(res)
	fmt.Printf("RESULT tree_ms_%dp %.1f\n", procs, res[len(res)/2])
}
