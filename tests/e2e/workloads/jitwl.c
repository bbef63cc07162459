/* jitwl: JIT-style code for the JIT tests (test_symbols.py). Three
 * functions of machine code copied into anonymous executable memory:
 * jit_hot (3 units of work per round), jit_cold (1) and an unnamed one
 * (1). With mode "jitdump" it writes DIR/jit-PID.dump in the jitdump
 * format (tools/perf/Documentation/jitdump-specification.txt) naming
 * jit_hot and jit_cold, and maps it executable as the spec asks, so a
 * profiler finds it through the process's mappings; with "none" it
 * writes nothing (the unnamed code is then all "[jit]"); with "perfmap"
 * it names them in /tmp/perf-PID.map instead, and removes it at exit (as
 * runtimes that clean up do: profd must have read it while we ran).
 *
 * "swap-perfmap S" and "swap-jitdump S" replace code at one address: the
 * first page runs as "phase_one" for S seconds after "jitwl ready", then
 * other code is copied over it, named "phase_two" (a perf map line, or a
 * jitdump CODE_LOAD record at that time), and "switched NS CPU" (the
 * time, CLOCK_REALTIME, and the CPU seconds used so far) is printed; the files are removed at exit.
 * "perfmap-big N" is "perfmap" with N lines naming code that does not
 * exist before its own two (a large runtime's map, for the bounds).
 * "perfmap-sleep S" waits for SIGUSR1, then names two pieces of JIT code in
 * /tmp/perf-PID.map (as a runtime does when it compiles them) and for S
 * seconds calls them: they nanosleep by a system call of their own (so
 * the wait's leaf frame is JIT code), jit_sleep_a for 30 ms, then
 * jit_sleep_b for 10 ms, in turn. It measures the time in
 * each call (CLOCK_MONOTONIC), prints "slept A B" (nanoseconds), removes
 * the map and exits.
 * Usage: jitwl seconds jitdump|none|perfmap [DIR]
 *        jitwl seconds perfmap-big N
 *        jitwl seconds swap-perfmap|swap-jitdump S */
#include <elf.h>
#include <signal.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

/* long f(long n): mov %rdi,%rcx; 1: dec %rcx; jnz 1b; ret */
static const unsigned char loop_code[] = {
	0x48, 0x89, 0xf9, 0x48, 0xff, 0xc9, 0x75, 0xfb, 0xc3,
};
/* The same with a nop before the loop: other code, same cost. */
static const unsigned char loop_code2[] = {
	0x90, 0x48, 0x89, 0xf9, 0x48, 0xff, 0xc9, 0x75, 0xfb, 0xc3,
};

struct jd_header {
	uint32_t magic, version, total_size, elf_mach, pad1, pid;
	uint64_t timestamp, flags;
};

