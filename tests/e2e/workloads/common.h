/* Shared helpers for the e2e workloads (header only, no profiled code). */
#ifndef E2E_COMMON_H
#define E2E_COMMON_H
#include <stdlib.h>
#include <time.h>

/* GCC leaves frame-pointer setup out of leaf functions that need no stack
 * frame, even with -fno-omit-frame-pointer; a frame-pointer unwinder would
 * then skip the leaf's caller. Asking for the frame address forces
 * push %rbp; mov %rsp,%rbp so that every frame is in the stack. */
#define E2E_FORCE_FRAME() __asm__ volatile("" : : "r"(__builtin_frame_address(0)))

/*
 * A periodic workload sampled at a fixed rate aliases: rounds of 5.0 ms
 * sampled every 5.025 ms (199 Hz) put most samples at one point of the
 * round for seconds on end. Measured with jitwl (a 3:1:1 round of
 * 2.85 ms) at 340-358 Hz: jit_hot's share of ~700 samples read 53-75%,
 * where chance allows 60 +- 7. So each call's work is drawn from
 * [n/2, 3n/2] (mean n): shares keep their expectation and every call
 * loses the phase. One LCG for all threads (relaxed atomics: a race only
 * repeats a draw). A macro, so no function of its own is ever a leaf.
 */
static unsigned long e2e_lcg = 0x2545F4914F6CDD1DUL;
#define E2E_VARY(n) __extension__({                                         \
	unsigned long _n = (n), _s = __atomic_load_n(&e2e_lcg, __ATOMIC_RELAXED) * \
		6364136223846793005UL + 1442695040888963407UL;               \
	__atomic_store_n(&e2e_lcg, _s, __ATOMIC_RELAXED);                   \
	_n / 2 + (_s >> 33) % (_n + 1);                                     \
})

/* One "work unit": a pure-integer loop whose cost does not depend on data
 * (4096 steps on average, E2E_VARY). A macro (not a function) so each hot
 * function contains its own copy and is the leaf of the samples taken in
 * it. The empty asm keeps the compiler from folding the loop. */
#define SPIN_UNITS(units)                                                   \
	do {                                                                \
		E2E_FORCE_FRAME();                                          \
		unsigned long _x = 88172645463325252UL;                     \
		unsigned long _m = E2E_VARY((unsigned long)(units) * 4096UL); \
		for (unsigned long _i = 0; _i < _m; _i++) {                 \
			_x = _x * 6364136223846793005UL + 1442695040888963407UL; \
			__asm__ volatile("" : "+r"(_x));                    \
		}                                                           \
		e2e_sink += _x;                                             \
	} while (0)

static volatile unsigned long e2e_sink;

static inline double e2e_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* argv[1]: seconds to run (float); absent or <= 0: forever. */
static inline double e2e_deadline(int argc, char **argv)
{
	double s = argc > 1 ? atof(argv[1]) : 0;
	return s > 0 ? e2e_now() + s : 0;
}

static inline int e2e_expired(double deadline)
{
	return deadline > 0 && e2e_now() >= deadline;
}
#endif
