// SPDX-License-Identifier: GPL-2.0
/*
 * profd: system-wide profiling daemon. main owns the init chain (and its
 * reverse), the listening sockets and the event loop, which drains the
 * sampler's ring buffer and handles signals through a signalfd.
 *
 * Lock order of the whole daemon (main owns every manager, so it is
 * written here once), outermost first; a thread holding one takes only
 * locks further down, never one above:
 *
 *   1. heap agent_lock | heap rb_lock   (never both; heap_int.h)
 *   2. session manager lock | heap lock (never both: no thread holds
 *      one manager's lock while calling into the other)
 *   3. execwatch lock                   (target__current() and friends)
 *   4. process cache lock               (proc__get/hold/put, proc.h)
 *   5. proc->lock                       (a process's maps, proc.h)
 *   6. symbolizer locks                 (binaries, libdw; innermost)
 *   conns lock: a leaf, taken alone.
 *
 * No manager lock (2.) is held across slow work: unwinding, opening ELF
 * files (proc__new(), proc__refresh()), symbolizing, gzip or ptrace run
 * with a reference taken (proc refs, a target__dup()) and the lock
 * dropped. The event loop below takes the session manager's lock only for
 * counting samples, never the heap's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>

#include "access.h"
#include "api.h"
#include "config.h"
#include "execwatch.h"
#include "continuous.h"
#include "fleet.h"
#include "heap.h"
#include "profd_agent.h"
#include "log.h"
#include "pidns.h"
#include "proc.h"
#include "sampler.h"
#include "session.h"
#include "symbolizer.h"

#define DEFAULT_SOCKET "/run/profd/profd.sock"

struct options {
	const char *socket_path;
	mode_t socket_mode;
	const char *socket_group;
	const char *listen;
	struct session_limits lim;
	struct heap_limits heap;
	size_t symbol_cache_bytes;
	uint32_t stack_bytes;
	struct debuginfod_opts dbgd;
	int verbose;
	/* Fleet options (config.h): --config, and the file's keys given on
	 * the command line, applied over the file's at start and reload. */
	const char *config_path;
	bool config_given;
	struct config_override fleet_cli[32];
	size_t nfleet_cli;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: profd [OPTIONS]\n"
"System-wide profiling daemon: CPU profiles and live-heap snapshots of any\n"
"process, as pprof.\n\n"
"  --socket PATH            Unix socket to serve (default " DEFAULT_SOCKET ")\n"
"  --socket-mode MODE       socket permissions, octal (default 0666: access\n"
"                           is checked per request from the caller's uid)\n"
"  --socket-group GROUP     socket group (default: root's)\n"
"  --listen HOST:PORT       also serve HTTP on loopback TCP, for\n"
"                           'go tool pprof URL' (off by default); HOST is\n"
"                           127.0.0.1, [::1] or a name resolving only to\n"
"                           loopback, such as localhost\n"
"  --max-seconds N          longest window (default 600)\n"
"  --max-sessions N         concurrent sessions, all users (default 64)\n"
"  --max-sessions-per-uid N concurrent sessions per user (default 8)\n"
"  --max-hz N               highest sampling frequency (default 1000)\n"
"  --max-stacks N           distinct stacks per session (default 65536)\n"
"  --stack-bytes N          user stack copied per CPU sample for DWARF\n"
"                           unwinding, at most (default and limit 65536;\n"
"                           4096 up; shallow stacks copy only what they use)\n"
"  --symbol-cache-mb N      symbolizer cache bound; idle binaries beyond it\n"
"                           are evicted (default 32)\n"
"  --heap-sample-bytes N    default heap sampling interval (default 131072;\n"
"                           1 tracks every allocation; at most 2^40)\n"
"  --heap-max-live N        live blocks tracked, all processes (default 262144;\n"
"                           1024 to 2^26)\n"
"  --heap-max-procs N       processes heap-tracked at once (default 16; 1-1000)\n"
"  --heap-idle-timeout S    stop tracking after S seconds without a pull\n"
"                           (default 600; also how long an exited process's\n"
"                           last heap snapshot is kept)\n"
"  --heap-event-buffer-kb N stack copies of sampled allocations in flight to\n"
"                           the DWARF unwinder (default 4096; a power of two,\n"
"                           16 to 2^20); when full, frame-pointer stacks are\n"
"                           used and counted\n"
"  --heap-agent PATH        the in-process heap agent for mode=inproc (default:\n"
"                           libprofd_heap.so beside profd, else\n"
"                           " PROFD_LIBDIR "/libprofd_heap.so)\n"
"  --debuginfod-urls URLS   fetch missing debug info from these debuginfod\n"
"                           servers, in the background (default:\n"
"                           $DEBUGINFOD_URLS; \"\" turns it off)\n"
"  --debuginfod-cache DIR   where fetched files are kept (default\n"
"                           $CACHE_DIRECTORY/debuginfod, else\n"
"                           /var/cache/profd/debuginfod)\n"
"  --debuginfod-cache-mb N  bound of that directory (default 1024)\n"
"  --debuginfod-timeout S   give a fetch up after S seconds without data\n"
"                           (default 30)\n"
"  --debuginfod-fetches N   fetches at once (default 2; 1-16)\n"
"\nFleet (continuous collection; README \"Fleet\"). Also in the config file,\n"
"as 'key = value'; the command line wins; SIGHUP re-reads the file:\n"
"  --config PATH            config file (default " CONFIG_DEFAULT_PATH ", if it\n"
"                           exists); refused when others may write it\n"
"  --push-url URL           push closed intervals to Pyroscope's Push API\n"
"  --push-token-file PATH   Bearer token (a file only root may read)\n"
"  --push-basic-auth-file PATH   user:password for Basic auth (same)\n"
"  --push-ca-file PATH      CA bundle for the collector's TLS certificate\n"
"  --tenant ID              X-Scope-OrgID header\n"
"  --host-label NAME        the 'host' label (default: the hostname)\n"
"  --spool-dir PATH         intervals waiting to be pushed (default\n"
"                           " CONFIG_DEFAULT_SPOOL ")\n"
"  --spool-max-bytes N[K|M|G]   spool bound, oldest dropped (default 256M)\n"
"  --spool-max-age D[s|m|h|d]   spool bound by age (default 24h)\n"
"  --continuous-interval D  interval length (default 10s)\n"
"  --push-labels pid,tid    sample labels pushed besides thread (default\n"
"                           none: backends split series by them)\n"
"  --test-interval-profile PATH  tests: close an interval of this pprof file\n"
"                           every continuous-interval (a stand-in producer)\n"
"  --continuous yes|no      sample every process all the time, one profile\n"
"                           per service every continuous-interval\n"
"  --continuous-hz N        its frequency (default 19, at most --max-hz)\n"
"  --continuous-include L   only these processes: comma-separated\n"
"                           unit:NAME, cgroup:/PATH, comm:NAME, uid:N\n"
"  --continuous-exclude L   not these (same terms)\n"
"  --continuous-fp yes|no   user stacks by frame pointers (no stack copies,\n"
"                           no DWARF: cheaper, cut short in code without)\n"
"  -v, --verbose            debug logging (twice: libbpf's too)\n"
"  --version                print the version\n"
"  -h, --help               this text\n");
}

