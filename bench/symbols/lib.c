/* One of 200 distinct shared libraries (bench/symbols): same code, its
 * own build-id, so each is a binary of its own for the caches. */
__attribute__((noinline)) static unsigned spin_inner(unsigned x, int n)
{
	for (int i = 0; i < n; i++)
		x = x * 2654435761u + (unsigned)i;
	return x;
}

unsigned lib_work(unsigned x)
{
	return spin_inner(x, 20000);
}
