/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PROFD_CXXNAME_H
#define PROFD_CXXNAME_H

#include <stddef.h>

/**
 * cxxname__shorten() - @name for a table column: a demangled C++ name
 * simplified as pprof's default demangling does (no template arguments, no
 * parameters, no return type: "std::_Rb_tree::_M_lower_bound"), other names
 * (C, Go, Rust) as they are; then, if longer than @max_width (0: no limit),
 * "..." and its last characters, where the function's own name is.
 * Writes into @buf (NUL-terminated, cut at @size); returns the length.
 */
size_t cxxname__shorten(const char *name, size_t max_width, char *buf,
			size_t size);

#endif /* PROFD_CXXNAME_H */