static int parse_num(const char *s, unsigned long min, unsigned long max,
		     unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max || s[0] == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { O_SOCKET = 256, O_MODE, O_GROUP, O_LISTEN, O_MAXSEC, O_MAXSES,
	       O_MAXUID, O_MAXHZ, O_MAXSTACKS, O_SYMCACHE, O_VERSION, O_STACKB,
	       O_HSAMPLE, O_HLIVE, O_HPROCS, O_HIDLE, O_HBUF, O_HAGENT,
	       O_DURLS, O_DCACHE, O_DCACHEMB, O_DTIMEOUT, O_DFETCHES,
	       O_CONFIG, O_FLEET /* O_FLEET + n: config.h's keys; last */ };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "socket-mode", required_argument, NULL, O_MODE },
		{ "socket-group", required_argument, NULL, O_GROUP },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "max-seconds", required_argument, NULL, O_MAXSEC },
		{ "max-sessions", required_argument, NULL, O_MAXSES },
		{ "max-sessions-per-uid", required_argument, NULL, O_MAXUID },
		{ "max-hz", required_argument, NULL, O_MAXHZ },
		{ "max-stacks", required_argument, NULL, O_MAXSTACKS },
		{ "stack-bytes", required_argument, NULL, O_STACKB },
		{ "symbol-cache-mb", required_argument, NULL, O_SYMCACHE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "heap-sample-bytes", required_argument, NULL, O_HSAMPLE },
		{ "heap-max-live", required_argument, NULL, O_HLIVE },
		{ "heap-max-procs", required_argument, NULL, O_HPROCS },
		{ "heap-idle-timeout", required_argument, NULL, O_HIDLE },
		{ "heap-event-buffer-kb", required_argument, NULL, O_HBUF },
		{ "heap-agent", required_argument, NULL, O_HAGENT },
		{ "debuginfod-urls", required_argument, NULL, O_DURLS },
		{ "debuginfod-cache", required_argument, NULL, O_DCACHE },
		{ "debuginfod-cache-mb", required_argument, NULL, O_DCACHEMB },
		{ "debuginfod-timeout", required_argument, NULL, O_DTIMEOUT },
		{ "debuginfod-fetches", required_argument, NULL, O_DFETCHES },
		{ "config", required_argument, NULL, O_CONFIG },
		/* config.h's keys */
		{ "continuous", required_argument, NULL, O_FLEET + 0 },
		{ "continuous-hz", required_argument, NULL, O_FLEET + 1 },
		{ "continuous-interval", required_argument, NULL, O_FLEET + 2 },
		{ "push-url", required_argument, NULL, O_FLEET + 3 },
		{ "push-token-file", required_argument, NULL, O_FLEET + 4 },
		{ "push-basic-auth-file", required_argument, NULL, O_FLEET + 5 },
		{ "push-ca-file", required_argument, NULL, O_FLEET + 6 },
		{ "tenant", required_argument, NULL, O_FLEET + 7 },
		{ "host-label", required_argument, NULL, O_FLEET + 8 },
		{ "spool-dir", required_argument, NULL, O_FLEET + 9 },
		{ "spool-max-bytes", required_argument, NULL, O_FLEET + 10 },
		{ "spool-max-age", required_argument, NULL, O_FLEET + 11 },
		{ "push-labels", required_argument, NULL, O_FLEET + 12 },
		{ "test-interval-profile", required_argument, NULL, O_FLEET + 13 },
		{ "continuous-include", required_argument, NULL, O_FLEET + 14 },
		{ "continuous-exclude", required_argument, NULL, O_FLEET + 15 },
		{ "continuous-fp", required_argument, NULL, O_FLEET + 16 },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned long v;
	char *end;
	int c, i;

	/* Our own one-line errors: getopt's would come with the usage. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case O_SOCKET:
			o->socket_path = optarg;
			break;
		case O_MODE:
			v = strtoul(optarg, &end, 8);
			if (*end || end == optarg || v > 0777)
				goto bad;
			o->socket_mode = (mode_t)v;
			break;
		case O_GROUP:
			o->socket_group = optarg;
			break;
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_MAXSEC:
			if (parse_num(optarg, 1, 86400, &v) < 0)
				goto bad;
			o->lim.max_seconds = (unsigned)v;
			break;
		case O_MAXSES:
			if (parse_num(optarg, 1, 4096, &v) < 0)
				goto bad;
			o->lim.max_sessions = (unsigned)v;
			break;
		case O_MAXUID:
			if (parse_num(optarg, 1, 4096, &v) < 0)
				goto bad;
			o->lim.max_sessions_per_uid = (unsigned)v;
			break;
		case O_MAXHZ:
			/* cpu-clock beyond 10 kHz costs more than it tells. */
			if (parse_num(optarg, 1, 10000, &v) < 0)
				goto bad;
			o->lim.max_hz = (unsigned)v;
			break;
		case O_MAXSTACKS:
			if (parse_num(optarg, 16, 1u << 22, &v) < 0)
				goto bad;
			o->lim.max_stacks = v;
			break;
		case O_STACKB:
			if (parse_num(optarg, 4096, PROFD_STACK_COPY_MAX, &v) < 0)
				goto bad;
			o->stack_bytes = (uint32_t)v;
			break;
		case O_SYMCACHE:
			if (parse_num(optarg, 0, 1u << 16, &v) < 0)
				goto bad;
			o->symbol_cache_bytes = v << 20;
			break;
		case O_HSAMPLE:
			if (parse_num(optarg, 1, 1ul << 40, &v) < 0)
				goto bad;
			o->heap.default_sample_bytes = v;
			break;
		case O_HLIVE:
			if (parse_num(optarg, 1024, 1ul << 26, &v) < 0)
				goto bad;
			o->heap.max_live = v;
			break;
		case O_HPROCS:
			if (parse_num(optarg, 1, 1000, &v) < 0)
				goto bad;
			o->heap.max_procs = (unsigned)v;
			break;
		case O_HIDLE:
			if (parse_num(optarg, 1, 86400 * 30, &v) < 0)
				goto bad;
			o->heap.idle_timeout_ns = v * 1000000000ULL;
			break;
		case O_HBUF:
			/* A ring buffer: a power of two, whole pages. */
			if (parse_num(optarg, 16, 1ul << 20, &v) < 0 ||
			    (v & (v - 1)))
				goto bad;
			o->heap.event_buffer_bytes = v << 10;
			break;
		case O_HAGENT:
			o->heap.agent_path = optarg;
			break;
		case O_DURLS:
			o->dbgd.urls = optarg;
			break;
		case O_DCACHE:
			if (optarg[0] != '/')
				goto bad;
			o->dbgd.cache_dir = optarg;
			break;
		case O_DCACHEMB:
			if (parse_num(optarg, 1, 1u << 20, &v) < 0)
				goto bad;
			o->dbgd.cache_max_bytes = (uint64_t)v << 20;
			break;
		case O_DTIMEOUT:
			if (parse_num(optarg, 1, 3600, &v) < 0)
				goto bad;
			o->dbgd.timeout_s = (unsigned)v;
			break;
		case O_DFETCHES:
			if (parse_num(optarg, 1, 16, &v) < 0)
				goto bad;
			o->dbgd.max_fetches = (unsigned)v;
			break;
		case O_CONFIG:
			o->config_path = optarg;
			o->config_given = true;
			break;
		case O_FLEET ... O_FLEET + 16:
			/* Checked with the file's, by config__load_all(): the
			 * key is the option's name. */
			if (o->nfleet_cli == sizeof(o->fleet_cli) / sizeof(o->fleet_cli[0]))
				goto bad;
			for (i = 0; opts[i].name && opts[i].val != c; i++)
				;
			o->fleet_cli[o->nfleet_cli++] = (struct config_override){
				opts[i].name, optarg };
			break;
		case 'v':
			o->verbose++;
			break;
		case O_VERSION:
			printf("profd %s\n", PROFD_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "profd: option '%s' needs a value (see profd --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				fprintf(stderr, "profd: unknown option '-%c' (see profd --help)\n",
					optopt);
			else
				fprintf(stderr, "profd: unknown option '%s' (see profd --help)\n",
					argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "profd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
bad:
	for (i = 0; opts[i].name && opts[i].val != c; i++)
		;
	fprintf(stderr, "profd: bad value '%s' for --%s (out of range or not a number; see --help)\n",
		optarg, opts[i].name ? opts[i].name : "?");
	return -EINVAL;
}

