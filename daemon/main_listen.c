// SPDX-License-Identifier: GPL-2.0
/* profd's listening sockets: the Unix socket, --listen (main_int.h). */

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
#include "listen_auth.h"
#include "log.h"
#include "pidns.h"
#include "proc.h"
#include "sampler.h"
#include "session.h"
#include "symbolizer.h"

#include "main_int.h"

/*
 * The socket is bound in a directory of its own (mkdtemp: 0700, root's),
 * given its mode and group there, and renamed into place: at its path it
 * never exists with another mode. chmod() by name after bind() left bind's
 * mode (0777 less the umask) for a moment, and in a directory others may
 * write it would follow a symlink swapped in for the name. fchmod() on the
 * socket before bind() is no help: bind() still applies the umask, which
 * is the process's, shared with every thread.
 */
int main__listen_unix(const struct options *o, int *ret_fd)
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
 * --listen HOST:PORT, loopback only unless @token: without a bearer token
 * (listen_auth.h) profd must never serve beyond the machine, where
 * callers have no uid it could check per request. HOST is a
 * loopback address (127.0.0.0/8, ::1, IPv6 in brackets) or a name whose
 * addresses are all loopback: one that resolves to anything else, through
 * /etc/hosts or DNS, is refused, not narrowed. The name is resolved once
 * here and the address is bound, so a later change of what it resolves to
 * does not matter. Of several addresses (localhost: ::1 and 127.0.0.1) the
 * first IPv4 one is bound, as Go's net.Listen does: clients try each address
 * of the name, and 127.0.0.1 works where IPv6 is disabled.
 *
 * With @token any address is bound; *@ret_loopback says whether every
 * address of HOST was loopback.
 *
 * Logs its own errors, each naming what to change. Return: 0 with *@ret_fd,
 * the host (no brackets) in @ret_host and the port set, -EINVAL for a
 * malformed @spec, -EADDRNOTAVAIL for a host that does not resolve or
 * resolves beyond loopback, or socket/bind's -errno.
 */
int main__listen_tcp(const char *spec, bool token, int *ret_fd,
		     char *ret_host, size_t host_size, unsigned *ret_port,
		     bool *ret_loopback)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	char host[256], addr[INET6_ADDRSTRLEN], *colon, *port, *end;
	struct addrinfo *res = NULL, *ai, *pick = NULL;
	unsigned long pn;
	int fd, one = 1, r;
	bool loopback = true;

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
		if (!addr_is_loopback(ai->ai_addr))
			loopback = false;
		if (!addr_is_loopback(ai->ai_addr) && !token) {
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
					NULL, 0, NI_NUMERICHOST))
				snprintf(addr, sizeof(addr), "?");
			if (!strcmp(addr, host))
				log_err("--listen %s: %s is not a loopback address; without --listen-token-file profd listens on loopback only (" LISTEN_FORMS "): a listener beyond loopback needs a token (README, Remote scrapes)",
					spec, host);
			else
				log_err("--listen %s: %s resolves to %s, not a loopback address; without --listen-token-file profd listens on loopback only (" LISTEN_FORMS "): a listener beyond loopback needs a token (README, Remote scrapes)",
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
	*ret_loopback = loopback;
	r = 0;
out:
	freeaddrinfo(res);
	return r;
syntax:
	log_err("--listen %s: want HOST:PORT, HOST a loopback address or a name resolving only to loopback (any address with --listen-token-file), PORT 1-65535 (" LISTEN_FORMS ")",
		spec);
	return -EINVAL;
}

/*
 * The token file and, with TLS, the certificate and key that @fc names,
 * read and checked (listen_auth.h) into @ret_token, @ret_cert, @ret_key
 * (the PEMs NULL without TLS). 0, or -errno with @err saying which file
 * and why.
 */
