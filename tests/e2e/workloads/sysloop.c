/* sysloop: spends most of its CPU time in the kernel, reading /dev/zero in
 * 1 MiB chunks from main -> sys_work (the kernel clears the user buffer).
 * The read is a raw syscall instruction in sys_work on x86-64.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls
 * Usage: sysloop [seconds] */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "common.h"

static char buf[1 << 20];

/* The system call is made right here, not through libc's read(): glibc's
 * syscall wrappers set up no frame, and a frame-pointer unwinder would skip
 * their caller (sys_work). */
#if defined(__x86_64__)
#define RAW_READ(ret, fd, p, n)                                                 \
	__asm__ volatile("syscall"                                              \
			 : "=a"(ret)                                            \
			 : "a"(0L /* __NR_read */), "D"((long)(fd)), "S"(p), "d"(n) \
			 : "rcx", "r11", "memory")
#else
#define RAW_READ(ret, fd, p, n) ((ret) = read((fd), (p), (n)))
#endif

__attribute__((noinline)) void sys_work(int fd)
{
	E2E_FORCE_FRAME();
	for (int i = 0; i < 16; i++) {
		long ret;
		RAW_READ(ret, fd, buf, sizeof(buf)); /* LINE_SYS_READ */
		if (ret < 0)
			_exit(1);
	}
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);
	int fd = open("/dev/zero", O_RDONLY);

	if (fd < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("sysloop ready\n");
	do
		sys_work(fd);
	while (!e2e_expired(deadline));
	return 0;
}