/*
 * debuginfod, when servers are named (--debuginfod-urls, else
 * DEBUGINFOD_URLS). The variable leaves the environment either way, before
 * any thread starts: libdwfl's own client reads it and would fetch
 * synchronously inside a request (a server that never answers held a 2 s
 * window for minutes). 0, or -errno after logging.
 */
static int debuginfod_start(struct options *o, struct symbolizer *sym,
			    struct debuginfod **ret)
{
	static char cache[PATH_MAX];
	const char *env = getenv("DEBUGINFOD_URLS"), *cd;
	char *urls = NULL;
	int r;

	if (!o->dbgd.urls && env)
		urls = strdup(env);
	(void)unsetenv("DEBUGINFOD_URLS");
	if (!o->dbgd.urls)
		o->dbgd.urls = urls;
	if (!o->dbgd.urls || !o->dbgd.urls[strspn(o->dbgd.urls, " \t\n")]) {
		free(urls);
		return 0;
	}
	if (!o->dbgd.cache_dir) {
		/* systemd's CacheDirectory=profd (one path: no ':'). */
		cd = getenv("CACHE_DIRECTORY");
		snprintf(cache, sizeof(cache), "%s/debuginfod",
			 cd && cd[0] == '/' && !strchr(cd, ':') ? cd :
			 "/var/cache/profd");
		o->dbgd.cache_dir = cache;
	}
	r = debuginfod__new(&o->dbgd, ret);
	if (r < 0 && urls) {
		/* From a login shell's environment: not worth failing for. */
		log_warn("debuginfod off: DEBUGINFOD_URLS='%s', cache %s: %s",
			 urls, o->dbgd.cache_dir, strerror(-r));
		r = 0;
	} else if (r < 0) {
		log_err_errno(r, "Failed to start the debuginfod client (servers '%s', cache %s): %m",
			      o->dbgd.urls, o->dbgd.cache_dir);
	} else {
		log_info("debuginfod: fetching missing debug info from %s in the background (cache %s, %llu MiB)",
			 o->dbgd.urls, o->dbgd.cache_dir,
			 (unsigned long long)(o->dbgd.cache_max_bytes >> 20));
		symbolizer__set_debuginfod(sym, *ret);
	}
	free(urls);
	o->dbgd.urls = NULL;
	return r;
}

