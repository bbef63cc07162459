// SPDX-License-Identifier: GPL-2.0
/*
 * profctl: thin client for profd. It speaks HTTP to profd's Unix socket with
 * libcurl, stores profiles atomically (temp file + rename) and prints a top
 * table with pprof_read. All policy lives in the daemon; arguments are
 * checked here only to fail fast with a clear message.
 *
 * Exit status: 0 ok, 1 error (daemon, network, file), 2 bad usage, 130
 * a CPU window abandoned by a second Ctrl-C (nothing saved).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "json_read.h"
#include "pprof_read.h"
#include "report.h"

#ifndef PROFD_VERSION
#define PROFD_VERSION "unknown"
#endif

#define DEFAULT_SOCKET		"/run/profd/profd.sock"
/* A broken or hostile server must not exhaust our memory. */
#define MAX_RESPONSE_BYTES	(1UL << 30)
#define MAX_FILE_BYTES		(1UL << 30)
#define CONNECT_TIMEOUT_S	5L
#define DEFAULT_CPU_SECONDS	30

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

static const char *socket_path = DEFAULT_SOCKET;
static bool json_output;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: profctl [--socket PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  cpu --pid P|--all   CPU profile of process P (or every process) for\n"
		"                      --seconds (default %d)\n"
		"  offcpu --pid P      where P's threads wait off CPU (Go's block profile)\n"
		"  mutex --pid P       where P's threads wait in futexes (contended locks)\n"
		"  threads --pid P     every thread's stack now (Go's goroutine profile)\n"
		"  threadcreate --pid P\n"
		"                      where P creates threads\n"
		"  heap --pid P        live-heap snapshot of process P\n"
		"  heap start|stop --pid P\n"
		"                      start or stop heap tracking of process P\n"
		"  status              what profd is doing (--json or a pipe: /v1/status)\n"
		"  history --since T   the spooled intervals of a window, merged (root)\n"
		"  top FILE            the top functions of a profile file ('-': stdin)\n"
		"\n"
		"'profctl COMMAND --help' shows a command's options.\n"
		"\n"
		"Options:\n"
		"  --socket PATH       profd's socket (default $PROFD_SOCKET, else %s)\n"
		"  --json              JSON output, errors included\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n",
		DEFAULT_CPU_SECONDS, DEFAULT_SOCKET);
}

/* The options every command that shows a profile takes. */
#define REPORT_HELP \
	"Report (cpu, heap, top):\n" \
	"  -n N                rows of the table (default 10)\n" \
	"  --cum               order by cum, not flat (go tool pprof -top -cum)\n" \
	"  --focus REGEX       only samples through a function, source file or\n" \
	"                      binary matching REGEX (POSIX extended; pprof -focus)\n" \
	"  --sample-index NAME which value: samples or cpu (CPU profiles; default\n" \
	"                      cpu), inuse_space, inuse_objects, alloc_space,\n" \
	"                      alloc_objects (heap; default inuse_space), or N\n" \
	"  --folded            folded stacks instead of the table, \"root;...;leaf N\"\n" \
	"                      per line, for flamegraph.pl, inferno and speedscope\n" \
	"                      (counts: samples for CPU profiles, else --sample-index)\n" \
	"\n" \
	"The table: flat and cum per function (names shortened as pprof shortens\n" \
	"C++ names; --json has them whole) and its hottest line: the one with the\n" \
	"most flat value (or cum, where it has none), or \"(A, B close)\" when two\n" \
	"lines are within 10%% of each other.\n"

#define COMMON_HELP \
	"\n" \
	"  --socket PATH, --json, -h/--help as before the command.\n"

