/* heapwl: heap workload with known truth, driven by commands on stdin so
 * that the test can start tracking before the measured allocations.
 *
 * Prints "heapwl ready" once started (after pre_alloc), then for every line
 * read from stdin runs that command and prints "done <command>". Between
 * commands it blocks in read(); EOF on stdin, the "exit" command or the
 * safety deadline (argv[1] seconds, SIGALRM) ends it. stdout is unbuffered.
 *
 * Every allocation happens in a noinline function named after what it
 * does; that function is the leaf (the allocator's caller) of its stacks.
 * Results go to a volatile global, and the build uses
 * -fno-builtin-malloc -fno-builtin-free..., so GCC cannot drop malloc/free
 * pairs. The sizes and counts below are the truth test_heap.py checks.
 *
 * Build: -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls
 *        -fno-inline -fno-builtin -pthread
 * Usage: heapwl [seconds]
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define NOINLINE __attribute__((noinline))

/* Everything allocated and kept lands here, so it is live and reachable. */
static void *volatile keep[400000];
static volatile unsigned long nkeep;
static void *volatile sink;

static void hold(void *p)
{
	if (!p) {
		fprintf(stderr, "heapwl: allocation failed\n");
		exit(3);
	}
	keep[nkeep++] = p;
}

/* ---- allocated before "ready": tracking starts later ---- */
#define PRE_N 40
#define PRE_SIZE 3000
static void *volatile pre[PRE_N];

NOINLINE void pre_alloc(void)
{
	for (int i = 0; i < PRE_N; i++)
		pre[i] = malloc(PRE_SIZE);
}

/* free's address taken: in the non-PIE build (heapwl-nopie), "free" is
 * then the executable's own PLT entry for every module (its canonical
 * address), a trap for whoever redirects the GOT. */
static void (*volatile free_fn)(void *);

/* frees the pre-tracking blocks but one, which is realloc()ed to 5000
 * bytes in pre_grow: a block profd never saw moves into a new one. */
NOINLINE void free_pre(void)
{
	free_fn = free;	/* in code: an absolute address in non-PIE */
	for (int i = 1; i < PRE_N; i++)
		free_fn(pre[i]);
}

NOINLINE void pre_grow(void)
{
	pre[0] = realloc(pre[0], 5000);
	hold(pre[0]);
}

/* ---- "basic" ---- */
NOINLINE void keep_a(void)		/* 100 x 1000 live */
{
	for (int i = 0; i < 100; i++)
		hold(malloc(1000));
}

NOINLINE void keep_b(void)		/* 50 x 4096 live */
{
	for (int i = 0; i < 50; i++)
		hold(malloc(4096));
}

NOINLINE void churn(void)		/* 1000 x 64 allocated and freed */
{
	for (int i = 0; i < 1000; i++) {
		sink = malloc(64);
		free(sink);
	}
}

NOINLINE void do_calloc(void)		/* 20 x calloc(10, 100) live */
{
	for (int i = 0; i < 20; i++)
		hold(calloc(10, 100));
}

/* realloc chain: realloc_first mallocs 16 bytes, realloc_step grows the
 * block 16 -> 32 -> ... -> 4096 (8 calls) and keeps it. */
NOINLINE void *realloc_first(void)
{
	return malloc(16);
}

NOINLINE void *realloc_step(void *p, size_t n)
{
	return realloc(p, n);
}

NOINLINE void realloc_chain(void)
{
	void *p = realloc_first();

	for (size_t n = 32; n <= 4096; n *= 2)
		p = realloc_step(p, n);
	hold(p);
}

NOINLINE void do_posix_memalign(void)	/* 5 x 256 live */
{
	for (int i = 0; i < 5; i++) {
		void *p = NULL;

		if (posix_memalign(&p, 64, 256))
			p = NULL;
		hold(p);
	}
}

NOINLINE void do_aligned_alloc(void)	/* 3 x 512 live */
{
	for (int i = 0; i < 3; i++)
		hold(aligned_alloc(64, 512));
}

NOINLINE void do_memalign(void)		/* 4 x 384 live */
{
	for (int i = 0; i < 4; i++)
		hold(memalign(128, 384));
}

NOINLINE void do_valloc(void)		/* 2 x 1000 live */
{
	for (int i = 0; i < 2; i++)
		hold(valloc(1000));
}

NOINLINE void do_reallocarray(void)	/* 6 x (10 x 30) live */
{
	for (int i = 0; i < 6; i++)
		hold(reallocarray(NULL, 10, 30));
}

NOINLINE void basic(void)
{
	keep_a();
	keep_b();
	churn();
	do_calloc();
	realloc_chain();
	do_posix_memalign();
	do_aligned_alloc();
	do_memalign();
	do_valloc();
	do_reallocarray();
}

/* ---- "grow": 10 x 10000 more live ---- */
NOINLINE void grow_more(void)
{
	for (int i = 0; i < 10; i++)
		hold(malloc(10000));
}

/* ---- "threads": thr_produce allocates 500 x 200 in one thread and hands
 * the blocks through a pipe to another thread, whose thr_consume frees
 * them ---- */