struct jd_load {
	uint32_t id, total_size;
	uint64_t timestamp;
	uint32_t pid, tid;
	uint64_t vma, code_addr, code_size, code_index;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void code_load(int fd, const char *name, void *addr, size_t size,
		      uint64_t index)
{
	struct jd_load r = {
		.id = 0, .timestamp = mono_ns(), .pid = (uint32_t)getpid(),
		.tid = (uint32_t)getpid(), .vma = (uintptr_t)addr,
		.code_addr = (uintptr_t)addr, .code_size = size,
		.code_index = index,
	};

	r.total_size = (uint32_t)(sizeof(r) + strlen(name) + 1 + size);
	if (write(fd, &r, sizeof(r)) != sizeof(r) ||
	    write(fd, name, strlen(name) + 1) != (ssize_t)strlen(name) + 1 ||
	    write(fd, addr, size) != (ssize_t)size)
		exit(2);
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int jitdump_open(const char *dir, char *path, size_t size)
{
	struct jd_header h = {
		.magic = 0x4A695444, .version = 1,
		.total_size = sizeof(h), .elf_mach = EM_X86_64,
		.pid = (uint32_t)getpid(), .timestamp = mono_ns(),
	};
	int fd;

	snprintf(path, size, "%s/jit-%d.dump", dir, getpid());
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (fd < 0 || write(fd, &h, sizeof(h)) != sizeof(h))
		exit(2);
	/* perf finds the file by this mapping (the spec's marker). */
	if (mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd,
		 0) == MAP_FAILED)
		exit(2);
	return fd;
}

static void perfmap_line(const char *path, void *addr, size_t size,
			 const char *name)
{
	FILE *f = fopen(path, "a");

	if (!f)
		exit(2);
	fprintf(f, "%lx %zx %s\n", (unsigned long)(uintptr_t)addr, size,
		name);
	fclose(f);
}

/* long f(const struct timespec *ts): nanosleep(ts, NULL) by its own
 * system call: mov $35,%eax; xor %esi,%esi; syscall; ret */
static const unsigned char sleep_code[] = {
	0xb8, 0x23, 0x00, 0x00, 0x00, 0x31, 0xf6, 0x0f, 0x05, 0xc3,
};

static volatile sig_atomic_t cued;

static void on_cue(int sig)
{
	(void)sig;
	cued = 1;
}

/* Waits in JIT code (see the top). */
static int jit_sleeps(double deadline, double seconds)
{
	struct timespec a = { 0, 30 * 1000 * 1000 }, b = { 0, 10 * 1000 * 1000 };
	uint64_t ta = 0, tb = 0, t;
	long (*fa)(const struct timespec *), (*fb)(const struct timespec *);
	unsigned char *mem;
	char path[4096];
	double until;

	mem = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	memcpy(mem, sleep_code, sizeof(sleep_code));
	memcpy(mem + 4096, sleep_code, sizeof(sleep_code));
	if (mprotect(mem, 2 * 4096, PROT_READ | PROT_EXEC) < 0)
		return 2;
	fa = (long (*)(const struct timespec *))(void *)mem;
	fb = (long (*)(const struct timespec *))(void *)(mem + 4096);
	signal(SIGUSR1, on_cue);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("jitwl ready\n");
	while (!cued && !e2e_expired(deadline))
		usleep(10 * 1000);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	perfmap_line(path, mem, sizeof(sleep_code), "jit_sleep_a");
	perfmap_line(path, mem + 4096, sizeof(sleep_code), "jit_sleep_b");
	until = e2e_now() + seconds;
	while (e2e_now() < until && !e2e_expired(deadline)) {
		t = mono_ns();
		fa(&a);
		ta += mono_ns() - t;
		t = mono_ns();
		fb(&b);
		tb += mono_ns() - t;
	}
	unlink(path);
	printf("slept %llu %llu\n", (unsigned long long)ta,
	       (unsigned long long)tb);
	return 0;
}

/* Code replaced at one address (see the top). */
static int swap(double deadline, bool jitdump, double after)
{
	unsigned char *mem;
	long (*fn)(long);
	char path[4096];
	double t0;
	int fd = -1;

	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	memcpy(mem, loop_code, sizeof(loop_code));
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC) < 0)
		return 2;
	fn = (long (*)(long))(void *)mem;
	if (jitdump) {
		fd = jitdump_open("/tmp", path, sizeof(path));
		code_load(fd, "phase_one", mem, sizeof(loop_code), 1);
	} else {
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
		perfmap_line(path, mem, sizeof(loop_code), "phase_one");
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("jitwl ready\n");
	t0 = e2e_now();
	while (e2e_now() - t0 < after && !e2e_expired(deadline))
		fn(2000000);
	if (mprotect(mem, 4096, PROT_READ | PROT_WRITE) < 0)
		return 2;
	memcpy(mem, loop_code2, sizeof(loop_code2));
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC) < 0)
		return 2;
	if (jitdump)
		code_load(fd, "phase_two", mem, sizeof(loop_code2), 2);
	else
		perfmap_line(path, mem, sizeof(loop_code2), "phase_two");
	{
		struct timespec cpu;

		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
		printf("switched %llu %.6f\n", (unsigned long long)real_ns(),
		       cpu.tv_sec + cpu.tv_nsec / 1e9);
	}
	while (!e2e_expired(deadline))
		fn(2000000);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "none";
	long (*fn[3])(long);
	unsigned char *mem;
	char path[4096];
	int i;

	if (!strcmp(mode, "perfmap-sleep"))
		return jit_sleeps(deadline, argc > 3 ? atof(argv[3]) : 2);
	if (!strncmp(mode, "swap-", 5))
		return swap(deadline, !strcmp(mode, "swap-jitdump"),
			    argc > 3 ? atof(argv[3]) : 1);
	/* One page per function: three anonymous mappings' worth of code. */
	mem = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	for (i = 0; i < 3; i++) {
		memcpy(mem + i * 4096, loop_code, sizeof(loop_code));
		fn[i] = (long (*)(long))(void *)(mem + i * 4096);
	}
	if (mprotect(mem, 3 * 4096, PROT_READ | PROT_EXEC) < 0)
		return 2;
	if (!strcmp(mode, "jitdump")) {
		int fd = jitdump_open(argc > 3 ? argv[3] : "/tmp", path,
				      sizeof(path));

		code_load(fd, "jit_hot", fn[0], sizeof(loop_code), 1);
		code_load(fd, "jit_cold", fn[1], sizeof(loop_code), 2);
		close(fd);
	} else if (!strncmp(mode, "perfmap", 7)) {
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
		if (!strcmp(mode, "perfmap-big")) {
			long n = argc > 3 ? atol(argv[3]) : 0;
			FILE *f = fopen(path, "w");

			if (!f)
				return 2;
			for (long k = 0; k < n; k++)
				fprintf(f, "%lx 10 filler_%ld\n",
					0x100000000ul + 16ul * (unsigned long)k, k);
			fclose(f);
		}
		perfmap_line(path, fn[0], sizeof(loop_code), "jit_hot");
		perfmap_line(path, fn[1], sizeof(loop_code), "jit_cold");
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("jitwl ready\n");
	/* Of irregular length (E2E_VARY), or the round aliases with the
	 * sampling rate; and short (~0.3 ms a round), so that a sample's
	 * place in the round is new each time even at 499 Hz. */
	do {
		fn[0]((long)E2E_VARY(3 * 200000));
		fn[1]((long)E2E_VARY(200000));
		fn[2]((long)E2E_VARY(200000));
	} while (!e2e_expired(deadline));
	if (!strncmp(mode, "perfmap", 7))
		unlink(path);
	return 0;
}