static const struct cmd_help {
	const char *name, *text;
} cmd_helps[] = {
	{ "cpu",
	  "Usage: profctl cpu --pid P|--all [--seconds N] [--hz N] [--kernel] [--fp] [-o FILE]\n"
	  "                   [-n N] [--cum] [--focus REGEX] [--sample-index NAME] [--folded]\n"
	  "\n"
	  "CPU profile of every thread of process P: profd samples it for N seconds\n"
	  "(default %d), writes FILE (default cpu-PID-TIME.pb.gz, or -1, -2... added\n"
	  "rather than replace a file; '-': standard output; a device or FIFO is\n"
	  "written in place) and prints its top table. The window ends early when P\n"
	  "exits, and on Ctrl-C, which saves what was collected (a second Ctrl-C\n"
	  "abandons it, saving nothing); the profile's duration is the time covered.\n"
	  "\n"
	  "  --pid P             the process (not a thread id, not a kernel thread)\n"
	  "  --all               every process on the machine (root only): samples\n"
	  "                      labelled service_name, pid, comm, tid, thread; kernel\n"
	  "                      stacks always; --fp does not apply\n"
	  "  --seconds N         the window (at most profd's --max-seconds)\n"
	  "  --hz N              samples per second (default 99)\n"
	  "  --kernel            kernel frames above the user stack (kernel=1)\n"
	  "  --fp                walk frame pointers in BPF instead of DWARF unwinding\n"
	  "  -o FILE             where to write the profile\n"
	  "\n" REPORT_HELP COMMON_HELP },
	{ "offcpu",
	  "Usage: profctl offcpu --pid P [--seconds N] [--kernel] [--fp] [-o FILE] [REPORT]\n"
	  "\n"
	  "Off-CPU profile (Go's block profile) of process P for N seconds (default\n"
	  "%d): each time a thread leaves the CPU, the time until it runs again, by\n"
	  "its stack when it left (labels state=sleeping|disk|preempted, tid,\n"
	  "thread); values contentions (count) and delay (nanoseconds, the default).\n"
	  "\n"
	  "  --kernel            kernel frames too (the syscall, the lock, the I/O)\n"
	  "  --fp                walk frame pointers in BPF instead of DWARF unwinding\n"
	  "  -o FILE             where to write the profile (default offcpu-PID-TIME.pb.gz)\n"
	  "\n" REPORT_HELP COMMON_HELP },
	{ "mutex",
	  "Usage: profctl mutex --pid P [--seconds N] [--kernel] [--fp] [-o FILE] [REPORT]\n"
	  "\n"
	  "Lock contention (Go's mutex profile) of process P for N seconds (default\n"
	  "%d): time spent waiting in futexes (contended pthread mutexes, rwlocks,\n"
	  "condition variables, raw futex waits) by the waiter's stack; values\n"
	  "contentions (count) and delay (nanoseconds, the default). Spinning before\n"
	  "a wait is not seen.\n"
	  "\n" REPORT_HELP COMMON_HELP },
	{ "threads",
	  "Usage: profctl threads --pid P [--text] [-o FILE] [REPORT]\n"
	  "\n"
	  "Every thread of process P now, read without stopping it: threads counted\n"
	  "per identical stack (Go's goroutine profile; labels tid, thread, state,\n"
	  "wchan), written to FILE (default threads-PID-TIME.pb.gz) and shown as a\n"
	  "table. --text prints each thread's stack instead, as Go's goroutine\n"
	  "debug=2 dump does (to FILE with -o).\n"
	  "\n" REPORT_HELP COMMON_HELP },
	{ "threadcreate",
	  "Usage: profctl threadcreate --pid P [--seconds N] [--fp] [-o FILE] [REPORT]\n"
	  "\n"
	  "Threads process P creates in N seconds (default %d), by the creating stack\n"
	  "(Go's threadcreate profile).\n"
	  "\n" REPORT_HELP COMMON_HELP },
	{ "heap",
	  "Usage: profctl heap --pid P [--seconds S] [--sample-bytes N] [--fp] [--inproc]\n"
	  "                    [-o FILE] [-n N] [--cum] [--focus REGEX] [--sample-index NAME]\n"
	  "                    [--folded]\n"
	  "       profctl heap start --pid P [--sample-bytes N] [--fp] [--inproc]\n"
	  "       profctl heap stop --pid P\n"
	  "\n"
	  "Live-heap snapshot of process P: who holds memory now, who allocated the\n"
	  "most. If P is not tracked yet, tracking starts, the snapshot comes after\n"
	  "S seconds (default 10; 0: now) and tracking stops again (a one-off pull);\n"
	  "after 'heap start' it stays on and pulls are immediate. A line under\n"
	  "the table says which. Options that differ from the settings of a tracked\n"
	  "process are refused (stop it first). Writes FILE (default\n"
	  "heap-PID-TIME.pb.gz, never over a file) and prints its top table.\n"
	  "\n"
	  "  --pid P             the process\n"
	  "  --seconds S         how long a new tracking runs before the snapshot\n"
	  "  --sample-bytes N    sample one allocation per N bytes on average\n"
	  "                      (default 128 KiB; 1: every allocation)\n"
	  "  --fp                frame-pointer stacks walked in BPF\n"
	  "  --inproc            sample inside the process (profd loads its agent\n"
	  "                      there): for programs that call malloc millions of\n"
	  "                      times a second\n"
	  "  -o FILE             where to write the profile\n"
	  "\n" REPORT_HELP COMMON_HELP },
	{ "heap start",
	  "Usage: profctl heap start --pid P [--sample-bytes N] [--fp] [--inproc]\n"
	  "\n"
	  "Start heap tracking of process P; it stays on until 'heap stop' (or\n"
	  "--heap-idle-timeout without a pull). Uprobes cost ~0.8 us on every\n"
	  "allocator call. Idempotent for the same settings; other settings than\n"
	  "those of a tracked process are refused (stop it first).\n"
	  "\n"
	  "  --sample-bytes N    sample one allocation per N bytes (default 128 KiB)\n"
	  "  --fp                frame-pointer stacks walked in BPF\n"
	  "  --inproc            sample inside the process (profd's agent)\n"
	  COMMON_HELP },
	{ "heap stop",
	  "Usage: profctl heap stop --pid P\n"
	  "\n"
	  "Stop heap tracking of process P and release its probes.\n"
	  COMMON_HELP },
	{ "status",
	  "Usage: profctl status [--json]\n"
	  "\n"
	  "What profd is doing: windows, samples, unwinding, the symbol cache, heap\n"
	  "tracking and connections, in a few lines; with --json, /v1/status whole\n"
	  "(JSON), for scripts.\n"
	  COMMON_HELP },
	{ "history",
	  "Usage: profctl history [--since T] [--until T] [--service NAME] [--unit UNIT]\n"
	  "                       [--pid P] [-o FILE] [REPORT]\n"
	  "\n"
	  "The intervals profd spooled for the fleet (README \"Fleet\") in a window,\n"
	  "merged into one profile as go tool pprof merges: same stacks add up.\n"
	  "Root only: the history holds every process's profiles.\n"
	  "\n"
	  "  --since T           start: Unix seconds, or a time ago (30m, 2h, 1d);\n"
	  "                      default an hour ago\n"
	  "  --until T           end, the same forms (default now)\n"
	  "  --service NAME      one service (nginx.service, docker/3f2a1b4c5d6e, ...)\n"
	  "  --unit UNIT         one systemd unit\n"
	  "  --pid P             only samples of process P\n"
	  "  -o FILE             write the profile to FILE (default\n"
	  "                      history[-PID]-<time>.pb.gz, never overwritten;\n"
	  "                      '-': standard output)\n"
	  "\n" REPORT_HELP COMMON_HELP },
	{ "top",
	  "Usage: profctl top FILE [-n N] [--cum] [--focus REGEX] [--sample-index NAME]\n"
	  "                        [--folded]\n"
	  "\n"
	  "The top table of a profile file (gzip'd or plain pprof; '-': standard\n"
	  "input), as `go tool pprof -top` shows it.\n"
	  "\n" REPORT_HELP COMMON_HELP },
};

static void cmd_help(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(cmd_helps) / sizeof(cmd_helps[0]); i++) {
		if (strcmp(cmd_helps[i].name, cmd))
			continue;
		/* cpu's text has a %d (its default window); all have %%. */
		printf(cmd_helps[i].text, DEFAULT_CPU_SECONDS);
		return;
	}
	usage(stdout);
}


static void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_msg(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report__error(json_output, 0, buf, NULL);
}

/* The command whose --help a usage error points to ("" for the global). */
static const char *help_cmd = "";

