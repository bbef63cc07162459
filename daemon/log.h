/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging for profd's outer layers (main, sessions, API). Pipeline stages
 * return errors instead of logging. Lines go to stderr with a level prefix
 * that journald understands (<3> etc.) when stderr is the journal.
 */
#ifndef PROFD_LOG_H
#define PROFD_LOG_H

#include <errno.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

void log__set_level(enum log_level max);
enum log_level log__level(void);
void log__msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log__msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)	log__msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log__msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log__msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* log_err_errno(r, "Failed to x: %m") with errno set from r (negative). */
#define log_err_errno(r, ...) ({ errno = -(r); log_err(__VA_ARGS__); (r); })

#endif /* PROFD_LOG_H */
