// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

static enum log_level max_level = LOG_LEVEL_INFO;
static int use_prefix = -1;

void log__set_level(enum log_level max)
{
	max_level = max;
}

enum log_level log__level(void)
{
	return max_level;
}

void log__msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {
		[LOG_LEVEL_ERR] = "error", [LOG_LEVEL_WARN] = "warning",
		[LOG_LEVEL_INFO] = "info", [LOG_LEVEL_DEBUG] = "debug",
	};
	int saved = errno;
	char buf[1024];
	va_list ap;

	if (level > max_level)
		return;
	/* Under systemd, stderr is the journal: use its <N> priority prefix. */
	if (use_prefix < 0)
		use_prefix = getenv("JOURNAL_STREAM") != NULL;
	errno = saved;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (use_prefix)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "profd: %s: %s\n", names[level], buf);
	errno = saved;
}
