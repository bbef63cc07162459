// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest seed for the ELF fuzz target (fuzz_elf.c), built into
 * $(OUTPUT)/fuzz/seeds/ by `make fuzz` (no ELF file is kept in git): no
 * libc, a build-id, symbols named as the allocator's (what elfsyms looks
 * for, malloc starting with free's `test %rdi,%rdi`), an inlined call
 * (DWARF inline entries) and CFI (.eh_frame, or .debug_frame when built
 * -fno-asynchronous-unwind-tables). -DGO_LIKE adds a .go.buildinfo
 * section, what makes elfsyms take a binary for Go. -DNO_CODE_CU leaves
 * only data in the C unit, its code in assembly without debug info: DWARF
 * whose one unit covers no address (a regression seed: the symbolizer's
 * own unit index, built when .debug_aranges has no answer, was empty and
 * went to qsort(NULL, 0), undefined behaviour that UBSan aborts on).
 * -DDATA_REF_ONLY (built -shared) references a variable of another
 * object and calls nothing: a GLOB_DAT relocation and no PLT (a
 * regression seed: pltsyms sorted its empty stub list, NULL, the same way).
 */
#if defined(NO_CODE_CU)
int data_only = 1;
__asm__(".globl _start\n"
	"_start: mov $60, %eax\n"
	"xor %edi, %edi\n"
	"syscall\n");
#elif defined(DATA_REF_ONLY)
extern int ext_var;

int get_ext(void)
{
	return ext_var;
}
#else
#ifdef GO_LIKE
__attribute__((used, section(".go.buildinfo"))) static const char buildinfo[16] =
	"\xff Go buildinf:";
#endif

volatile unsigned long sink;

static inline __attribute__((always_inline)) unsigned long inl_work(unsigned long x)
{
	unsigned long i, s = 0;

	for (i = 0; i < x; i++)
		s += i * i ^ (s >> 3);
	return s;
}

__attribute__((noinline)) void free(void *p)
{
	if (!p)
		return;
	sink = (unsigned long)p;
}

__attribute__((noinline)) void *malloc(unsigned long n)
{
	static char heap[256];

	if (!n || n > sizeof(heap))
		return 0;
	return heap;
}

__attribute__((noinline)) unsigned long outer_fn(unsigned long x)
{
	unsigned long r = inl_work(x);

	sink = r;
	return r + 1;
}

__attribute__((noinline)) unsigned long plain_fn(unsigned long x)
{
	return x * 3 + sink;
}

__attribute__((noreturn)) void _start(void)
{
	void *p = malloc(8);

	free(p);
	sink = outer_fn(10) + plain_fn(3);
	for (;;)
		__asm__ volatile("mov $60, %%eax; xor %%edi, %%edi; syscall" ::: "rax", "rdi", "memory");
}
#endif /* NO_CODE_CU, DATA_REF_ONLY */
