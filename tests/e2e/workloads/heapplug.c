/* heapplug: a library heapwl loads with dlopen after tracking began
 * ("plugin"), then calls ("plugin_keep"): 50 blocks of 1000 bytes, kept.
 * Build: -shared -fPIC (libheapplug.so, next to heapwl). */
#include <stdlib.h>

static void *volatile kept[50];

__attribute__((noinline)) void plug_keep(void)
{
	for (int i = 0; i < 50; i++)
		kept[i] = malloc(1000);
}
