/* SPDX-License-Identifier: GPL-2.0 */
/*
 * report: profctl's output — a profile's top table or folded stacks (the
 * options of cpu, heap and top), profd's status, errors as text or JSON.
 */
#ifndef PROFCTL_REPORT_H
#define PROFCTL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json_read.h"

/* How to show a profile: the report options of cpu, heap and top. */
struct report {
	const char *spec;	/* --sample-index, NULL: the default */
	bool fallback;		/* a missing @spec falls back to the default */
	size_t rows;
	bool by_cum, folded;
	const char *focus;
	const char *kind;	/* "heap": an empty table gets a hint */
	bool json;		/* JSON output (--json) */
};

/*
 * report__profile() - decode the profile in @buf (@file names it) and show
 * it as @rep says. 0, or -errno after reporting the error.
 */
int report__profile(const struct report *rep, const char *file,
		    const void *buf, size_t len);

/* /v1/status in a few lines. */
void report__status(const struct json_node *st);

/*
 * report__error() - "profctl: MSG" (and @hint) on standard error, or with
 * @json one object {"error": MSG, "http_status": @status, "hint": @hint}
 * on standard output, where a program reading the output finds it (as
 * bpftool does). @status: the HTTP status when profd refused, else 0;
 * @hint may be NULL.
 */
void report__error(bool json, long status, const char *msg, const char *hint);

/* @s as a JSON string literal. */
void report__json_str(FILE *f, const char *s);

#endif /* PROFCTL_REPORT_H */