#define THR_N 500
static int thr_pipe[2];

NOINLINE void thr_produce(void)
{
	for (int i = 0; i < THR_N; i++) {
		void *p = malloc(200);

		if (write(thr_pipe[1], &p, sizeof(p)) != sizeof(p))
			exit(4);
	}
}

NOINLINE void thr_consume(void)
{
	for (int i = 0; i < THR_N; i++) {
		void *p;

		if (read(thr_pipe[0], &p, sizeof(p)) != sizeof(p))
			exit(4);
		free(p);
	}
}

static void *producer(void *arg)
{
	(void)arg;
	thr_produce();
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	thr_consume();
	return NULL;
}

NOINLINE void threads(void)
{
	pthread_t a, b;

	if (pipe(thr_pipe))
		exit(4);
	pthread_create(&b, NULL, consumer, NULL);
	pthread_create(&a, NULL, producer, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	close(thr_pipe[0]);
	close(thr_pipe[1]);
}

/* ---- "big": sampling accuracy. big_keep: BIG_N blocks of 16..2047
 * bytes, live; big_churn: the same sizes, freed at once. ---- */
#define BIG_N 100000
static size_t big_size(unsigned i)
{
	return 16 + (i * 2654435761u >> 7) % 2032;
}

NOINLINE void big_keep(void)
{
	for (unsigned i = 0; i < BIG_N; i++)
		hold(malloc(big_size(i)));
}

NOINLINE void big_churn(void)
{
	for (unsigned i = 0; i < BIG_N; i++) {
		sink = malloc(big_size(i));
		free(sink);
	}
}

/* ---- "leak": 10 x 100 live (start/stop cycles) ---- */
NOINLINE void leak_small(void)
{
	for (int i = 0; i < 10; i++)
		hold(malloc(100));
}

/* ---- "stacks": STACKS_N allocations of 100 bytes in st_leaf, each from
 * its own call stack: st_walk recurses STACKS_BITS deep through st_a or
 * st_b by the bits of the index (2^STACKS_BITS distinct stacks) ---- */
#define STACKS_BITS 11
#define STACKS_N (1u << STACKS_BITS)
NOINLINE void st_leaf(void)
{
	hold(malloc(100));
}

NOINLINE void st_a(unsigned bits, int depth);
NOINLINE void st_b(unsigned bits, int depth);

NOINLINE void st_walk(unsigned bits, int depth)
{
	if (depth == 0)
		st_leaf();
	else if (bits & 1)
		st_a(bits >> 1, depth - 1);
	else
		st_b(bits >> 1, depth - 1);
}

NOINLINE void st_a(unsigned bits, int depth)
{
	st_walk(bits, depth);
}

NOINLINE void st_b(unsigned bits, int depth)
{
	st_walk(bits, depth);
}

NOINLINE void many_stacks(void)
{
	for (unsigned i = 0; i < STACKS_N; i++)
		st_walk(i, STACKS_BITS);
}

/* ---- "storm": four threads (main too) calling malloc, calloc, realloc
 * and free as fast as they can for STORM_S seconds: tracking is started
 * and stopped meanwhile, with threads inside the allocator ---- */
#define STORM_S 5
#define STORM_THREADS 3

NOINLINE void storm_work(void)
{
	time_t end = time(NULL) + STORM_S;
	void *slot[64] = { 0 }, *volatile tmp;
	unsigned i = 0;

	while (time(NULL) < end) {
		for (int k = 0; k < 4096; k++, i++) {
			unsigned j = (i * 2654435761u) >> 26;

			switch (i & 3) {
			case 0:
				free(slot[j]);
				slot[j] = malloc(16 + (i & 1023));
				break;
			case 1:
				slot[j] = realloc(slot[j], 32 + (i & 2047));
				break;
			case 2:
				free(slot[j]);
				slot[j] = calloc(4, 8 + (i & 255));
				break;
			default:
				tmp = malloc(64);
				free(tmp);
			}
		}
	}
	for (unsigned j = 0; j < 64; j++)
		free(slot[j]);
}

static void *storm_thread(void *arg)
{
	(void)arg;
	storm_work();
	return NULL;
}

NOINLINE void storm(void)
{
	pthread_t t[STORM_THREADS];

	for (int k = 0; k < STORM_THREADS; k++)
		pthread_create(&t[k], NULL, storm_thread, NULL);
	storm_work();
	for (int k = 0; k < STORM_THREADS; k++)
		pthread_join(t[k], NULL);
}

/* ---- "fork": a child that allocates (fork_child: 1000 x 100, freed)
 * and exits; the parent waits and fails unless the child exited 0 ---- */
NOINLINE void fork_child(void)
{
	for (int i = 0; i < 1000; i++) {
		void *volatile p = malloc(100);

		free(p);
	}
}

static void fork_cmd(void)
{
	int st;
	pid_t c = fork();

	if (c == 0) {
		fork_child();
		_exit(0);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		fprintf(stderr, "heapwl: fork child failed\n");
		exit(5);
	}
}

/* ---- "plugin": dlopen libheapplug.so (beside this executable);
 * "plugin_keep": call its plug_keep (50 x 1000 live) ---- */
static void (*plug_keep)(void);

static void plugin_load(void)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash;
	void *h;

	if (n <= 0)
		exit(7);
	path[n] = 0;
	slash = strrchr(path, '/');
	strcpy(slash + 1, "libheapplug.so");
	h = dlopen(path, RTLD_NOW);
	plug_keep = h ? (void (*)(void))dlsym(h, "plug_keep") : NULL;
	if (!plug_keep) {
		fprintf(stderr, "heapwl: %s\n", dlerror());
		exit(7);
	}
}

