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
 *   1. heap agent_lock | heap rb_lock | heap load_lock
 *                                       (never two; heap_int.h)
 *      continuous tlock                 (target updates; continuous.h:
 *                                       held while it sets the session
 *                                       manager's extra targets)
 *   2. session manager lock | heap lock | offcpu lock | threads lock
 *      | continuous lock                (never two: no thread holds one
 *                                       manager's lock while calling
 *                                       into another)
 *   3. execwatch lock                   (target__current() and friends)
 *   4. process cache lock               (proc__get/hold/put, proc.h)
 *   5. proc->jit_lock, then proc->lock  (a process's JIT maps, its maps)
 *   6. symbolizer locks                 (binaries, libdw; innermost)
 *   Leaves (nothing is taken under them; some are taken under others):
 *   conns lock; the listener's keys (api_listen.c); fleet's counters;
 *   continuous qlock; debuginfod's (no I/O under it); push->lock, with
 *   only the spool's index lock inside it (push.c).
 *
 * No manager lock (2.) is held across slow work, with one exception
 * said in its header: threads takes one snapshot at a time under its
 * lock (only another thread-stack snapshot waits for it). Unwinding,
 * opening ELF files (proc__new(), proc__refresh()), symbolizing, gzip or
 * ptrace run with a reference taken (proc refs, a target__dup()) and the
 * lock dropped: offcpu's drain thread unwinds each wait record so
 * (offcpu_pair.c); the heap's uprobe attach, detach, map purges and exit-time
 * snapshots, the BPF object's first load, the reader's unwinding of each
 * event and gc's map re-reads too (heap_int.h). The event loop below
 * takes the session manager's lock only for counting samples, never the
 * heap's. `make tsan` checks this order: ThreadSanitizer's deadlock
 * detector on the tests that take these locks at once
 * (tests/e2e/test_locks.py); and in the sanitizer builds, functions that
 * must run under a lock assert they do (lockcheck.h).
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
#include "api_listen.h"
#include "log.h"
#include "pidns.h"
#include "proc.h"
#include "sampler.h"
#include "session.h"
#include "slice.h"
#include "symbolizer.h"

#include "main_int.h"

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

/* The token listener's credentials (NULL: none), which SIGHUP re-reads.
 * Main thread only. */
static struct listen_keys *listener_keys;

/* SIGHUP: the config file again; a bad one changes nothing. */
static void reload(const struct options *o, struct fleet *fleet)
{
	struct fleet_config fc;
	char err[CONFIG_ERR_MAX];

	if (config__load_all(o->config_path, o->config_given, o->fleet_cli,
			     o->nfleet_cli, o->lim.max_hz, &fc, err, sizeof(err)) < 0) {
		log_err("reload: %s: configuration unchanged", err);
		if (listener_keys)	/* its files were not read again */
			fleet__count_listen_reload(fleet, false);
		return;
	}
	if (fleet__reload(fleet, &fc) == 0)
		log_info("reload: %s read", o->config_path);
	main__listen_reload(&fc, listener_keys, fleet);
	continuous_reload(&fc);
	config__free(&fc);
}

/*
 * Where the sampler's records go: the windows (session_sample.c) and the
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
	/* A CPU window's end waits for a drain here: the short slice, as
	 * the threads that answer requests have (slice.h). */
	(void)slice__set(true);
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
			if (si.ssi_signo == SIGHUP) {
				/* Threads it may start: the default. */
				(void)slice__set(false);
				reload(o, fleet);
				(void)slice__set(true);
			}
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
	struct listen_keys *listen_keys = NULL;
	bool loopback = true;
	char tcp_host[256];
	bool activated = false, own_socket = false;
	sigset_t mask;
	struct stat st;
	ino_t sock_ino = 0;
	uint32_t pidns_inum = 0;
	int r, sfd = -1, wfd = -1, n;

	if (main__parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.verbose)
		log__set_level(LOG_LEVEL_DEBUG);
	/* Before anything is loaded: a bad or unsafe file stops profd. */
	if (config__load_all(o.config_path, o.config_given, o.fleet_cli,
			     o.nfleet_cli, o.lim.max_hz, &fc, cerr, sizeof(cerr)) < 0) {
		log_err("%s", cerr);
		return 2;
	}
	if (!o.listen)
		o.listen = fc.listen;
	if (main__listen_creds(&fc, o.listen, &listen_keys) < 0) {
		config__free(&fc);
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

	r = symbolizer__new(o.symbol_cache_bytes, &sym);
	if (r < 0) {
		log_err_errno(r, "Failed to create symbolizer: %m");
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
		r = main__listen_unix(&o, &ac.unix_fd);
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
		r = main__listen_tcp(o.listen, listen_keys != NULL, &ac.tcp_fd, tcp_host,
				     sizeof(tcp_host), &ac.tcp_port, &loopback);
		if (r < 0)
			goto out;	/* logged */
		ac.tcp_host = tcp_host;
		ac.tcp_keys = listen_keys;
		r = listen_keys ? 0 : access__tcp_lookup_works();
		if (listen_keys && !listen_keys__tls(listen_keys) && !loopback)
			log_warn("--listen %s without TLS: the bearer token crosses the network in the clear; anyone who sees it may read every process's profile (--listen-tls-cert, --listen-tls-key)",
				 o.listen);
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
	/* Callers beyond the machine (anonymous: a share per source each,
	 * conns.h) together half of the users' share, so that scrapers
	 * never take this machine's users' connections. */
	ac.conns.max_anonymous = ac.conns.max_nonroot / 2;
	if (ac.conns.max_anonymous < ac.conns.max_per_uid)
		ac.conns.max_anonymous = ac.conns.max_per_uid;
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
		 !o.listen ? "" : listen_keys__tls(listen_keys) ? " and https://" :
		 " and http://",
		 o.listen ? o.listen : "",
		 sampler__ncpus(sampler));
	listener_keys = listen_keys;
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
	listener_keys = NULL;
	listen_keys__free(listen_keys);
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
