// SPDX-License-Identifier: GPL-2.0
/*
 * cxxname: C++ names shortened as pprof's default demangling shortens them
 * (no template arguments, parameters or return type), other languages'
 * names kept, and cut from the front past a width.
 */
#include <string.h>

#include "check.h"
#include "cxxname.h"

static void test_short_names(void)
{
	static const struct { const char *in, *out; size_t width; } cases[] = {
		{ "std::_Rb_tree<int, std::pair<int const, int>, std::less<int> >::_M_lower_bound(std::_Rb_tree_node<int>*, int const&)",
		  "std::_Rb_tree::_M_lower_bound", 0 },
		{ "std::_Rb_tree_iterator<int> std::_Rb_tree<int>::_M_emplace_hint_unique<std::tuple<> >(std::_Rb_tree_const_iterator<int>, std::tuple<>&&)",
		  "std::_Rb_tree::_M_emplace_hint_unique", 0 },
		{ "ns::Box<unsigned long>::get(unsigned long) const", "ns::Box::get", 0 },
		{ "std::less<int>::operator()(int const&, int const&) const",
		  "std::less::operator()", 0 },
		{ "std::basic_ostream<char>& std::operator<< <std::char_traits<char> >(std::basic_ostream<char>&, char const*)",
		  "std::operator<<", 0 },
		{ "std::vector<int>::operator[](unsigned long) &&", "std::vector::operator[]", 0 },
		{ "A::operator new(unsigned long)", "A::operator new", 0 },
		{ "(anonymous namespace)::helper(int)", "(anonymous namespace)::helper", 0 },
		{ "std::_Rb_tree_increment(std::_Rb_tree_node_base*)@plt",
		  "std::_Rb_tree_increment@plt", 0 },
		{ "main", "main", 0 },
		{ "churn_map(int)", "churn_map", 0 },
		{ "operator new(unsigned long)@plt", "operator new@plt", 0 },
		{ "main.(*T).Method", "main.(*T).Method", 0 },
		{ "runtime.goexit.abi0", "runtime.goexit.abi0", 0 },
		{ "[libc.so.6]", "[libc.so.6]", 0 },
		{ "aa::bbbbbbbbbb::ccccccccc(int)", "...ccccccccc", 12 },
		{ "short", "short", 12 },
	};
	char buf[256];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = cxxname__shorten(cases[i].in, cases[i].width, buf, sizeof(buf));
		CHECK(!strcmp(buf, cases[i].out) && n == strlen(buf),
		      "short name of %s: %s, want %s", cases[i].in, buf, cases[i].out);
	}
	n = cxxname__shorten("0123456789", 0, buf, 5);
	CHECK(!strcmp(buf, "0123") && n == 4, "cut at the buffer: %s", buf);
}

int main(void)
{
	test_short_names();
	return check__done();
}