/* "sizes": prints the truth of "big" (count and bytes), computed here. */
static void sizes(void)
{
	unsigned long long b = 0;

	for (unsigned i = 0; i < BIG_N; i++)
		b += big_size(i);
	printf("big %u %llu\n", BIG_N, b);
}

/* "dlhold": a thread sleeps inside a dl_iterate_phdr() callback, holding
 * the loader's lock (as a thread in a slow callback does), until
 * "dlrelease": a dlopen anywhere else in the process waits for it. */
static volatile int dl_held, dl_release;
static pthread_t dl_thread;

static int dl_sleep(struct dl_phdr_info *info, size_t size, void *data)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	(void)info;
	(void)size;
	(void)data;
	dl_held = 1;
	while (!dl_release)
		nanosleep(&ts, NULL);
	return 1;
}

static void *dl_holder(void *arg)
{
	(void)arg;
	dl_iterate_phdr(dl_sleep, NULL);
	return NULL;
}

static void dlhold(void)
{
	struct timespec ts = { 0, 1000 * 1000 };

	dl_release = 0;
	pthread_create(&dl_thread, NULL, dl_holder, NULL);
	while (!dl_held)
		nanosleep(&ts, NULL);
}

static void dlrelease(void)
{
	dl_release = 1;
	pthread_join(dl_thread, NULL);
	dl_held = 0;
}

/* "exec PATH": this process runs PATH (argv PATH 60) from here on. */
static void exec_cmd(const char *path)
{
	char *argv[] = { (char *)path, "60", NULL };

	execv(path, argv);
	fprintf(stderr, "heapwl: exec %s: %m\n", path);
	exit(8);
}

/*
 * $HEAPWL_AGENT=path: switch profd's in-process agent on by itself, with
 * no profd listening — what a process is left with when profd is killed
 * while tracking it in-process, or a child forked from one inherits. The
 * arguments as include/profd_agent.h lays them out (version 2).
 */
struct agent_args {
	uint64_t version, sample_bytes, gen, max_live, slots, errors;
	char allocator[256];
};

static void agent_on(void)
{
	const char *path = getenv("HEAPWL_AGENT");
	struct agent_args a = { 2, 4096, 7, 100000, 0, 0, "libc.so.6" };
	long (*on)(struct agent_args *);
	void *h;

	if (!path)
		return;
	h = dlopen(path, RTLD_NOW);
	on = h ? (long (*)(struct agent_args *))dlsym(h, "profd_heap_on") :
		 NULL;
	if (!on || on(&a) <= 0) {
		fprintf(stderr, "heapwl: agent %s not on\n", path);
		exit(6);
	}
}

int main(int argc, char **argv)
{
	char line[4200];
	double s = argc > 1 ? atof(argv[1]) : 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (getenv("HEAPWL_NODUMP"))	/* as ssh-agent and gpg-agent do */
		prctl(PR_SET_DUMPABLE, 0);
	agent_on();
	if (s > 0)
		alarm((unsigned)s + 1);
	pre_alloc();
	printf("heapwl ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!strcmp(line, "basic"))
			basic();
		else if (!strcmp(line, "grow"))
			grow_more();
		else if (!strcmp(line, "threads"))
			threads();
		else if (!strcmp(line, "free_pre")) {
			free_pre();
			pre_grow();
		} else if (!strcmp(line, "big")) {
			big_keep();
			big_churn();
		} else if (!strcmp(line, "stacks"))
			many_stacks();
		else if (!strcmp(line, "leak"))
			leak_small();
		else if (!strcmp(line, "storm"))
			storm();
		else if (!strcmp(line, "fork"))
			fork_cmd();
		else if (!strcmp(line, "plugin"))
			plugin_load();
		else if (!strcmp(line, "plugin_keep") && plug_keep)
			plug_keep();
		else if (!strcmp(line, "sizes"))
			sizes();
		else if (!strcmp(line, "dlhold"))
			dlhold();
		else if (!strcmp(line, "dlrelease"))
			dlrelease();
		else if (!strncmp(line, "exec ", 5))
			exec_cmd(line + 5);
		else if (!strcmp(line, "exit")) {
			printf("done exit\n");
			return 0;
		} else {
			printf("unknown %s\n", line);
			continue;
		}
		printf("done %s\n", line);
	}
	return 0;
}