/* Print a usage error and return the exit status for it. */
static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_err(const char *fmt, ...)
{
	char buf[4096], hint[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(hint, sizeof(hint), "Try 'profctl %s%s--help'.", help_cmd,
		 *help_cmd ? " " : "");
	report__error(json_output, 0, buf, hint);
	return EXIT_USAGE;
}

/* ---- arguments ---------------------------------------------------------- */

/* A decimal integer in [1, max], digits only (no sign, no spaces). */
static int parse_positive(const char *s, unsigned long long max,
			  unsigned long long *ret)
{
	unsigned long long v;
	const char *c;
	char *end;

	for (c = s; *c; c++)
		if (*c < '0' || *c > '9')
			return -EINVAL;
	if (c == s)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || !v || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/*
 * Digits with at most one '.', value > 0. Kept as text for the query, so the
 * server sees exactly what the user typed (no "1e+06" from printf).
 */
/* --hz: a positive integer, as the daemon takes it (sampling periods are
 * whole nanoseconds of 1e9/hz). */
static int parse_hz(const char *s)
{
	const char *c;

	if (!*s || strlen(s) > 9)
		return -EINVAL;
	for (c = s; *c; c++)
		if (*c < '0' || *c > '9')
			return -EINVAL;
	return strtoul(s, NULL, 10) > 0 ? 0 : -EINVAL;
}

/* Options a command accepts (all share one getopt table). */
enum {
	A_PID		= 1 << 0,
	A_SECONDS	= 1 << 1,
	A_HZ		= 1 << 2,
	A_KERNEL	= 1 << 3,
	A_SAMPLE_BYTES	= 1 << 4,
	A_OUT		= 1 << 5,
	A_SAMPLE_INDEX	= 1 << 6,
	A_FP		= 1 << 7,
	A_INPROC	= 1 << 8,
	A_ROWS		= 1 << 9,
	A_CUM		= 1 << 10,
	A_FOCUS		= 1 << 11,
	A_FOLDED	= 1 << 12,
	A_PID_OPT	= 1 << 13,	/* --pid allowed, not required */
	A_HISTORY	= 1 << 14,	/* --since, --until, --service, --unit */
	A_TEXT		= 1 << 15,	/* threads: the text dump */
	A_ALL		= 1 << 16,	/* --all: every process (cpu) */
	/* How a profile is shown: cpu, heap, top. */
	A_REPORT	= A_SAMPLE_INDEX | A_ROWS | A_CUM | A_FOCUS | A_FOLDED,
};

enum {
	OPT_SOCKET = 256,
	OPT_JSON,
	OPT_PID,
	OPT_SECONDS,
	OPT_HZ,
	OPT_KERNEL,
	OPT_FP,
	OPT_INPROC,
	OPT_SAMPLE_BYTES,
	OPT_SAMPLE_INDEX,
	OPT_CUM,
	OPT_FOCUS,
	OPT_FOLDED,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_SERVICE,
	OPT_UNIT,
	OPT_TEXT,
	OPT_ALL,
};

struct args {
	unsigned long long pid;		/* 0: not given */
	unsigned long long seconds;	/* 0: not given */
	bool seconds_zero;		/* heap --seconds 0 */
	unsigned long long sample_bytes; /* 0: not given */
	const char *hz;
	bool kernel;
	bool fp;			/* frame pointers only */
	bool inproc;			/* heap: mode=inproc */
	const char *out;
	const char *sample_index;
	unsigned long long rows;	/* -n; 0: not given */
	bool cum;
	const char *focus;		/* a POSIX extended regex */
	bool folded;
	bool all;			/* cpu --all */
	const char *since, *until, *service, *unit;	/* history */
	bool text;			/* threads: the text dump */
	const char *pos[1];
	int n_pos;
};

/*
 * Parse a command's options; argv[0] is the command name. Returns 0 to go
 * on, 1 when --help was printed, or -EINVAL after printing a usage error.
 */
static int args__parse(int argc, char **argv, const char *cmd,
		       unsigned int allowed, int max_pos, struct args *a)
{
	static const struct option opts[] = {
		{ "socket",	  required_argument, NULL, OPT_SOCKET },
		{ "json",	  no_argument,	     NULL, OPT_JSON },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ "pid",	  required_argument, NULL, OPT_PID },
		{ "seconds",	  required_argument, NULL, OPT_SECONDS },
		{ "hz",		  required_argument, NULL, OPT_HZ },
		{ "kernel",	  no_argument,	     NULL, OPT_KERNEL },
		{ "fp",		  no_argument,	     NULL, OPT_FP },
		{ "inproc",	  no_argument,	     NULL, OPT_INPROC },
		{ "sample-bytes", required_argument, NULL, OPT_SAMPLE_BYTES },
		{ "output",	  required_argument, NULL, 'o' },
		{ "sample-index", required_argument, NULL, OPT_SAMPLE_INDEX },
		{ "cum",	  no_argument,	     NULL, OPT_CUM },
		{ "focus",	  required_argument, NULL, OPT_FOCUS },
		{ "folded",	  no_argument,	     NULL, OPT_FOLDED },
		{ "since",	  required_argument, NULL, OPT_SINCE },
		{ "until",	  required_argument, NULL, OPT_UNTIL },
		{ "service",	  required_argument, NULL, OPT_SERVICE },
		{ "unit",	  required_argument, NULL, OPT_UNIT },
		{ "text",	  no_argument,	     NULL, OPT_TEXT },
		{ "all",	  no_argument,	     NULL, OPT_ALL },
		{ NULL, 0, NULL, 0 }
	};
	/* Which A_* flag each command-specific option needs. */
	static const struct {
		int opt;
		unsigned int flag;
	} needs[] = {
		{ OPT_PID, A_PID | A_PID_OPT },
		{ OPT_SECONDS, A_SECONDS },
		{ OPT_HZ, A_HZ },
		{ OPT_KERNEL, A_KERNEL },
		{ OPT_FP, A_FP },
		{ OPT_INPROC, A_INPROC },
		{ OPT_SAMPLE_BYTES, A_SAMPLE_BYTES },
		{ 'o', A_OUT },
		{ OPT_SAMPLE_INDEX, A_SAMPLE_INDEX },
		{ 'n', A_ROWS },
		{ OPT_CUM, A_CUM },
		{ OPT_FOCUS, A_FOCUS },
		{ OPT_FOLDED, A_FOLDED },
		{ OPT_SINCE, A_HISTORY },
		{ OPT_UNTIL, A_HISTORY },
		{ OPT_SERVICE, A_HISTORY },
		{ OPT_UNIT, A_HISTORY },
		{ OPT_TEXT, A_TEXT },
		{ OPT_ALL, A_ALL },
	};
	size_t i;
	int c, li;

	memset(a, 0, sizeof(*a));
	help_cmd = cmd;
	opterr = 0;
	optind = 0;	/* glibc: full reinitialisation */
	while (li = -1, (c = getopt_long(argc, argv, ":ho:n:", opts, &li)) != -1) {
		for (i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
			if (needs[i].opt != c || (allowed & needs[i].flag))
				continue;
			if (li >= 0)
				usage_err("%s: option '--%s' does not apply", cmd,
					  opts[li].name);
			else
				usage_err("%s: option '-%c' does not apply", cmd, c);
			return -EINVAL;
		}

		switch (c) {
		case OPT_SOCKET:
			socket_path = optarg;
			break;
		case OPT_JSON:
			json_output = true;
			break;
		case 'h':
			cmd_help(cmd);
			return 1;
		case OPT_ALL:
			a->all = true;
			break;
		case OPT_PID:
			/* pid_max is at most 2^22; the daemon checks existence. */
			if (parse_positive(optarg, INT_MAX, &a->pid) < 0) {
				usage_err("%s: --pid must be a positive integer, not '%s'",
					  cmd, optarg);
				return -EINVAL;
			}
			break;
		case OPT_SECONDS:
			/* heap: 0 = snapshot now, even if tracking just began. */
			if (!strcmp(cmd, "heap") && !strcmp(optarg, "0")) {
				a->seconds_zero = true;
				break;
			}
			if (parse_positive(optarg, INT_MAX, &a->seconds) < 0) {
				usage_err("%s: --seconds must be a positive integer%s, not '%s'",
					  cmd, strcmp(cmd, "heap") ? "" : " or 0",
					  optarg);
				return -EINVAL;
			}
			break;
		case OPT_HZ:
			if (parse_hz(optarg) < 0) {
				usage_err("%s: --hz must be a positive integer, not '%s'",
					  cmd, optarg);
				return -EINVAL;
			}
			a->hz = optarg;
			break;
		case OPT_KERNEL:
			a->kernel = true;
			break;
		/* Checked by the daemon (400 with the reason). */
		case OPT_SINCE:
			a->since = optarg;
			break;
		case OPT_UNTIL:
			a->until = optarg;
			break;
		case OPT_SERVICE:
			a->service = optarg;
			break;
		case OPT_UNIT:
			a->unit = optarg;
			break;
		case OPT_FP:
			a->fp = true;
			break;
		case OPT_INPROC:
			a->inproc = true;
			break;
		case OPT_SAMPLE_BYTES:
			if (parse_positive(optarg, UINT64_MAX, &a->sample_bytes) < 0) {
				usage_err("%s: --sample-bytes must be a positive integer, not '%s'",
					  cmd, optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			if (!*optarg) {
				usage_err("%s: -o needs a file name", cmd);
				return -EINVAL;
			}
			a->out = optarg;
			break;
		case OPT_SAMPLE_INDEX:
			a->sample_index = optarg;
			break;
		case 'n':
			if (parse_positive(optarg, 1000000, &a->rows) < 0) {
				usage_err("%s: -n must be a positive integer, not '%s'",
					  cmd, optarg);
				return -EINVAL;
			}
			break;
		case OPT_CUM:
			a->cum = true;
			break;
		case OPT_FOCUS: {
			regex_t re;
			char why[256];
			int rc = regcomp(&re, optarg, REG_EXTENDED | REG_NOSUB);

			/* Checked now: a bad one must not waste a window. */
			if (rc) {
				regerror(rc, &re, why, sizeof(why));
				usage_err("%s: --focus '%s': %s", cmd, optarg, why);
				return -EINVAL;
			}
			regfree(&re);
			a->focus = optarg;
			break;
		}
		case OPT_FOLDED:
			a->folded = true;
			break;
		case OPT_TEXT:
			a->text = true;
			break;
		case ':':
			usage_err("%s: option '%s' needs an argument", cmd,
				  argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				usage_err("%s: unknown option '-%c'", cmd, optopt);
			else
				usage_err("%s: unknown option '%s'", cmd,
					  argv[optind - 1]);
			return -EINVAL;
		}
	}
	for (; optind < argc; optind++) {
		if (a->n_pos >= max_pos) {
			usage_err("%s: unexpected argument '%s'", cmd, argv[optind]);
			return -EINVAL;
		}
		a->pos[a->n_pos++] = argv[optind];
	}
	if ((allowed & A_PID) && !a->pid) {
		usage_err("%s: --pid is required", cmd);
		return -EINVAL;
	}
	if ((allowed & A_ALL) && !a->pid == !a->all) {
		usage_err(a->all ? "%s: --pid or --all, not both" :
				   "%s: --pid P or --all is required", cmd);
		return -EINVAL;
	}
	if (a->all && a->fp) {
		usage_err("%s: --all profiles are DWARF-unwound (no --fp)", cmd);
		return -EINVAL;
	}
	if (a->folded && a->out && !strcmp(a->out, "-")) {
		usage_err("%s: --folded and -o - both want standard output", cmd);
		return -EINVAL;
	}
	return 0;
}

/* ---- HTTP over the Unix socket ------------------------------------------ */

static int write_all(int fd, const char *p, size_t len);

struct http_buf {
	char *data;		/* NUL-terminated for convenience */
	size_t len, cap;
	bool too_big;
	char note[512];		/* profd's X-Profd-Note, or "" */
};

/*
 * Ctrl-C during a CPU window: the first ends the window early (profd
 * answers with what it collected, and profctl saves it, as perf record
 * does), the second abandons the request without saving. The handler
 * only counts; the transfer's progress callback acts.
 */
static volatile sig_atomic_t interrupts;
static const char *stop_path;	/* POST this on the first Ctrl-C, or NULL */
static bool stop_sent;

static void http_buf__fini(struct http_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static size_t http__write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_buf *b = userdata;
	size_t n = size * nmemb, cap;
	char *tmp;

	if (n > MAX_RESPONSE_BYTES - b->len) {
		b->too_big = true;
		return 0;	/* curl aborts with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 65536;
		while (cap < b->len + n + 1)
			cap *= 2;
		tmp = realloc(b->data, cap);
		if (!tmp)
			return 0;
		b->data = tmp;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* X-Profd-Note: a line profd wants the user to read. */
static size_t http__header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	static const char name[] = "x-profd-note:";
	struct http_buf *b = userdata;
	size_t n = size * nmemb, k;

	if (n > sizeof(name) - 1 && !strncasecmp(ptr, name, sizeof(name) - 1)) {
		ptr += sizeof(name) - 1;
		n -= sizeof(name) - 1;
		while (n && *ptr == ' ') {
			ptr++;
			n--;
		}
		while (n && (ptr[n - 1] == '\n' || ptr[n - 1] == '\r'))
			n--;
		k = n < sizeof(b->note) - 1 ? n : sizeof(b->note) - 1;
		memcpy(b->note, ptr, k);
		b->note[k] = 0;
	}
	return size * nmemb;
}

/*
 * The request that ends the window early, on a connection of its own
 * (libcurl may not be entered again from its own callback): one POST,
 * the status line read back. 0 when profd ended it.
 */
static int stop__send(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	char req[600], resp[64] = "";
	ssize_t n;
	int fd, r;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A daemon that does not answer must not hold profctl here: a
	 * second Ctrl-C interrupts the wait too (no SA_RESTART). */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	n = snprintf(req, sizeof(req),
		     "POST %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: profctl/" PROFD_VERSION
		     "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", path);
	r = write_all(fd, req, (size_t)n);
	if (r < 0)
		goto out;
	n = read(fd, resp, sizeof(resp) - 1);
	r = n > 12 && !strncmp(resp + 8, " 200", 4) ? 0 :
	    n > 12 && !strncmp(resp + 8, " 404", 4) ? -ENOENT : -EIO;
out:
	close(fd);
	return r;
}

/* libcurl's progress callback: where Ctrl-C is acted on. */
static int http__progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			  curl_off_t ultotal, curl_off_t ulnow)
{
	(void)clientp;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (interrupts >= 2)
		return 1;	/* abort the transfer: nothing is saved */
	if (interrupts == 1 && stop_path && !stop_sent) {
		static struct timespec last;
		struct timespec now;
		const char *msg;
		int r;

		/* Not open yet (404: the request is still on its way): ask
		 * again, five times a second, until it is. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - last.tv_sec) * 1000000000L +
		    (now.tv_nsec - last.tv_nsec) < 200000000L)
			return 0;
		last = now;
		r = stop__send(stop_path);
		if (r == -ENOENT)
			return 0;
		stop_sent = true;
		msg = r < 0 ?
			"could not end the window early; Ctrl-C again to abort without saving" :
			"ending the window early and saving what was collected (Ctrl-C again to abort without saving)";
		if (json_output) {
			fprintf(stderr, "{\"note\":");
			report__json_str(stderr, msg);
			fprintf(stderr, "}\n");
		} else {
			fprintf(stderr, "profctl: %s\n", msg);
		}
	}
	return 0;
}

static void on_sigint(int sig)
{
	(void)sig;
	interrupts++;
}

/* Strip surrounding white space in place. */
static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
		     s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/*
 * http__request() - send @method @path to profd and collect the response.
 * Transport failures are reported here. A non-200 status is reported with
 * the server's text body ("profctl: <body>") and returns -EIO, so on 0 the
 * body is a successful response.
 */
static int http__request(const char *method, const char *path,
			 struct http_buf *body)
{
	char errbuf[CURL_ERROR_SIZE] = "", url[512];
	long status = 0, os_errno = 0;
	CURL *curl;
	CURLcode rc;
	int r;

	memset(body, 0, sizeof(*body));
	if (snprintf(url, sizeof(url), "http://localhost%s", path) >= (int)sizeof(url))
		return -ENAMETOOLONG;
	curl = curl_easy_init();
	if (!curl) {
		err_msg("cannot initialise libcurl");
		return -ENOMEM;
	}
	if (curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path) ||
	    curl_easy_setopt(curl, CURLOPT_URL, url) ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) ||
	    /* No overall timeout: a CPU window may be long. */
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "profctl/" PROFD_VERSION) ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http__write) ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body) ||
	    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, http__header) ||
	    curl_easy_setopt(curl, CURLOPT_HEADERDATA, body) ||
	    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, http__progress) ||
	    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L)) {
		err_msg("cannot set up libcurl");
		r = -EINVAL;
		goto out;
	}
	if (!strcmp(method, "POST") &&
	    (curl_easy_setopt(curl, CURLOPT_POST, 1L) ||
	     curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "") ||
	     curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L))) {
		err_msg("cannot set up libcurl");
		r = -EINVAL;
		goto out;
	}

	rc = curl_easy_perform(curl);
	(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		(void)curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			err_msg("interrupted: the window was abandoned and nothing was saved");
			r = -EINTR;
		} else if (body->too_big) {
			err_msg("response from profd exceeds %lu MiB; giving up",
				MAX_RESPONSE_BYTES >> 20);
			r = -EFBIG;
		} else if (!status && (rc == CURLE_COULDNT_CONNECT ||
				       rc == CURLE_OPERATION_TIMEDOUT)) {
			/* curl's text mentions "localhost port 80": say why instead. */
			err_msg("cannot connect to profd at %s: %s (is profd running?)",
				socket_path, os_errno ? strerror((int)os_errno) :
				curl_easy_strerror(rc));
			r = -ECONNREFUSED;
		} else {
			err_msg("request to profd at %s failed: %s", socket_path,
				*errbuf ? errbuf : curl_easy_strerror(rc));
			r = -EIO;
		}
		goto out;
	}
	if (status != 200) {
		const char *msg = body->data ? trim(body->data) : "";
		char buf[64];

		if (!*msg) {
			snprintf(buf, sizeof(buf), "profd answered HTTP %ld", status);
			msg = buf;
		}
		report__error(json_output, status, msg, NULL);
		r = -EIO;
		goto out;
	}
	r = 0;