/* The agent beside the daemon (a build tree), else the installed one. */
static const char *default_agent(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 64);
	char *slash;

	if (n > 0) {
		path[n] = 0;
		slash = strrchr(path, '/');
		if (slash) {
			strcpy(slash + 1, PROFD_AGENT_LIB);
			if (access(path, R_OK) == 0)
				return path;
		}
	}
	return PROFD_LIBDIR "/" PROFD_AGENT_LIB;
}

static int libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* Warnings always; libbpf's chatter only with -vv. */
	if (level != LIBBPF_WARN && libbpf_verbose < 2)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Can this process load BPF programs and open perf events for others?
 * root, or CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN for both before 5.8).
 * Checked before libbpf is asked anything: without them its first words
 * are a hint about RLIMIT_MEMLOCK, which is not the cause.
 */
static bool has_bpf_privileges(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = {};
	uint64_t eff;

	if (syscall(SYS_capget, &hdr, d) < 0)
		return true;	/* cannot tell: let the load say */
	eff = (uint64_t)d[1].effective << 32 | d[0].effective;
#define HAS(cap) (!!(eff & (1ULL << (cap))))
	return HAS(CAP_SYS_ADMIN) || (HAS(39 /* CAP_BPF */) &&
				      HAS(38 /* CAP_PERFMON */));
#undef HAS
}

/*
 * The socket is bound in a directory of its own (mkdtemp: 0700, root's),
 * given its mode and group there, and renamed into place: at its path it
 * never exists with another mode. chmod() by name after bind() left bind's
 * mode (0777 less the umask) for a moment, and in a directory others may
 * write it would follow a symlink swapped in for the name. fchmod() on the
 * socket before bind() is no help: bind() still applies the umask, which
 * is the process's, shared with every thread.
 */
