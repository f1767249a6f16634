// bench/go/wakelat - Go peer of bench/wakelat.c: wake latency of a
// sleeping goroutine beside a spinner on one P.
//
// With GOMAXPROCS=1 a spinner goroutine runs a loop that calls nothing
// (only asynchronous preemption, on by default since Go 1.14, can stop it)
// while the main goroutine sleeps 1 ms at a time with time.Sleep and
// records how late it woke. Prints p50 and p99 over -n samples.
//
// Run (make bench builds it as build/bench/go/wakelat):
//
//	GOMAXPROCS=1 build/bench/go/wakelat [-n SAMPLES]   (default 500)
//
// Output ends with: RESULT wake_p50_ms X, RESULT wake_p99_ms X
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

var stop int32
var sink int

func main() {
	n := flag.Int("n", 500, "samples")
	flag.Parse()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		i := 0
		for atomic.LoadInt32(&stop) == 0 { // intrinsic: no call
			i++
		}
		sink = i
		wg.Done()
	}()
	runtime.Gosched() // the spinner takes the P
	late := make([]float64, *n)
	for i := range late {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		late[i] = float64(time.Since(t0)-time.Millisecond) / 1e6
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	sort.Float64s(late)
	fmt.Printf("wake latency (Go) beside a call-free spinner, GOMAXPROCS=%d, %d samples of 1 ms sleeps: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		runtime.GOMAXPROCS(0), *n, late[*n/2], late[*n*99/100], late[*n-1])
	fmt.Printf("RESULT wake_p50_ms %.2f\n", late[*n/2])
	fmt.Printf("RESULT wake_p99_ms %.2f\n", late[*n*99/100])
}
