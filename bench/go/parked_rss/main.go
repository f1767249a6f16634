// bench/go/parked_rss - Go peer of bench/parked_rss.c: resident memory per
// parked goroutine.
//
// The main goroutine locks a sync.Mutex, reads RSS (/proc/self/statm,
// resident pages * page size), starts N goroutines that each touch a
// 256-byte local array in a call (with -l: in the frame that parks, so that
// it stays live), signal "ready" and block on the mutex; once all are
// ready it sleeps 100 ms, reads RSS again and prints (after - before) / N.
// With -c each goroutine first formats its index into a local buffer
// (fmt.Appendf, snprintf's peer), allocates 64 bytes on the heap (they
// escape, as the C G's malloc) and copies the buffer into them, in a call
// that has returned when it parks; Go's garbage collector runs as usual.
// With -g KIB each goroutine first grows its stack by a recursion using
// about KIB KiB (256-byte frames), and the main goroutine runs
// runtime.GC() twice before measuring, so that Go shrinks the parked
// stacks (it halves a stack using less than a quarter of it at each GC).
//
// Run (make bench builds it as build/bench/go/parked_rss):
//
//	GOMAXPROCS=2 build/bench/go/parked_rss [-n N] [-g KIB] [-l] [-c]   (default 100000)
//
// Output ends with: RESULT parked_rss[_libc][_after_growth_and_scan][_live_local]_bytes_per_g X
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, "parked_rss:", err)
		os.Exit(1)
	}
	var size, res int64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		fmt.Fprintln(os.Stderr, "parked_rss: cannot parse /proc/self/statm")
		os.Exit(1)
	}
	return res * int64(os.Getpagesize())
}

var sink int

// grow uses about depth * 256 bytes of stack, then returns.
//
//go:noinline
func grow(depth int) int {
	var pad [216]byte
	pad[depth%len(pad)] = byte(depth)
	if depth <= 0 {
		return 0
	}
	return grow(depth-1) + int(pad[depth%len(pad)])
}

// touch is the goroutine's work before it parks: 256 bytes of stack.
//
//go:noinline
func touch() {
	var local [256]byte
	for j := range local {
		local[j] = byte(j)
	}
	sink += int(local[255])
}

// touchAndPark (-l): the same array, live in the frame that parks.
//
//go:noinline
func touchAndPark(park func()) {
	var local [256]byte
	for j := range local {
		local[j] = byte(j)
	}
	park()
	sink += int(local[255])
}

// consume is called through a variable, so its argument escapes to the
// heap.
var consume = func(p *[64]byte) {}

// callLibc (-c) is the peer of the C G's snprintf, malloc and free.
//
//go:noinline
func callLibc(i int) {
	var buf [64]byte
	b := fmt.Appendf(buf[:0], "G %d", i)
	p := new([64]byte)
	copy(p[:], b)
	consume(p)
}

func main() {
	n := flag.Int("n", 100000, "goroutines to park")
	growKiB := flag.Int("g", 0, "grow each stack to about this many KiB first")
	live := flag.Bool("l", false, "park with the 256-byte array live in the frame")
	libc := flag.Bool("c", false, "format into a local buffer and allocate before parking")
	flag.Parse()
	if *libc && *growKiB > 0 {
		fmt.Fprintln(os.Stderr, "parked_rss: -c and -g do not go together")
		os.Exit(2)
	}
	var mu sync.Mutex
	var ready, done sync.WaitGroup
	mu.Lock()
	before := rss()
	ready.Add(*n)
	done.Add(*n)
	for i := 0; i < *n; i++ {
		go func(i int) {
			if *libc {
				callLibc(i)
			}
			if *growKiB > 0 {
				sink = grow(*growKiB * 1024 / 256)
			}
			park := func() {
				ready.Done()
				mu.Lock()
				mu.Unlock()
			}
			if *live {
				touchAndPark(park)
			} else {
				touch()
				park()
			}
			done.Done()
		}(i)
	}
	ready.Wait()
	time.Sleep(100 * time.Millisecond)
	if *growKiB > 0 {
		runtime.GC()
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
	}
	after := rss()
	mu.Unlock()
	done.Wait()
	joined := rss()
	perG := float64(after-before) / float64(*n)
	fmt.Printf("parked_rss (Go): %d goroutines, GOMAXPROCS=%d\n", *n, runtime.GOMAXPROCS(0))
	fmt.Printf("rss before spawning: %d KiB\n", before/1024)
	fmt.Printf("rss with all parked: %d KiB\n", after/1024)
	fmt.Printf("rss after joining:   %d KiB\n", joined/1024)
	suffix := ""
	if *libc {
		fmt.Printf("each goroutine formatted into a local buffer and allocated first\n")
		suffix = "_libc"
	}
	if *growKiB > 0 {
		fmt.Printf("each goroutine grew to ~%d KiB first; runtime.GC() twice\n", *growKiB)
		suffix = "_after_growth_and_scan"
	}
	if *live {
		suffix += "_live_local"
	}
	fmt.Printf("per parked G: %.0f bytes\n", perG)
	fmt.Printf("RESULT parked_rss%s_bytes_per_g %.0f\n", suffix, perG)
}
