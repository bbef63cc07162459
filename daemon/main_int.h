/* SPDX-License-Identifier: GPL-2.0 */
/*
 * main's insides, shared by its files (not an API):
 *
 *   main.c         the init chain and its reverse, the event loop, signals
 *   main_opts.c    the command line: usage, parsing into struct options
 *   main_listen.c  the listening sockets: the Unix socket, --listen (TCP)
 */
#ifndef PROFD_MAIN_INT_H
#define PROFD_MAIN_INT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "debuginfod.h"
#include "heap.h"
#include "session.h"

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

/* main_opts.c */
int main__parse_args(int argc, char **argv, struct options *o);

/* main_listen.c */
int main__listen_unix(const struct options *o, int *ret_fd);
int main__listen_tcp(const char *spec, bool token, int *ret_fd,
		     char *ret_host, size_t host_size, unsigned *ret_port,
		     bool *ret_loopback);
struct listen_keys;
struct fleet;
int main__listen_creds(const struct fleet_config *fc, const char *spec,
		       struct listen_keys **ret_keys);
void main__listen_reload(const struct fleet_config *fc, struct listen_keys *keys,
			 struct fleet *fleet);

#endif /* PROFD_MAIN_INT_H */