static int listen_unix(const struct options *o, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], tmp[sizeof(sa.sun_path)], *slash;
	bool bound = false;
	int fd, r;

	if (strlen(o->socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, o->socket_path);
	strcpy(dir, o->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	} else {
		strcpy(dir, slash ? "/" : ".");
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a crashed profd: replace it, unless a live
	 * daemon still answers on it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	r = snprintf(tmp, sizeof(tmp), "%s/.profd-XXXXXX", dir);
	if (r < 0 || (size_t)r + 3 > sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(tmp)) {
		r = -errno;
		close(fd);
		return r;
	}
	/* Fits: checked above. */
	memcpy(sa.sun_path, tmp, (size_t)r);
	memcpy(sa.sun_path + r, "/s", 3);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	bound = true;
	if (chmod(sa.sun_path, o->socket_mode) < 0) {
		r = -errno;
		goto fail;
	}
	if (o->socket_group) {
		struct group *g = getgrnam(o->socket_group);

		if (!g) {
			r = -ENOENT;
			goto fail;
		}
		if (chown(sa.sun_path, 0, g->gr_gid) < 0) {
			r = -errno;
			goto fail;
		}
	}
	if (listen(fd, 64) < 0) {
		r = -errno;
		goto fail;
	}
	/* Replaces a stale socket in one step. */
	if (rename(sa.sun_path, o->socket_path) < 0) {
		r = -errno;
		goto fail;
	}
	(void)rmdir(tmp);
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	if (bound)
		(void)unlink(sa.sun_path);
	(void)rmdir(tmp);
	return r;
}

#define LISTEN_FORMS "127.0.0.1:6060, [::1]:6060 or localhost:6060"

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

/*
 * --listen HOST:PORT, loopback only: profd must never serve beyond the
 * machine (the caller's uid is still checked per request). HOST is a
 * loopback address (127.0.0.0/8, ::1, IPv6 in brackets) or a name whose
 * addresses are all loopback: one that resolves to anything else, through
 * /etc/hosts or DNS, is refused, not narrowed. The name is resolved once
 * here and the address is bound, so a later change of what it resolves to
 * does not matter. Of several addresses (localhost: ::1 and 127.0.0.1) the
 * first IPv4 one is bound, as Go's net.Listen does: clients try each address
 * of the name, and 127.0.0.1 works where IPv6 is disabled.
 *
 * Logs its own errors, each naming what to change. Return: 0 with *@ret_fd,
 * the host (no brackets) in @ret_host and the port set, -EINVAL for a
 * malformed @spec, -EADDRNOTAVAIL for a host that does not resolve or
 * resolves beyond loopback, or socket/bind's -errno.
 */
static int listen_tcp(const char *spec, int *ret_fd, char *ret_host,
		      size_t host_size, unsigned *ret_port)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	char host[256], addr[INET6_ADDRSTRLEN], *colon, *port, *end;
	struct addrinfo *res = NULL, *ai, *pick = NULL;
	unsigned long pn;
	int fd, one = 1, r;

	if (strlen(spec) >= sizeof(host))
		goto syntax;
	strcpy(host, spec);
	colon = strrchr(host, ':');
	if (!colon)
		goto syntax;
	*colon = 0;
	port = colon + 1;
	errno = 0;
	pn = strtoul(port, &end, 10);
	if (*port < '0' || *port > '9' || *end || errno || !pn || pn > 65535)
		goto syntax;
	if (host[0] == '[') {
		size_t l = strlen(host);

		if (l < 3 || host[l - 1] != ']')
			goto syntax;
		host[l - 1] = 0;
		memmove(host, host + 1, l - 1);
	}
	if (!host[0])
		goto syntax;

	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		if (r == EAI_SYSTEM)
			return log_err_errno(errno ? -errno : -EIO,
					     "--listen %s: cannot resolve %s: %m",
					     spec, host);
		log_err("--listen %s: cannot resolve %s: %s", spec, host,
			gai_strerror(r));
		return -EADDRNOTAVAIL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (!addr_is_loopback(ai->ai_addr)) {
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
					NULL, 0, NI_NUMERICHOST))
				snprintf(addr, sizeof(addr), "?");
			if (!strcmp(addr, host))
				log_err("--listen %s: %s is not a loopback address; profd listens on loopback only (" LISTEN_FORMS ")",
					spec, host);
			else
				log_err("--listen %s: %s resolves to %s, not a loopback address; profd listens on loopback only (" LISTEN_FORMS ")",
					spec, host, addr);
			r = -EADDRNOTAVAIL;
			goto out;
		}
		if (!pick || (pick->ai_family != AF_INET && ai->ai_family == AF_INET))
			pick = ai;
	}
	if (!pick) {
		r = log_err_errno(-EADDRNOTAVAIL, "--listen %s: %s has no address", spec, host);
		goto out;
	}
	if (getnameinfo(pick->ai_addr, pick->ai_addrlen, addr, sizeof(addr), NULL, 0,
			NI_NUMERICHOST))
		snprintf(addr, sizeof(addr), "?");

	fd = socket(pick->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = log_err_errno(-errno, "Failed to listen on %s (%s): %m", spec, addr);
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, pick->ai_addr, pick->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		r = log_err_errno(-errno, "Failed to listen on %s (%s): %m", spec, addr);
		close(fd);
		goto out;
	}
	log_debug("--listen %s: bound %s port %lu", spec, addr, pn);
	*ret_fd = fd;
	snprintf(ret_host, host_size, "%s", host);
	*ret_port = (unsigned)pn;
	r = 0;
out:
	freeaddrinfo(res);
	return r;
syntax:
	log_err("--listen %s: want HOST:PORT, HOST a loopback address or a name resolving only to loopback, PORT 1-65535 (" LISTEN_FORMS ")",
		spec);
	return -EINVAL;
}

/*
 * Pids in requests are looked up in profd's /proc and compared with what
 * the BPF programs see in profd's PID namespace: both must be the same
 * namespace. A /proc mounted for another one (`unshare --pid --fork`
 * without --mount-proc, a container given the host's /proc) would make a
 * pid name one process there and another here: refuse, saying how to run
 * profd. Logs; 0 with profd's namespace in *@ret_inum (pidns__inum()).
 */
static int check_pidns(uint32_t *ret_inum)
{
	pid_t self = 0;
	int r;

	r = pidns__proc_self(&self);
	if (r < 0 || self != getpid()) {
		if (r < 0)
			log_err("/proc/self: %s: /proc is not mounted for profd's PID namespace", strerror(-r));
		else
			log_err("/proc is mounted for another PID namespace than profd's own (/proc/self is %d, profd is pid %d)",
				(int)self, (int)getpid());
		log_err("pids in requests would not name the processes callers mean: run profd in the host PID namespace (docker run --pid=host, Kubernetes hostPID: true, systemd on the host) or in a PID namespace with its own /proc (unshare --pid --fork --mount-proc, a container's default)");
		return -EXDEV;
	}
	r = pidns__inum(ret_inum);
	if (r < 0)
		return log_err_errno(r, "Failed to read profd's PID namespace (/proc/self/ns/pid): %m");
	return 0;
}

/* Remove our socket, unless another profd has bound the path since. */
static void unlink_own_socket(const char *path, ino_t ino)
{
	struct stat st;

	if (ino && stat(path, &st) == 0 && st.st_ino == ino)
		(void)unlink(path);
}

