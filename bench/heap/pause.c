/*
 * LD_PRELOAD helper for bench/heap: stops the process (SIGSTOP) once its
 * libraries are loaded and before main runs, so the benchmark can start heap
 * tracking by PID and then time the whole program from SIGCONT to exit.
 */
#include <signal.h>
#include <stdlib.h>

__attribute__((constructor)) static void pause_before_main(void)
{
	unsetenv("LD_PRELOAD"); /* not in the program's children */
	raise(SIGSTOP);
}
