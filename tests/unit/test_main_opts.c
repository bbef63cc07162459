// SPDX-License-Identifier: GPL-2.0
/*
 * profd's command line (main_opts.c) on its own: values land in the right
 * fields with the right units, and the ranges README's option table gives
 * hold at both ends (the last value accepted, the next one refused).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#include "check.h"
#include "main_int.h"

/* Parse profd and the NULL-terminated arguments into a zeroed @o. */
static int parse(struct options *o, ...)
{
	char *argv[16] = { "profd" };
	int argc = 1;
	va_list ap;

	va_start(ap, o);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	memset(o, 0, sizeof(*o));
	optind = 0;	/* glibc: start getopt over */
	return main__parse_args(argc, argv, o);
}

int main(void)
{
	struct options o;
	int r;

	r = parse(&o, NULL);
	CHECK(r == 0 && !o.socket_path && !o.verbose, "r=%d", r);

	r = parse(&o, "--socket", "/run/x.sock", "--socket-mode", "0640",
		  "--listen", "127.0.0.1:6060", "-v", "-v", NULL);
	CHECK(r == 0, "r=%d", r);
	CHECK(o.socket_path && !strcmp(o.socket_path, "/run/x.sock"), "path");
	CHECK(o.socket_mode == 0640, "mode %o", (unsigned)o.socket_mode);
	CHECK(o.listen && !strcmp(o.listen, "127.0.0.1:6060"), "listen");
	CHECK(o.verbose == 2, "verbose %d", o.verbose);

	/* Octal, at most 0777. */
	CHECK(parse(&o, "--socket-mode", "0777", NULL) == 0, "0777");
	CHECK(parse(&o, "--socket-mode", "1000", NULL) == -EINVAL, "1000");
	CHECK(parse(&o, "--socket-mode", "8", NULL) == -EINVAL, "8");

	/* Units: MiB, seconds, KiB. */
	r = parse(&o, "--symbol-cache-mb", "3", "--heap-idle-timeout", "7",
		  "--heap-event-buffer-kb", "64", "--debuginfod-cache-mb", "5",
		  NULL);
	CHECK(r == 0, "r=%d", r);
	CHECK(o.symbol_cache_bytes == 3u << 20, "%zu", o.symbol_cache_bytes);
	CHECK(o.heap.idle_timeout_ns == 7000000000ULL, "idle");
	CHECK(o.heap.event_buffer_bytes == 64u << 10, "buffer");
	CHECK(o.dbgd.cache_max_bytes == 5ull << 20, "cache");

	/* README: --stack-bytes 4096-65536, --debuginfod-fetches 1-16. */
	CHECK(parse(&o, "--stack-bytes", "4096", NULL) == 0 &&
	      o.stack_bytes == 4096, "4096");
	CHECK(parse(&o, "--stack-bytes", "65536", NULL) == 0 &&
	      o.stack_bytes == 65536, "65536");
	CHECK(parse(&o, "--stack-bytes", "4095", NULL) == -EINVAL, "4095");
	CHECK(parse(&o, "--stack-bytes", "65537", NULL) == -EINVAL, "65537");
	CHECK(parse(&o, "--debuginfod-fetches", "16", NULL) == 0 &&
	      o.dbgd.max_fetches == 16, "16");
	CHECK(parse(&o, "--debuginfod-fetches", "0", NULL) == -EINVAL, "0");
	CHECK(parse(&o, "--debuginfod-fetches", "17", NULL) == -EINVAL, "17");
	/* The event buffer is a power of two. */
	CHECK(parse(&o, "--heap-event-buffer-kb", "48", NULL) == -EINVAL, "48");

	/* Not numbers, negative, trailing junk. */
	CHECK(parse(&o, "--max-hz", "abc", NULL) == -EINVAL, "abc");
	CHECK(parse(&o, "--max-hz", "-1", NULL) == -EINVAL, "-1");
	CHECK(parse(&o, "--max-hz", "10x", NULL) == -EINVAL, "10x");
	CHECK(parse(&o, "--max-hz", "", NULL) == -EINVAL, "empty");
	CHECK(parse(&o, "--max-hz", "99", NULL) == 0 && o.lim.max_hz == 99,
	      "99");

	/* A relative debuginfod cache would move with the working directory. */
	CHECK(parse(&o, "--debuginfod-cache", "cache", NULL) == -EINVAL,
	      "relative");

	/* Fleet keys go to config.h by their option's name, in order. */
	r = parse(&o, "--push-url", "http://127.0.0.1:1/", "--tenant", "t1",
		  NULL);
	CHECK(r == 0 && o.nfleet_cli == 2, "r=%d n=%zu", r, o.nfleet_cli);
	CHECK(o.nfleet_cli == 2 && !strcmp(o.fleet_cli[0].key, "push-url") &&
	      !strcmp(o.fleet_cli[1].key, "tenant") &&
	      !strcmp(o.fleet_cli[1].value, "t1"), "fleet keys");
	/* The listener's credentials too; --listen stays an option of its
	 * own (the config file's 'listen' is used when it is absent). */
	r = parse(&o, "--listen", "10.0.0.17:6060", "--listen-token-file", "/t",
		  "--listen-tls-cert", "/c", "--listen-tls-key", "/k", NULL);
	CHECK(r == 0 && o.nfleet_cli == 3 && o.listen &&
	      !strcmp(o.listen, "10.0.0.17:6060") &&
	      !strcmp(o.fleet_cli[0].key, "listen-token-file") &&
	      !strcmp(o.fleet_cli[1].key, "listen-tls-cert") &&
	      !strcmp(o.fleet_cli[2].key, "listen-tls-key") &&
	      !strcmp(o.fleet_cli[2].value, "/k"), "listen keys: r=%d n=%zu",
	      r, o.nfleet_cli);

	/* Unknown options, a missing value, stray arguments. */
	CHECK(parse(&o, "--no-such-option", NULL) == -EINVAL, "unknown");
	CHECK(parse(&o, "-x", NULL) == -EINVAL, "-x");
	CHECK(parse(&o, "--socket", NULL) == -EINVAL, "no value");
	CHECK(parse(&o, "stray", NULL) == -EINVAL, "stray");
	return check__done();
}