static void continuous_reload(const struct fleet_config *fc);

/* SIGHUP: the config file again; a bad one changes nothing. */
static void reload(const struct options *o, struct fleet *fleet)
{
	struct fleet_config fc;
	char err[CONFIG_ERR_MAX];

	if (config__load_all(o->config_path, o->config_given, o->fleet_cli,
			     o->nfleet_cli, o->lim.max_hz, &fc, err, sizeof(err)) < 0) {
		log_err("reload: %s: configuration unchanged", err);
		return;
	}
	if (fleet__reload(fleet, &fc) == 0)
		log_info("reload: %s read", o->config_path);
	continuous_reload(&fc);
	config__free(&fc);
}

/*
 * Where the sampler's records go: the windows (session.c) and the
 * every-process collections (continuous.c), each taking what is theirs.
 * Main thread only.
 */
static struct sample_sink {
	struct session_mgr *m;
	struct continuous *cont;	/* NULL until created */
} sink;

static void on_sample(void *ctx, const struct profd_cpu_sample *s)
{
	struct sample_sink *k = ctx;

	session_mgr__on_sample(k->m, s);
	if (k->cont)
		continuous__on_sample(k->cont, s);
}

/* SIGHUP's continuous settings (continuous__reload() says what is live). */
static void continuous_reload(const struct fleet_config *fc)
{
	struct continuous_config cc = {
		.on = fc->continuous, .hz = fc->continuous_hz,
		.interval_s = fc->continuous_interval_s,
		.include = fc->continuous_include,
		.exclude = fc->continuous_exclude,
		.fp = fc->continuous_fp,
	};
	char err[CONFIG_ERR_MAX];
	unsigned what = 0;
	int r;

	if (!sink.cont)
		return;
	r = continuous__reload(sink.cont, &cc, err, sizeof(err), &what);
	if (r < 0)
		log_err("reload: continuous settings unchanged: %s",
			r == -EINVAL ? err : strerror(-r));
	if (what & CONTINUOUS_RELOAD_REFUSED)
		log_warn("reload: continuous = %s, continuous-fp = %s: a change of these takes effect at the next restart (not applied live; counted in profd_continuous_reloads_total{result=\"refused\"})",
			 fc->continuous ? "yes" : "no",
			 fc->continuous_fp ? "yes" : "no");
	if (what & CONTINUOUS_RELOAD_RATE)
		log_info("reload: continuous sampling at %u Hz, %u s intervals from the interval after the one in progress",
			 fc->continuous_hz, fc->continuous_interval_s);
	if (what & CONTINUOUS_RELOAD_FILTERS)
		log_info("reload: continuous include/exclude changed: applied to every process from its next sample");
}

/* The event loop: drains the sampler, handles signals. Nothing else runs
 * here (the heap tracker collects on a thread of its own; continuous
 * collection on its worker). */
static int main__loop(const struct options *o, struct sampler *sampler,
		      struct session_mgr *m, struct fleet *fleet, int sfd,
		      int wfd)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[4];
	struct timespec ts;
	int ep, r = 0, n, i;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	ev.data.fd = sfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		goto err;
	ev.data.fd = wfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev) < 0)
		goto err;
	ev.data.fd = sampler__fd(sampler);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		goto err;
	for (;;) {
		/* The BPF side does not wake us per sample: drain every
		 * 50 ms, when the buffer fills, or when a window ends. */
		n = epoll_wait(ep, evs, 4, 50);
		if (n < 0 && errno != EINTR)
			goto err;
		for (i = 0; i < n; i++) {
			struct signalfd_siginfo si;
			uint64_t v;

			if (evs[i].data.fd == wfd)
				(void)!read(wfd, &v, sizeof(v));
			if (evs[i].data.fd != sfd)
				continue;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP)
				reload(o, fleet);
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				log_info("signal %d: shutting down",
					 (int)si.ssi_signo);
				goto out;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = sampler__drain(sampler);
		if (r < 0 && r != -EINTR)
			log_warn("ring buffer: %s", strerror(-r));
		session_mgr__drained(m);
		if (sink.cont)
			continuous__drained(sink.cont, (uint64_t)ts.tv_sec *
					    1000000000ULL + (uint64_t)ts.tv_nsec);
	}
err:
	r = -errno;
out:
	close(ep);
	return r < 0 ? r : 0;
}