static int read_creds(const struct fleet_config *fc, struct listen_auth *ret_token,
		      char **ret_cert, char **ret_key, char *err, size_t errsize)
{
	char msg[LISTEN_AUTH_ERR_MAX];
	char *cert = NULL, *key = NULL;
	int r;

	r = listen_auth__load(fc->listen_token_file, ret_token, msg, sizeof(msg));
	if (r < 0) {
		snprintf(err, errsize, "listen-token-file %s", msg);
		return r;
	}
	if (fc->listen_tls_cert) {
		r = listen_auth__read_pem(fc->listen_tls_cert, false, &cert, msg,
					  sizeof(msg));
		if (!r)
			r = listen_auth__read_pem(fc->listen_tls_key, true, &key,
						  msg, sizeof(msg));
		if (r < 0) {
			snprintf(err, errsize, "listen-tls-%s %s", cert ? "key" : "cert", msg);
			listen_auth__free_pem(cert);
			listen_auth__clear(ret_token);
			return r;
		}
	}
	*ret_cert = cert;
	*ret_key = key;
	return 0;
}

/*
 * The listener's token and TLS files (listen_auth.h), read before anything
 * is loaded so that an unsafe or missing one stops profd at once. Logs;
 * 0 with *@ret_keys NULL when there is no token, else new keys (free with
 * listen_keys__free()).
 */
int main__listen_creds(const struct fleet_config *fc, const char *spec,
		       struct listen_keys **ret_keys)
{
	char err[LISTEN_AUTH_ERR_MAX + 64];
	struct listen_auth token = {};
	struct listen_keys *keys = NULL;
	char *cert = NULL, *key = NULL;
	int r;

	if (!spec && (fc->listen_token_file || fc->listen_tls_cert)) {
		log_err("listen-token-file, listen-tls-cert, listen-tls-key: no --listen (or 'listen' in the config file) to use them on");
		return -EINVAL;
	}
	if (fc->listen_token_file) {
		r = read_creds(fc, &token, &cert, &key, err, sizeof(err));
		if (!r)
			r = listen_keys__new(&token, cert, key, &keys, err, sizeof(err));
		listen_auth__clear(&token);
		if (r < 0) {
			log_err("%s", r == -ENOMEM ? strerror(ENOMEM) : err);
			return r;
		}
	}
	*ret_keys = keys;
	return 0;
}

/*
 * SIGHUP (`systemctl reload profd`): the listener's token and TLS files
 * read again from re-read configuration @fc, so that a token or a
 * certificate is rotated without a restart. All or nothing: a file that
 * is unsafe, missing or not what it should be, or a certificate and key
 * that do not match, keeps every current credential; one line says why.
 * How profd listens (the address, TLS or not) changes only by a restart.
 * @keys NULL: no token listener. Counted in @fleet's listen reloads,
 * before the line is logged (a reader that waits for it finds the count).
 */
void main__listen_reload(const struct fleet_config *fc, struct listen_keys *keys,
			 struct fleet *fleet)
{
	char err[LISTEN_AUTH_ERR_MAX + 64];
	struct listen_auth token = {};
	char *cert = NULL, *key = NULL;
	int r;

	if (!keys) {
		if (fc->listen_token_file)
			log_warn("reload: listen-token-file: profd has no token listener; it takes one at the next restart");
		return;
	}
	if (!fc->listen_token_file) {
		fleet__count_listen_reload(fleet, false);
		log_err("reload: listen-token-file removed: the listener keeps its current token (a listener without one needs a restart)");
		return;
	}
	r = read_creds(fc, &token, &cert, &key, err, sizeof(err));
	if (!r)
		r = listen_keys__replace(keys, &token, cert, key, err, sizeof(err));
	listen_auth__clear(&token);
	if (r < 0) {
		fleet__count_listen_reload(fleet, false);
		log_err("reload: %s: the listener keeps its current token%s",
			r == -ENOMEM ? strerror(ENOMEM) : err,
			listen_keys__tls(keys) ? ", certificate and key" : "");
		return;
	}
	fleet__count_listen_reload(fleet, true);
	log_info("reload: the listener's token%s read again",
		 listen_keys__tls(keys) ? ", certificate and key" : "");
}
