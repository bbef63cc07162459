// SPDX-License-Identifier: GPL-2.0
/* profd's command line: usage, parsing into struct options (main_int.h). */

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

#include "main_int.h"

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
"  --listen HOST:PORT       also serve HTTP on TCP, for 'go tool pprof URL'\n"
"                           (off by default); HOST is 127.0.0.1, [::1] or a\n"
"                           name resolving only to loopback, such as\n"
"                           localhost; any other address needs\n"
"                           --listen-token-file (also config key 'listen')\n"
"  --listen-token-file PATH  every request on the listener must carry\n"
"                           'Authorization: Bearer TOKEN', TOKEN this file's\n"
"                           first line (root's, mode 0600); its holder may\n"
"                           read profiles, /metrics and /v1/status as root\n"
"  --listen-tls-cert PATH   HTTPS on the listener: certificate (PEM)\n"
"  --listen-tls-key PATH    and its key (PEM, mode 0600)\n"
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

int main__parse_args(int argc, char **argv, struct options *o)
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
		{ "listen-token-file", required_argument, NULL, O_FLEET + 16 },
		{ "listen-tls-cert", required_argument, NULL, O_FLEET + 17 },
		{ "listen-tls-key", required_argument, NULL, O_FLEET + 18 },
		{ "continuous-fp", required_argument, NULL, O_FLEET + 19 },
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
		case O_FLEET ... O_FLEET + 19:
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

