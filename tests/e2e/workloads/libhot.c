/* libhot.so: loaded with dlopen() by uselib after it has started.
 * Build: -shared -fPIC -O1 -g -fno-omit-frame-pointer -fno-inline */
#include "common.h"

__attribute__((noinline)) void lib_spin(void)
{
	SPIN_UNITS(256); /* LINE_LIB_SPIN */
}
