/* inline: inl_hot is always inlined into the noinline outer_fn, called from
 * main. A profile must show inl_hot and outer_fn as two lines of one
 * location, inl_hot (innermost) first, on the line marked LINE_INL_HOT.
 * Build: -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls
 * Usage: inline [seconds] */
#include "common.h"

static inline __attribute__((always_inline)) unsigned long inl_hot(unsigned long x)
{
	/* The whole loop on one line, so every hot instruction maps to it. */
	for (int i = 0; i < 1 << 20; i++) { x = x * 6364136223846793005UL + 1442695040888963407UL; __asm__ volatile("" : "+r"(x)); } /* LINE_INL_HOT */
	return x;
}

__attribute__((noinline)) unsigned long outer_fn(unsigned long x)
{
	E2E_FORCE_FRAME();
	x = inl_hot(x); /* LINE_OUTER_CALL */
	__asm__ volatile("" : "+r"(x));
	return x;
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);
	unsigned long x = 1;
	do
		x = outer_fn(x);
	while (!e2e_expired(deadline));
	e2e_sink = x;
	return 0;
}
