// gohot: main.main -> main.run -> {main.hotA, main.hotB}; hotA does three
// work units for every one of hotB with the same loop body, so the CPU split
// is 75:25 by construction.
// Usage: gohot [seconds]   (default: until killed)
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var sink uint64

const unit = 64 * 4096

// keep makes hotA/hotB non-leaf functions: the Go compiler gives leaf
// functions without locals no frame, and a frame-pointer unwinder would then
// skip their caller.
//
//go:noinline
func keep(x uint64) { sink += x }

//go:noinline
func hotA(n int) {
	x := uint64(88172645463325252)
	for i := 0; i < 3*n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	keep(x)
}

//go:noinline
func hotB(n int) {
	x := uint64(88172645463325252)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	keep(x)
}

//go:noinline
func run(deadline time.Time) {
	// Each call's length is drawn from [unit/2, 3*unit/2] (mean unit):
	// fixed-length rounds alias with a fixed sampling rate (common.h's
	// E2E_VARY).
	seed := uint64(0x2545F4914F6CDD1D)
	vary := func() int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return unit/2 + int((seed>>33)%uint64(unit+1))
	}
	for {
		for i := 0; i < 8; i++ {
			hotA(vary())
			hotB(vary())
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return
		}
	}
}

func main() {
	var deadline time.Time
	if len(os.Args) > 1 {
		if s, err := strconv.ParseFloat(os.Args[1], 64); err == nil && s > 0 {
			deadline = time.Now().Add(time.Duration(s * float64(time.Second)))
		}
	}
	fmt.Println("gohot ready")
	run(deadline)
}
