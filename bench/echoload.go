// bench/echoload.go - load for the echo servers (not built on goro): C
// connections, each sending a SIZE-byte message and waiting for the whole
// echo before the next (request/response), for D. Prints the requests per
// second and the latency percentiles of all requests; with -pid, also the
// CPU time (utime + stime of /proc/PID/stat, all its threads) that the
// server process PID used over the run, per request.
//
// -net tcp (bench/echo_server.c, .go), unix (a Unix stream socket: -addr is
// its path; bench/unix_echo.c, bench/go/unix_echo) or udp (one connected
// UDP socket per "connection", a datagram each way; bench/udp_echo.c,
// bench/go/udp_echo). UDP has no retransmission: a datagram lost on the
// way leaves its connection waiting until the end of the run (deadline D
// + 1 s) and is counted as lost; any loss makes the run fail.
//
//	go build -o build/bench/echoload bench/echoload.go
//	build/bench/echoload -addr 127.0.0.1:7001 [-net tcp] [-c 100] [-size 64]
//	    [-d 10s] [-name goro] [-pid PID]
//
// Output ends with:
//
//	RESULT echo_<name>_req_per_s <req/s>
//	RESULT echo_<name>_p99_us <p99 latency in microseconds>
//	RESULT echo_<name>_requests <requests completed>
//	RESULT echo_<name>_cpu_us_per_req <server CPU us per request> (-pid)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cpuTicks returns utime + stime of process pid in clock ticks (100 Hz on
// Linux: USER_HZ), from /proc/PID/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: split after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return u + st, nil
}

const ticksPerSecond = 100 // USER_HZ

func main() {
	addr := flag.String("addr", "127.0.0.1:7001", "server address (a path for unix)")
	network := flag.String("net", "tcp", "tcp, unix or udp")
	conns := flag.Int("c", 100, "connections")
	size := flag.Int("size", 64, "message size in bytes")
	dur := flag.Duration("d", 10*time.Second, "duration")
	name := flag.String("name", "server", "name in the RESULT lines")
	pid := flag.Int("pid", 0, "server process whose CPU time to report")
	flag.Parse()
	if *network != "tcp" && *network != "unix" && *network != "udp" {
		fmt.Fprintln(os.Stderr, "echoload: -net must be tcp, unix or udp")
		os.Exit(2)
	}

	var wg sync.WaitGroup
	lats := make([][]time.Duration, *conns)
	errs := make(chan error, *conns)
	start := make(chan struct{})
	var lost int64
	var end time.Time
	for i := 0; i < *conns; i++ {
		c, err := net.Dial(*network, *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echoload:", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			out := make([]byte, *size)
			in := make([]byte, *size+1)
			for k := range out {
				out[k] = byte(i + k)
			}
			l := make([]time.Duration, 0, 1<<16)
			<-start
			if *network == "udp" {
				c.SetReadDeadline(end.Add(time.Second))
			}
			for {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				if _, err := c.Write(out); err != nil {
					errs <- err
					return
				}
				if *network == "udp" {
					n, err := c.Read(in)
					if errors.Is(err, os.ErrDeadlineExceeded) {
						atomic.AddInt64(&lost, 1)
						break
					}
					if err == nil && n != *size {
						err = fmt.Errorf("echo of %d bytes, sent %d", n, *size)
					}
					if err != nil {
						errs <- err
						return
					}
				} else if _, err := io.ReadFull(c, in[:*size]); err != nil {
					errs <- err
					return
				}
				l = append(l, time.Since(t0))
			}
			lats[i] = l
		}(i, c)
	}
	var cpu0, cpu1 int64
	if *pid != 0 {
		var err error
		if cpu0, err = cpuTicks(*pid); err != nil {
			fmt.Fprintln(os.Stderr, "echoload:", err)
			os.Exit(1)
		}
	}
	t0 := time.Now()
	end = t0.Add(*dur)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	if *pid != 0 {
		var err error
		if cpu1, err = cpuTicks(*pid); err != nil {
			fmt.Fprintln(os.Stderr, "echoload:", err)
			os.Exit(1)
		}
	}
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "echoload:", err)
		os.Exit(1)
	default:
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "echoload: no requests completed")
		os.Exit(1)
	}
	pct := func(p float64) float64 {
		return float64(all[int(float64(len(all)-1)*p)].Microseconds())
	}
	rps := float64(len(all)) / elapsed.Seconds()
	fmt.Printf("%s: %s, %d connections, %d-byte messages, %.1f s: %.0f req/s, "+
		"latency p50 %.0f us, p99 %.0f us, max %.0f us\n",
		*name, *network, *conns, *size, elapsed.Seconds(), rps, pct(0.5),
		pct(0.99), pct(1))
	cpuPerReq := 0.0
	if *pid != 0 {
		cpu := float64(cpu1-cpu0) / ticksPerSecond
		cpuPerReq = cpu * 1e6 / float64(len(all))
		fmt.Printf("server CPU (pid %d, utime+stime): %.2f s of %.2f s, "+
			"%.2f us per request\n", *pid, cpu, elapsed.Seconds(), cpuPerReq)
	}
	if lost > 0 {
		fmt.Fprintf(os.Stderr, "echoload: %d datagrams lost\n", lost)
		os.Exit(1)
	}
	fmt.Printf("RESULT echo_%s_req_per_s %.0f\n", *name, rps)
	fmt.Printf("RESULT echo_%s_p99_us %.0f\n", *name, pct(0.99))
	fmt.Printf("RESULT echo_%s_requests %d\n", *name, len(all))
	if *pid != 0 {
		fmt.Printf("RESULT echo_%s_cpu_us_per_req %.2f\n", *name, cpuPerReq)
	}
}