out:
	curl_easy_cleanup(curl);
	if (r < 0)
		http_buf__fini(body);
	return r;
}

/* ---- files -------------------------------------------------------------- */

/* Read all of @path ("-" for stdin), at most @max bytes. */
static int file__read(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf = NULL, *tmp;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r;

	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				r = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;
			tmp = realloc(buf, cap);
			if (!tmp) {
				r = -ENOMEM;
				goto out;
			}
			buf = tmp;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = -EFBIG;
		goto out;
	}
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return r;
}

/*
 * Write @path atomically: a temp file in the same directory, renamed over
 * @path only when complete, so a failure never leaves a partial profile.
 */
/* Write all of @len bytes to @fd. */
static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * "-" is standard output; an existing path that is not a regular file
 * (/dev/null, a FIFO, a terminal) is written in place: a rename would
 * replace the device node with a file.
 */
static int file__write_special(const char *path, const void *data,
			       size_t len, bool *ret_done)
{
	struct stat st;
	int fd, r;

	*ret_done = true;
	if (!strcmp(path, "-"))
		return write_all(STDOUT_FILENO, data, len);
	if (stat(path, &st) < 0 || S_ISREG(st.st_mode)) {
		*ret_done = false;
		return 0;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

static int file__write_atomic(const char *path, const void *data, size_t len)
{
	const char *p = data;
	char *tmp = NULL;
	mode_t mask;
	bool done;
	int fd = -1, r;

	r = file__write_special(path, data, len, &done);
	if (done)
		return r;
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	r = write_all(fd, p, len);
	if (r < 0)
		goto out;
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0) {
		r = -errno;
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = -errno;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		(void)unlink(tmp);
	free(tmp);
	return r;
}

/* Fail before a long profile window rather than after it. */
static int file__check_dir(const char *path)
{
	char *copy = strdup(path);
	int r;

	if (!copy)
		return -ENOMEM;
	r = access(dirname(copy), W_OK | X_OK) < 0 ? -errno : 0;
	free(copy);
	return r;
}


static void report__init(struct report *rep, const struct args *a,
			 const char *kind, const char *default_spec)
{
	memset(rep, 0, sizeof(*rep));
	rep->spec = a->sample_index ? a->sample_index : default_spec;
	/* Only our own default may be missing (an old profd's heap). */
	rep->fallback = !a->sample_index;
	rep->rows = a->rows;
	rep->by_cum = a->cum;
	rep->folded = a->folded;
	rep->focus = a->focus;
	rep->kind = kind;
	rep->json = json_output;
}

/* ---- commands ----------------------------------------------------------- */

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static int cmd__select(const struct cmd *cmds, const char *what, int argc,
		       char **argv)
{
	const struct cmd *c;

	for (c = cmds; c->name; c++)
		if (!strcmp(argv[0], c->name))
			return c->fn(argc, argv);
	return usage_err("unknown %scommand '%s'", what, argv[0]);
}

/*
 * Reserve a default file name: @base + ".pb.gz", else @base-1.pb.gz,
 * -2... (two pulls in the same second), created empty with O_EXCL so that
 * an existing file, or one another profctl just took, is never replaced;
 * the profile is then renamed over it. The name in @buf.
 */
static int file__reserve(const char *base, char *buf, size_t size)
{
	unsigned i;
	int fd;

	for (i = 0; i < 1000; i++) {
		if (i)
			snprintf(buf, size, "%s-%u.pb.gz", base, i);
		else
			snprintf(buf, size, "%s.pb.gz", base);
		fd = open(buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* profd's note on the answer, where the user reads it: on standard error
 * under --json (an object) or --folded, else after the table. */
static void note__print(const struct args *a, const char *note)
{
	if (!note[0])
		return;
	if (json_output) {
		fprintf(stderr, "{\"note\":");
		report__json_str(stderr, note);
		fprintf(stderr, "}\n");
		return;
	}
	fprintf(a->folded ? stderr : stdout, "%s\n", note);
}

/*
 * Fetch a profile with GET @path, store it in @a->out (default
 * KIND-PID-TIME.pb.gz, never over an existing file), then show it (the
 * top table for sample type @spec unless the options say otherwise).
 */
static int profile__fetch(const char *kind, const char *path,
			  const struct args *a, const char *spec)
{
	struct report rep;
	struct http_buf body;
	char def[160], base[128], stamp[32];
	const char *out = a->out;
	time_t now = time(NULL);
	bool reserved = false;
	struct tm tm;
	int r;

	if (!out) {
		if (!localtime_r(&now, &tm) ||
		    !strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm))
			snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
		if (a->pid)
			snprintf(base, sizeof(base), "%s-%llu-%s", kind, a->pid, stamp);
		else if (a->all)
			snprintf(base, sizeof(base), "%s-all-%s", kind, stamp);
		else	/* history of every process */
			snprintf(base, sizeof(base), "%s-%s", kind, stamp);
		snprintf(def, sizeof(def), "%s.pb.gz", base);
		out = def;
	}
	r = strcmp(out, "-") ? file__check_dir(out) : 0;
	if (r < 0) {
		err_msg("cannot write %s: %s", out, strerror(-r));
		return EXIT_FAIL;
	}

	r = http__request("GET", path, &body);
	if (r < 0)	/* 130: as a shell reports a Ctrl-C */
		return r == -EINTR ? 128 + SIGINT : EXIT_FAIL;
	if (interrupts >= 2) {
		err_msg("interrupted: nothing was saved");
		r = -EINTR;
		goto out;
	}
	if (!body.len) {
		err_msg("profd sent an empty profile");
		r = -EIO;
		goto out;
	}
	if (out == def) {
		r = file__reserve(base, def, sizeof(def));
		if (r < 0) {
			err_msg("cannot create %s: %s", def, strerror(-r));
			goto out;
		}
		reserved = true;
	}
	r = file__write_atomic(out, body.data, body.len);
	if (r < 0) {
		err_msg("cannot write %s: %s", out, strerror(-r));
		if (reserved)
			(void)unlink(out);
		goto out;
	}
	if (!strcmp(out, "-")) {	/* the profile is the output */
		note__print(a, body.note);
		goto out;
	}
	/* The file stays even if we cannot parse it: it is the daemon's output. */
	report__init(&rep, a, kind, spec);
	r = report__profile(&rep, out, body.data, body.len);
	note__print(a, body.note);
	/* Folded stacks are the output, for a pipe: the note goes aside. */
	if (!json_output)
		fprintf(a->folded ? stderr : stdout, "wrote %s\n", out);
out:
	http_buf__fini(&body);
	if (r == -EINTR)
		return 128 + SIGINT;
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

/* A random name for a window, so that Ctrl-C ends that one only. */
static void window__name(char *buf, size_t size)
{
	uint64_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	snprintf(buf, size, "%016" PRIx64, rnd);
}

/* Fetch window @path of pid @pid, named @window: the first Ctrl-C asks
 * profd to end it early (POST /v1/profile/stop) and waits for what it
 * collected. */
static int window__fetch(const char *kind, const char *path,
			 unsigned long long pid, const char *window,
			 struct args *a)
{
	struct sigaction sa = {};
	char stop[128];
	int r;

	snprintf(stop, sizeof(stop), "/v1/profile/stop?pid=%llu&window=%s",
		 pid, window);
	stop_path = stop;
	sa.sa_handler = on_sigint;	/* no SA_RESTART: wake libcurl's poll */
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	r = profile__fetch(kind, path, a, NULL);
	signal(SIGINT, SIG_DFL);
	stop_path = NULL;
	return r;
}

/* offcpu, mutex, threadcreate: a window on /debug/pprof/@endpoint. */
static int wait__fetch(int argc, char **argv, const char *cmd,
		       const char *endpoint, unsigned allowed)
{
	char path[256], window[24];
	struct args a;
	int r;

	r = args__parse(argc, argv, cmd, A_PID | A_SECONDS | A_FP | A_OUT |
			A_REPORT | allowed, 0, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	window__name(window, sizeof(window));
	snprintf(path, sizeof(path), "/debug/pprof/%s?pid=%llu&seconds=%llu%s%s&window=%s",
		 endpoint, a.pid, a.seconds ? a.seconds : DEFAULT_CPU_SECONDS,
		 a.kernel ? "&kernel=1" : "", a.fp ? "&unwind=fp" : "", window);
	return window__fetch(cmd, path, a.pid, window, &a);
}

static int do_offcpu(int argc, char **argv)
{
	return wait__fetch(argc, argv, "offcpu", "block", A_KERNEL);
}

static int do_mutex(int argc, char **argv)
{
	return wait__fetch(argc, argv, "mutex", "mutex", A_KERNEL);
}

static int do_threads(int argc, char **argv)
{
	struct http_buf body;
	char path[128];
	struct args a;
	int r;

	r = args__parse(argc, argv, "threads", A_PID | A_OUT | A_TEXT |
			A_REPORT, 0, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (!a.text) {
		snprintf(path, sizeof(path), "/debug/pprof/goroutine?pid=%llu",
			 a.pid);
		return profile__fetch("threads", path, &a, NULL);
	}
	snprintf(path, sizeof(path), "/debug/pprof/goroutine?pid=%llu&debug=2",
		 a.pid);
	if (http__request("GET", path, &body) < 0)
		return EXIT_FAIL;
	if (a.out && strcmp(a.out, "-"))
		r = file__write_atomic(a.out, body.data, body.len);
	else
		r = fwrite(body.data, 1, body.len, stdout) == body.len ? 0 : -EIO;
	if (r < 0)
		err_msg("cannot write %s: %s", a.out ? a.out : "standard output",
			strerror(-r));
	http_buf__fini(&body);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int do_threadcreate(int argc, char **argv)
{
	return wait__fetch(argc, argv, "threadcreate", "threadcreate", 0);
}

static int do_cpu(int argc, char **argv)
{
	char path[320], window[24];
	struct args a;
	int r;

	r = args__parse(argc, argv, "cpu", A_PID_OPT | A_ALL | A_SECONDS | A_HZ |
			A_KERNEL | A_FP | A_OUT | A_REPORT, 0, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (a.all) {
		/* Every process (root only); Ctrl-C abandons it. */
		snprintf(path, sizeof(path), "/debug/pprof/profile?seconds=%llu%s%s",
			 a.seconds ? a.seconds : DEFAULT_CPU_SECONDS,
			 a.hz ? "&hz=" : "", a.hz ? a.hz : "");
		return profile__fetch("cpu", path, &a, NULL);
	}
	window__name(window, sizeof(window));
	snprintf(path, sizeof(path), "/debug/pprof/profile?pid=%llu&seconds=%llu%s%s%s%s&window=%s",
		 a.pid, a.seconds ? a.seconds : DEFAULT_CPU_SECONDS,
		 a.hz ? "&hz=" : "", a.hz ? a.hz : "", a.kernel ? "&kernel=1" : "",
		 a.fp ? "&unwind=fp" : "", window);
	return window__fetch("cpu", path, a.pid, window, &a);
}

/* Append "&key=value", value percent-encoded, to @path (@size). */
static int query__add(char *path, size_t size, const char *key, const char *value)
{
	size_t n = strlen(path);
	const unsigned char *v;
	int r;

	r = snprintf(path + n, size - n, "%s%s=", strchr(path, '?') ? "&" : "?", key);
	if (r < 0 || (size_t)r >= size - n)
		return -ENAMETOOLONG;
	n += (size_t)r;
	for (v = (const unsigned char *)value; *v; v++) {
		if (n + 4 > size)
			return -ENAMETOOLONG;
		if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		    (*v >= '0' && *v <= '9') || strchr("-_.~", *v))
			path[n++] = (char)*v;
		else
			n += (size_t)sprintf(path + n, "%%%02X", *v);
	}
	path[n] = 0;
	return 0;
}

static int do_history(int argc, char **argv)
{
	char path[2048] = "/v1/history", pid[32];
	struct args a;
	int r;

	r = args__parse(argc, argv, "history", A_PID_OPT | A_HISTORY | A_OUT |
			A_REPORT, 0, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	snprintf(pid, sizeof(pid), "%llu", a.pid);
	if ((a.since && query__add(path, sizeof(path), "since", a.since) < 0) ||
	    (a.until && query__add(path, sizeof(path), "until", a.until) < 0) ||
	    (a.service && query__add(path, sizeof(path), "service", a.service) < 0) ||
	    (a.unit && query__add(path, sizeof(path), "unit", a.unit) < 0) ||
	    (a.pid && query__add(path, sizeof(path), "pid", pid) < 0))
		return usage_err("history: arguments too long");
	return profile__fetch("history", path, &a, NULL);
}

static int do_heap_snapshot(int argc, char **argv)
{
	char path[256];
	struct args a;
	int r;

	r = args__parse(argc, argv, "heap", A_PID | A_SECONDS | A_SAMPLE_BYTES |
			A_FP | A_INPROC | A_OUT | A_REPORT, 0, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	r = snprintf(path, sizeof(path), "/debug/pprof/heap?pid=%llu", a.pid);
	if (a.inproc)
		r += snprintf(path + r, sizeof(path) - r, "&mode=inproc");
	if (a.seconds || a.seconds_zero)
		r += snprintf(path + r, sizeof(path) - r, "&seconds=%llu", a.seconds);
	if (a.sample_bytes)
		r += snprintf(path + r, sizeof(path) - r, "&sample_bytes=%llu",
			      a.sample_bytes);
	if (a.fp)
		snprintf(path + r, sizeof(path) - r, "&unwind=fp");
	return profile__fetch("heap", path, &a, "inuse_space");
}

/* POST @what (start/stop) and print the server's answer. */
static int heap__control(int argc, char **argv, const char *what,
			 unsigned int allowed)
{
	struct http_buf body;
	char path[256], cmd[32];
	struct args a;
	int r;

	snprintf(cmd, sizeof(cmd), "heap %s", what);
	r = args__parse(argc, argv, cmd, allowed, 0, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	r = snprintf(path, sizeof(path), "/v1/heap/%s?pid=%llu", what, a.pid);
	if (a.inproc)
		r += snprintf(path + r, sizeof(path) - r, "&mode=inproc");
	if (a.sample_bytes)
		r += snprintf(path + r, sizeof(path) - r, "&sample_bytes=%llu",
			      a.sample_bytes);
	if (a.fp)
		snprintf(path + r, sizeof(path) - r, "&unwind=fp");

	if (http__request("POST", path, &body) < 0)
		return EXIT_FAIL;
	if (json_output) {
		printf("{\"message\":");
		report__json_str(stdout, body.data ? trim(body.data) : "");
		printf("}\n");
	} else if (body.data && *trim(body.data)) {
		printf("%s\n", trim(body.data));
	}
	http_buf__fini(&body);
	return EXIT_OK;
}

static int do_heap_start(int argc, char **argv)
{
	return heap__control(argc, argv, "start",
			     A_PID | A_SAMPLE_BYTES | A_FP | A_INPROC);
}

static int do_heap_stop(int argc, char **argv)
{
	return heap__control(argc, argv, "stop", A_PID);
}

static int do_heap(int argc, char **argv)
{
	static const struct cmd heap_cmds[] = {
		{ "start", do_heap_start },
		{ "stop", do_heap_stop },
		{ NULL, NULL }
	};

	if (argc > 1 && argv[1][0] != '-')
		return cmd__select(heap_cmds, "heap ", argc - 1, argv + 1);
	return do_heap_snapshot(argc, argv);
}


static int do_status(int argc, char **argv)
{
	struct json_node *st = NULL;
	struct http_buf body;
	struct args a;
	int r;

	r = args__parse(argc, argv, "status", 0, 0, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (http__request("GET", "/v1/status", &body) < 0)
		return EXIT_FAIL;
	r = body.len ? json_read__parse(body.data, body.len, &st) : -EINVAL;
	if (r < 0 || st->type != JSON_OBJ) {
		err_msg("profd's /v1/status is not a JSON object: %s",
			r < 0 ? strerror(-r) : "another value");
		r = -EINVAL;
	} else if (json_output) {
		/* The raw form, as profd sent it, for scripts. */
		fwrite(body.data, 1, body.len, stdout);
		if (body.data[body.len - 1] != '\n')
			putchar('\n');
	} else {
		report__status(st);
	}
	json_read__free(st);
	http_buf__fini(&body);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int do_top(int argc, char **argv)
{
	uint8_t *buf = NULL;
	struct args a;
	size_t len = 0;
	int r;

	struct report rep;

	r = args__parse(argc, argv, "top", A_REPORT, 1, &a);
	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (!a.n_pos)
		return usage_err("top: missing FILE");
	r = file__read(a.pos[0], MAX_FILE_BYTES, &buf, &len);
	if (r < 0) {
		err_msg("cannot read %s: %s", a.pos[0], strerror(-r));
		return EXIT_FAIL;
	}
	report__init(&rep, &a, "top", NULL);
	r = report__profile(&rep, a.pos[0], buf, len);
	free(buf);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return EXIT_OK;
}

static int do_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("profctl %s\n", PROFD_VERSION);
	return EXIT_OK;
}

static const struct cmd cmds[] = {
	{ "cpu", do_cpu },
	{ "offcpu", do_offcpu },
	{ "mutex", do_mutex },
	{ "threads", do_threads },
	{ "threadcreate", do_threadcreate },
	{ "heap", do_heap },
	{ "status", do_status },
	{ "history", do_history },
	{ "top", do_top },
	{ "help", do_help },
	{ "version", do_version },
	{ NULL, NULL }
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket",  required_argument, NULL, OPT_SOCKET },
		{ "json",    no_argument,	NULL, OPT_JSON },
		{ "help",    no_argument,	NULL, 'h' },
		{ "version", no_argument,	NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *env = getenv("PROFD_SOCKET");
	int c, r;

	if (env && *env)
		socket_path = env;
	/* --json anywhere (before "--"): errors found before it is read
	 * are JSON too. */
	for (c = 1; c < argc && strcmp(argv[c], "--"); c++)
		if (!strcmp(argv[c], "--json"))
			json_output = true;

	opterr = 0;
	/* '+': stop at the command; its options are parsed by the command. */
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			socket_path = optarg;
			break;
		case OPT_JSON:
			json_output = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			return do_version(0, NULL);
		case ':':
			return usage_err("option '%s' needs an argument",
					 argv[optind - 1]);
		default:
			if (optopt)
				return usage_err("unknown option '-%c'", optopt);
			return usage_err("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_err("missing command");

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		err_msg("cannot initialise libcurl");
		return EXIT_FAIL;
	}
	r = cmd__select(cmds, "", argc - optind, argv + optind);
	curl_global_cleanup();
	return r;
}
