// SPDX-License-Identifier: GPL-2.0
/*
 * cxxname: a function name shortened for a table column, as pprof's
 * default demangling shortens C++ names. Pure.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"

/* As pprof's looksLikeDemangledCPlusPlus (not Java's "a.<init>", not Go's
 * "pkg.(*T[...]).M"), and a parameter list at the end ("churn_map(int)",
 * "f(int)@plt"): names C, Go and Rust do not have. */
static bool looks_like_cxx(const char *s)
{
	size_t n = strlen(s);

	if (strstr(s, ".<") || strstr(s, "]).") || !strncmp(s, "[", 1))
		return false;
	if (n > 4 && !strcmp(s + n - 4, "@plt"))
		n -= 4;
	return strstr(s, "::") || strpbrk(s, "<>") ||
	       (n > 2 && s[n - 1] == ')' && s[0] != '(');
}

/* Length of the operator token at @s (just after "operator"), 0 if none. */
static size_t operator_token(const char *s)
{
	static const char *const words[] = { " new[]", " delete[]", " new",
					     " delete", "()", "[]", "->*", "->",
					     "<=>", "<<=", ">>=", "<<", ">>" };
	size_t i, n = 0;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strncmp(s, words[i], strlen(words[i])))
			return strlen(words[i]);
	while (n < 2 && s[n] && strchr("+-*/%^&|~!=<>,", s[n]))
		n++;
	return n;
}

/* Length of a method qualifier at @s (" const", " &&"...), else 0. */
static size_t qualifier(const char *s)
{
	static const char *const quals[] = { " const", " volatile", " &&", " &" };
	size_t q;

	for (q = 0; q < sizeof(quals) / sizeof(quals[0]); q++)
		if (!strncmp(s, quals[q], strlen(quals[q])))
			return strlen(quals[q]);
	return 0;
}

size_t cxxname__shorten(const char *name, size_t max_width, char *buf,
			size_t size)
{
	size_t len = 0, i = 0, cut = 0, n;
	const char PROTECTED = '\x01';	/* a space that is no separator */
	char *out;

	if (!size)
		return 0;
	out = malloc(strlen(name) + 1);
	if (!out || !looks_like_cxx(name)) {
		free(out);
		snprintf(buf, size, "%s", name);
		len = strlen(buf);
		goto width;
	}
	while (name[i]) {
		char c = name[i];

		if (!strncmp(name + i, "operator", 8) &&
		    (i == 0 || name[i - 1] == ':' || name[i - 1] == ' ') &&
		    (n = operator_token(name + i + 8))) {
			/* "operator()", "operator<<", "operator new" */
			memcpy(out + len, name + i, 8 + n);
			for (size_t k = len; k < len + 8 + n; k++)
				if (out[k] == ' ')
					out[k] = PROTECTED;
			len += 8 + n;
			i += 8 + n;
			continue;
		}
		if (!strncmp(name + i, "(anonymous namespace)", 21)) {
			memcpy(out + len, "(anonymous\x01namespace)", 21);
			len += 21;
			i += 21;
			continue;
		}
		if (c == '<' || c == '(') {
			/* A template argument or parameter list: skip it whole. */
			char open = c, close = c == '<' ? '>' : ')';
			int depth = 0;

			/* "operator<< <char>": the space goes with it */
			if (len && out[len - 1] == ' ')
				len--;
			do {
				if (name[i] == open)
					depth++;
				else if (name[i] == close)
					depth--;
				i++;
			} while (name[i] && depth > 0);
			/* and the qualifiers after a parameter list */
			while (close == ')' && (n = qualifier(name + i)))
				i += n;
			continue;
		}
		out[len++] = c;
		i++;
	}
	out[len] = 0;
	/* A return type before the name ("std::iterator std::f"): drop it. */
	for (i = 0; i < len; i++)
		if (out[i] == ' ')
			cut = i + 1;
	for (i = cut; i < len; i++)
		if (out[i] == PROTECTED)
			out[i] = ' ';
	snprintf(buf, size, "%s", out + cut);
	len = strlen(buf);
	free(out);
width:
	/* Too wide: keep the end, where the function's own name is. */
	if (max_width > 3 && len > max_width && max_width < size) {
		memmove(buf + 3, buf + len - (max_width - 3), max_width - 3 + 1);
		memcpy(buf, "...", 3);
		len = max_width;
	}
	return len;
}
