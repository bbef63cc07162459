// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdwfl.h>

#include "profd_abi.h"
#include "unwind.h"

struct unwinder {
	struct proc *proc;
	unsigned gen;			/* proc->gen the Dwfl was built from */
	Dwfl *dwfl;
	bool attached;
	/* The sample being unwound, for the callbacks. */
	uint32_t tid;
	const uint64_t *regs;
	const uint8_t *stack;
	size_t len;
	uint64_t *ips;
	unsigned n, max;
	bool read_failed;		/* the walk wanted a word past the copy */
};

static char *debuginfo_path;

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	return 0;	/* threads are named by the sample, never listed */
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	*thread_argp = arg;
	return true;
}

/* Stack words come from the copy; anything else is unknown. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			void *arg)
{
	struct unwinder *u = arg;
	uint64_t sp = u->regs[7];

	if (addr < sp || addr + sizeof(*result) > sp + u->len) {
		/* libdwfl may end the walk quietly here, as if at the
		 * outermost frame: remember that it was cut short. */
		u->read_failed = true;
		return false;
	}
	memcpy(result, u->stack + (addr - sp), sizeof(*result));
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct unwinder *u = arg;

	return dwfl_thread_state_registers(thread, 0, PROFD_NREGS,
					   (const Dwarf_Word *)u->regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* Load bias of a mapping: where link-time address 0 of its file sits. */
static bool load_bias(int fd, const struct proc_map *m, uint64_t *ret,
		      bool *ret_exec)
{
	size_t n, i;
	bool ok = false;
	GElf_Ehdr eh;
	Elf *elf;

	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &n) < 0)
		goto out;
	*ret_exec = eh.e_type == ET_EXEC;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (m->offset >= (ph.p_offset & ~0xfffULL) &&
		    m->offset < ph.p_offset + ph.p_filesz) {
			*ret = m->start - (ph.p_vaddr - ph.p_offset + m->offset);
			ok = true;
			break;
		}
	}
out:
	elf_end(elf);
	return ok;
}

/* (Re)build the Dwfl from the process's executable mappings. */
static int build(struct unwinder *u)
{
	struct proc *p = u->proc;
	size_t i, j;
	int r = 0;

	if (u->dwfl)
		dwfl_end(u->dwfl);
	u->attached = false;
	u->dwfl = dwfl_begin(&offline_callbacks);
	if (!u->dwfl)
		return -ENOMEM;
	dwfl_report_begin(u->dwfl);
	pthread_mutex_lock(&p->lock);
	u->gen = p->gen;
	for (i = 0; i < p->nmaps; i++) {
		const struct proc_map *m = &p->maps[i];
		uint64_t bias = 0;
		bool exec = false, dup_file = false;
		int fd;

		if (!m->bin || sym_binary__fd(m->bin) < 0)
			continue;
		/* One report per file: its other mappings share the bias. */
		for (j = 0; j < i && !dup_file; j++)
			dup_file = p->maps[j].bin == m->bin &&
				   p->maps[j].start - p->maps[j].offset ==
					   m->start - m->offset;
		if (dup_file)
			continue;
		if (!load_bias(sym_binary__fd(m->bin), m, &bias, &exec))
			continue;
		fd = fcntl(sym_binary__fd(m->bin), F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			continue;
		/* dwfl consumes fd on success. Overlapping reports (a file
		 * mapped twice at different places) fail: skip those. */
		if (!dwfl_report_elf(u->dwfl, m->path, m->path, fd,
				     exec ? 0 : bias, true))
			close(fd);
	}
	pthread_mutex_unlock(&p->lock);
	if (dwfl_report_end(u->dwfl, NULL, NULL) != 0)
		r = -EIO;
	return r;
}

int unwind__new(struct proc *p, struct unwinder **ret)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	u->proc = p;
	r = build(u);
	if (r < 0) {
		unwind__free(u);
		return r;
	}
	*ret = u;
	return 0;
}

void unwind__free(struct unwinder *u)
{
	if (!u)
		return;
	if (u->dwfl)
		dwfl_end(u->dwfl);
	free(u);
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct unwinder *u = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation) || pc == 0)
		return DWARF_CB_ABORT;
	if (u->n == u->max)
		return DWARF_CB_ABORT;
	u->ips[u->n++] = pc;
	return DWARF_CB_OK;
}

int unwind__stack(struct unwinder *u, uint32_t tid, const uint64_t *regs,
		  const uint8_t *stack, size_t len, uint64_t *ips,
		  unsigned max, bool *ret_truncated)
{
	int r;

	if (u->gen != u->proc->gen) {
		r = build(u);	/* new libraries since the last build */
		if (r < 0)
			return r;
	}
	if (!u->attached) {
		/* The pid only names the process to libdwfl; every access
		 * goes through our callbacks. */
		if (!dwfl_attach_state(u->dwfl, NULL, u->proc->pid,
				       &thread_callbacks, u))
			return -EIO;
		u->attached = true;
	}
	u->tid = tid;
	u->regs = regs;
	u->stack = stack;
	u->len = len;
	u->ips = ips;
	u->n = 0;
	u->max = max;
	u->read_failed = false;
	r = dwfl_getthread_frames(u->dwfl, (pid_t)tid, frame_cb, u);
	/* 0: the walk reached a frame with no caller (the outermost).
	 * Anything else — a read past the copy, no CFI and no frame
	 * pointer, or the cap — leaves the stack incomplete. */
	*ret_truncated = r != 0 || u->n == max || u->read_failed;
	return (int)u->n;
}