/* Continuous collection and machine-wide pulls (continuous.h). Logs. */
static int continuous_start(const struct options *o,
			    const struct fleet_config *fc,
			    struct proc_cache *pc, struct session_mgr *m,
			    struct fleet *fleet, struct sampler *sampler,
			    int wfd, struct continuous **ret)
{
	struct continuous_config cc = {
		.on = fc->continuous,
		.hz = fc->continuous_hz,
		.interval_s = fc->continuous_interval_s,
		.include = fc->continuous_include,
		.exclude = fc->continuous_exclude,
		.fp = fc->continuous_fp,
		.max_stacks = o->lim.max_stacks,
	};
	struct continuous *c = NULL;
	int r;

	r = continuous__new(&cc, pc, m, fleet, &c);
	if (r < 0)
		return log_err_errno(r, "Failed to set up continuous collection: %m");
	r = continuous__start(c, sampler, wfd);
	if (r < 0) {
		continuous__free(c);
		return log_err_errno(r, "Failed to start continuous sampling at %u Hz: %m",
				     cc.hz);
	}
	if (cc.on)
		log_info("continuous: every process at %u Hz, one profile per service every %u s",
			 cc.hz, cc.interval_s);
	*ret = c;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {
		.socket_path = DEFAULT_SOCKET,
		.socket_mode = 0666,
		.lim = { .max_sessions = 64, .max_sessions_per_uid = 8,
			 .max_seconds = 600, .max_hz = 1000,
			 .max_stacks = 65536 },
		.symbol_cache_bytes = 32u << 20,
		.stack_bytes = PROFD_STACK_COPY_MAX,
		.dbgd = { .cache_max_bytes = 1024ull << 20, .timeout_s = 30,
			  .max_fetches = 2 },
		.heap = { .max_procs = 16, .max_live = 1u << 18,
			  .default_sample_bytes = 131072,
			  .idle_timeout_ns = 600ULL * 1000000000ULL,
			  .event_buffer_bytes = 4u << 20 },
		.config_path = CONFIG_DEFAULT_PATH,
	};
	struct fleet_config fc;
	struct fleet *fleet = NULL;
	struct continuous *cont = NULL;
	char cerr[CONFIG_ERR_MAX];
	struct heap_tracker *heap = NULL;
	struct proc_cache *pc = NULL;
	struct offcpu *offcpu = NULL;
	struct threads *threads = NULL;
	struct execwatch *ew = NULL;
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct symbolizer *sym = NULL;
	struct debuginfod *dbgd = NULL;
	struct session_mgr *m = NULL;
	struct sampler *sampler = NULL;
	struct api *api = NULL;
	struct api_config ac = { .unix_fd = -1, .tcp_fd = -1 };
	char tcp_host[256];
	bool activated = false, own_socket = false;
	sigset_t mask;
	struct stat st;
	ino_t sock_ino = 0;
	uint32_t pidns_inum = 0;
	int r, sfd = -1, wfd = -1, n;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.verbose)
		log__set_level(LOG_LEVEL_DEBUG);
	/* Before anything is loaded: a bad or unsafe file stops profd. */
	if (config__load_all(o.config_path, o.config_given, o.fleet_cli,
			     o.nfleet_cli, o.lim.max_hz, &fc, cerr, sizeof(cerr)) < 0) {
		log_err("%s", cerr);
		return 2;
	}
	libbpf_verbose = o.verbose;
	libbpf_set_print(NULL);
	if (!has_bpf_privileges()) {
		log_err("profd needs root, or CAP_BPF and CAP_PERFMON, to load its BPF programs; uid %u lacks them (sudo profd, or systemctl start profd)",
			(unsigned)geteuid());
		return 1;
	}
	libbpf_set_print(libbpf_print);

	/* Signals go to the signalfd; block them before any thread starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		r = log_err_errno(-errno, "Failed to create signalfd: %m");
		goto out;
	}

	r = check_pidns(&pidns_inum);
	if (r < 0)
		goto out;	/* logged */
	o.heap.pidns_inum = pidns_inum;

	/* Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		log_debug("cannot raise RLIMIT_MEMLOCK: %s", strerror(errno));

	sym = symbolizer__new(o.symbol_cache_bytes);
	if (!sym) {
		r = log_err_errno(-ENOMEM, "Failed to create symbolizer: %m");
		goto out;
	}
	r = debuginfod_start(&o, sym, &dbgd);
	if (r < 0)
		goto out;	/* logged */
	/* First: the sampler and the heap tracker share its map. */
	r = execwatch__new(pidns_inum, &ew);
	if (r < 0) {
		log_err_errno(r, "Failed to load the BPF exec watch (tracepoints sched_process_exec, sched_process_exit): %m (profd needs root, or CAP_BPF + CAP_PERFMON, and a kernel with BTF)");
		goto out;
	}
	r = proc_cache__new(sym, &pc);
	if (r < 0) {
		log_err_errno(r, "Failed to create the process cache: %m");
		goto out;
	}
	r = session_mgr__new(&o.lim, sym, ew, pc, &m);
	if (r < 0) {
		log_err_errno(r, "Failed to create session manager: %m");
		goto out;
	}
	if (!o.heap.agent_path)
		o.heap.agent_path = default_agent();
	r = heap__new(&o.heap, sym, ew, pc, &heap);
	if (r < 0) {
		log_err_errno(r, "Failed to create heap tracker: %m");
		goto out;
	}
	sink.m = m;
	r = sampler__new(on_sample, &sink, pidns_inum,
			 execwatch__map_fd(ew), o.stack_bytes, &sampler);
	if (r < 0 && pidns_inum) {
		/* In a container: BPF may be denied there (a user namespace),
		 * or the kernel lacks syscall programs (before 5.14). */
		log_err_errno(r, "Failed to load the BPF sampler for profd's PID namespace (inode %u): %m (profd needs root, or CAP_BPF + CAP_PERFMON, and in a PID namespace other than the host's a kernel with BPF syscall programs, 5.14+; else run profd in the host PID namespace: docker run --pid=host, Kubernetes hostPID: true)",
			      pidns_inum);
		goto out;
	}
	if (r < 0) {
		log_err_errno(r, "Failed to load the BPF sampler: %m (profd needs root, or CAP_BPF + CAP_PERFMON)");
		goto out;
	}
	if (pidns_inum)
		log_info("in PID namespace %u (level %u): pids are that namespace's",
			 pidns_inum, sampler__pidns_level(sampler));
	wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wfd < 0) {
		r = log_err_errno(-errno, "Failed to create eventfd: %m");
		goto out;
	}
	session_mgr__set_sampler(m, sampler, wfd);
	r = fleet__new(&fc, &fleet);
	if (r < 0)
		goto out;	/* logged */
	ac.fleet = fleet;
	r = continuous_start(&o, &fc, pc, m, fleet, sampler, wfd, &cont);
	if (r < 0)
		goto out;	/* logged */
	sink.cont = cont;
	ac.cont = cont;

	n = sd_listen_fds(1);
	if (n > 0 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1,
				       NULL, 0) > 0) {
		struct sockaddr_un sa = {};
		socklen_t sl = sizeof(sa);

		ac.unix_fd = SD_LISTEN_FDS_START;
		activated = true;
		/* Log the path systemd bound, not our default. */
		if (getsockname(ac.unix_fd, (struct sockaddr *)&sa, &sl) == 0 &&
		    sa.sun_path[0]) {
			static char path[sizeof(sa.sun_path) + 1];

			memcpy(path, sa.sun_path, sizeof(sa.sun_path));
			o.socket_path = path;
		}
	} else {
		r = listen_unix(&o, &ac.unix_fd);
		if (r == -EADDRINUSE) {
			log_err("%s: another profd is serving it", o.socket_path);
			goto out;
		}
		if (r < 0) {
			log_err_errno(r, "Failed to listen on %s: %m",
				      o.socket_path);
			goto out;
		}
		own_socket = true;
		if (stat(o.socket_path, &st) == 0)
			sock_ino = st.st_ino;
	}
	if (o.listen) {
		r = listen_tcp(o.listen, &ac.tcp_fd, tcp_host, sizeof(tcp_host),
			       &ac.tcp_port);
		if (r < 0)
			goto out;	/* logged */
		ac.tcp_host = tcp_host;
		r = access__tcp_lookup_works();
		if (r < 0)
			log_warn("--listen %s: cannot identify TCP callers (sock_diag: %s); each is served as anonymous, who may read only /v1/status's counters: allow AF_NETLINK sockets (RestrictAddressFamilies=)",
				 o.listen, strerror(-r));
	}
	/*
	 * Users other than root share as many connections as there are
	 * sessions, each uid its sessions and a few for status and heap
	 * requests; 16 more are root's alone. A whole request within 10 s:
	 * clients send theirs in milliseconds.
	 */
	ac.conns.max_nonroot = o.lim.max_sessions;
	ac.conns.max_total = o.lim.max_sessions + 16;
	ac.conns.max_per_uid = o.lim.max_sessions_per_uid + 4;
	if (ac.conns.max_per_uid > ac.conns.max_nonroot)
		ac.conns.max_per_uid = ac.conns.max_nonroot;
	ac.conns.request_timeout_s = 10;
	{
		struct offcpu_limits ol = {
			.max_windows = o.lim.max_sessions,
			.max_seconds = o.lim.max_seconds,
			.max_stacks = o.lim.max_stacks,
			.max_pending = 65536,
		};

		r = threads__new(pc, ew, pidns_inum, &threads);
		if (r < 0) {
			log_err_errno(r, "Failed to create the thread reader: %m");
			goto out;
		}
		ac.threads = threads;
		r = offcpu__new(&ol, pc, ew, threads, pidns_inum, &offcpu);
		if (r < 0) {
			log_err_errno(r, "Failed to create the wait tracer: %m");
			goto out;
		}
		ac.offcpu = offcpu;
	}
	r = api__start(&ac, m, heap, &api);
	if (r < 0) {
		log_err_errno(r, "Failed to start the HTTP server: %m");
		goto out;
	}
	log_info("serving on %s%s%s%s (%d CPUs)", o.socket_path,
		 activated ? " (socket-activated)" : "",
		 o.listen ? " and http://" : "", o.listen ? o.listen : "",
		 sampler__ncpus(sampler));
	(void)sd_notify(0, "READY=1\nSTATUS=serving");

	r = main__loop(&o, sampler, m, fleet, sfd, wfd);
	(void)sd_notify(0, "STOPPING=1");
