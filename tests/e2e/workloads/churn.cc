/* churn: an -O2 C++ program churning a std::map — the STL's deep inline
 * chains (std::map::operator[] -> _Rb_tree::lower_bound -> _M_lower_bound,
 * emplace_hint -> _M_create_node -> allocator::allocate ...) inlined into
 * churn_map. A profile's locations must carry the same inline chains,
 * every level with its file:line, as binutils' `addr2line -i`.
 * Build: g++ -O2 -g (PIE, as Debian builds it)
 * Usage: churn [seconds]   prints "churn ready" */
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "common.h"

static std::map<int, std::string> table;

__attribute__((noinline)) void churn_map(int round)
{
	for (int i = 0; i < 2000; i++) {
		int k = (int)((unsigned)(i * 2654435761u + round) % 50000u);

		table[k] += 'x';	/* LINE_CHURN_INSERT */
		if (table[k].size() > 8)
			table.erase(k);	/* LINE_CHURN_ERASE */
	}
}

__attribute__((noinline)) unsigned long scan_map(void)
{
	unsigned long sum = 0;

	for (const auto &kv : table)
		sum += kv.first + kv.second.size();	/* LINE_SCAN */
	return sum;
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);
	int round = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("churn ready\n");
	do {
		churn_map(round++);
		if (round % 64 == 0)
			e2e_sink += scan_map();
	} while (!e2e_expired(deadline));
	return 0;
}
