/*
 * LD_PRELOAD helper for bench/heap: stops the process (SIGSTOP) once its
 * libraries are loaded and initialised, just before main runs, so the
 * benchmark can start heap tracking by PID and then time the whole program
 * from SIGCONT to exit.
 *
 * It stops in __libc_start_main (interposed), called from the program's
 * _start, not in a constructor: constructors run inside the dynamic
 * linker, where profd's in-process mode rightly refuses to call dlopen.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>

typedef int (*start_fn)(int (*)(int, char **, char **), int, char **,
			void (*)(void), void (*)(void), void (*)(void), void *);

int __libc_start_main(int (*main)(int, char **, char **), int argc,
		      char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end)
{
	start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");

	unsetenv("LD_PRELOAD"); /* not in the program's children */
	raise(SIGSTOP);
	return real(main, argc, argv, init, fini, rtld_fini, stack_end);
}