out:
	if (m)
		session_mgr__shutdown(m);
	continuous__shutdown(cont);
	if (heap)
		heap__shutdown(heap);
	if (offcpu)
		offcpu__shutdown(offcpu);
	/* Let waiting requests send their 503 before the server stops. */
	if (m)
		session_mgr__wait_idle(m, 2000);
	if (heap)
		heap__wait_idle(heap, 2000);
	api__stop(api);
	/* Before the sampler and the fleet it uses; no sample comes now
	 * (the main loop is over). */
	sink.cont = NULL;
	continuous__free(cont);
	offcpu__free(offcpu);
	threads__free(threads);
	fleet__free(fleet);
	config__free(&fc);
	heap__free(heap);
	if (ac.tcp_fd >= 0)
		close(ac.tcp_fd);
	if (ac.unix_fd >= 0 && !activated)
		close(ac.unix_fd);
	if (own_socket)
		unlink_own_socket(o.socket_path, sock_ino);
	sampler__free(sampler);
	session_mgr__free(m);
	proc_cache__free(pc);
	execwatch__free(ew);
	symbolizer__free(sym);
	debuginfod__free(dbgd);
	if (sfd >= 0)
		close(sfd);
	if (wfd >= 0)
		close(wfd);
	return r < 0 ? 1 : 0;
}
