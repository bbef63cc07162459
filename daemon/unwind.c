// SPDX-License-Identifier: GPL-2.0
/*
 * The DWARF unwinder: steps from frame to frame with CFI rows the
 * symbolizer copies out of libdw (cached per binary, by build-id), reading
 * saved registers from the sample's stack copy. Where no CFI covers a pc
 * it follows the frame pointer, as perf and libdwfl's x86-64 backend do.
 *
 * Why not libdwfl's own unwinder (dwfl_getthread_frames)? It wants one
 * Dwfl per process with every module reported at its load address, so its
 * parsed CFI lives and dies with the process: a new session, or the same
 * library in another process, parses it again. Rows here are per binary.
 * The walk itself is a few hundred instructions per frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>

#include "profd_abi.h"
#include "unwind.h"

#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16
#define EVAL_STACK 16


/* The sample being unwound. */
struct walk {
	uint64_t regs[SYM_CFI_NREGS];
	uint32_t valid;			/* bit per register */
	uint64_t cfa;
	const uint8_t *stack;
	uint64_t sp0;
	size_t len;
};

/* Stack words come from the copy; anything else is unknown. */
static bool read_word(struct walk *w, uint64_t addr, uint64_t *ret)
{
	if (addr < w->sp0 || addr - w->sp0 > w->len ||
	    w->len - (addr - w->sp0) < sizeof(*ret))
		return false;
	memcpy(ret, w->stack + (addr - w->sp0), sizeof(*ret));
	return true;
}

static bool reg(const struct walk *w, uint64_t r, uint64_t *ret)
{
	if (r >= SYM_CFI_NREGS || !(w->valid & (1u << r)))
		return false;
	*ret = w->regs[r];
	return true;
}

/*
 * Evaluate one rule's DWARF expression: the operations compilers and
 * glibc emit in CFI (register + offset, the PLT's computed CFA, signal
 * frames' saved-register addresses). Anything else fails the step.
 */
static bool eval(struct walk *w, const struct sym_cfi_row *row,
		 const struct sym_cfi_rule *rule, uint64_t *ret)
{
	uint64_t st[EVAL_STACK], a, b;
	unsigned sp = 0, i;

#define PUSH(v) do { if (sp == EVAL_STACK) return false; st[sp++] = (v); } while (0)
#define POP(v) do { if (!sp) return false; (v) = st[--sp]; } while (0)
	for (i = rule->start; i < (unsigned)rule->start + rule->n; i++) {
		const struct sym_cfi_op *op = &row->ops[i];
		uint8_t at = op->atom;

		if (at >= DW_OP_lit0 && at <= DW_OP_lit31) {
			PUSH((uint64_t)(at - DW_OP_lit0));
		} else if (at >= DW_OP_breg0 && at <= DW_OP_breg31) {
			if (!reg(w, at - DW_OP_breg0, &a))
				return false;
			PUSH(a + op->n1);
		} else {
			switch (at) {
			case DW_OP_bregx:
				if (!reg(w, op->n1, &a))
					return false;
				PUSH(a + op->n2);
				break;
			case DW_OP_call_frame_cfa:
				PUSH(w->cfa);
				break;
			case DW_OP_const1u: case DW_OP_const1s:
			case DW_OP_const2u: case DW_OP_const2s:
			case DW_OP_const4u: case DW_OP_const4s:
			case DW_OP_const8u: case DW_OP_const8s:
			case DW_OP_constu: case DW_OP_consts:
				PUSH(op->n1);
				break;
			case DW_OP_plus_uconst:
				POP(a);
				PUSH(a + op->n1);
				break;
			case DW_OP_deref:
				POP(a);
				if (!read_word(w, a, &b))
					return false;
				PUSH(b);
				break;
			case DW_OP_dup:
				POP(a);
				PUSH(a);
				PUSH(a);
				break;
			case DW_OP_drop:
				POP(a);
				break;
			case DW_OP_swap:
				POP(a);
				POP(b);
				PUSH(a);
				PUSH(b);
				break;
			case DW_OP_nop:
				break;
			case DW_OP_neg:
				POP(a);
				PUSH(-a);
				break;
			case DW_OP_plus: case DW_OP_minus: case DW_OP_mul:
			case DW_OP_and: case DW_OP_or: case DW_OP_xor:
			case DW_OP_shl: case DW_OP_shr: case DW_OP_shra:
			case DW_OP_ge: case DW_OP_gt: case DW_OP_le:
			case DW_OP_lt: case DW_OP_eq: case DW_OP_ne:
				POP(b);
				POP(a);
				switch (at) {
				case DW_OP_plus: a += b; break;
				case DW_OP_minus: a -= b; break;
				case DW_OP_mul: a *= b; break;
				case DW_OP_and: a &= b; break;
				case DW_OP_or: a |= b; break;
				case DW_OP_xor: a ^= b; break;
				case DW_OP_shl: a = b < 64 ? a << b : 0; break;
				case DW_OP_shr: a = b < 64 ? a >> b : 0; break;
				case DW_OP_shra:
					a = (uint64_t)((int64_t)a >> (b < 63 ? b : 63));
					break;
				/* DWARF comparisons are signed. */
				case DW_OP_ge: a = (int64_t)a >= (int64_t)b; break;
				case DW_OP_gt: a = (int64_t)a > (int64_t)b; break;
				case DW_OP_le: a = (int64_t)a <= (int64_t)b; break;
				case DW_OP_lt: a = (int64_t)a < (int64_t)b; break;
				case DW_OP_eq: a = a == b; break;
				default: a = a != b; break;
				}
				PUSH(a);
				break;
			default:
				return false;
			}
		}
	}
#undef PUSH
#undef POP
	if (!sp)
		return false;
	*ret = st[sp - 1];
	return true;
}

enum step { STEP_OK, STEP_END, STEP_FAIL };

/* Caller's registers from a CFI row. */
static enum step step_cfi(struct walk *w, const struct sym_cfi_row *row)
{
	uint64_t out[SYM_CFI_NREGS], v;
	uint32_t valid = 0;
	int r;

	if (!eval(w, row, &row->r.cfa, &w->cfa))
		return STEP_FAIL;
	if (row->r.regs[REG_RA].kind == SYM_CFI_UNDEF)
		return STEP_END;	/* _start, clone3: the outermost frame */
	for (r = 0; r < SYM_CFI_NREGS; r++) {
		const struct sym_cfi_rule *rule = &row->r.regs[r];

		switch (rule->kind) {
		case SYM_CFI_SAME:
			if (!reg(w, (uint64_t)r, &out[r]))
				continue;
			break;
		case SYM_CFI_LOC:
			if (!eval(w, row, rule, &v) || !read_word(w, v, &out[r])) {
				if (r == REG_RA)
					return STEP_FAIL;
				continue;	/* unknown from here up */
			}
			break;
		case SYM_CFI_VAL:
			if (!eval(w, row, rule, &out[r])) {
				if (r == REG_RA)
					return STEP_FAIL;
				continue;
			}
			break;
		default:
			continue;
		}
		valid |= 1u << r;
	}
	/* The caller's stack pointer is the CFA unless CFI says otherwise. */
	if (row->r.regs[REG_RSP].kind == SYM_CFI_SAME ||
	    row->r.regs[REG_RSP].kind == SYM_CFI_UNDEF) {
		out[REG_RSP] = w->cfa;
		valid |= 1u << REG_RSP;
	}
	if (!(valid & (1u << REG_RA)))
		return STEP_FAIL;
	memcpy(w->regs, out, sizeof(out));
	w->valid = valid;
	return STEP_OK;
}

/* No CFI here: follow the frame pointer (Go, JIT code, hand-written asm).
 * A zero frame pointer is the ABI's mark of the outermost frame. */
static enum step step_fp(struct walk *w)
{
	uint64_t fp, saved_fp, ra;

	if (!reg(w, REG_RBP, &fp))
		return STEP_FAIL;
	if (!fp)
		return STEP_END;
	if (!read_word(w, fp, &saved_fp) || !read_word(w, fp + 8, &ra))
		return STEP_FAIL;
	w->regs[REG_RBP] = saved_fp;
	w->regs[REG_RSP] = fp + 16;
	w->regs[REG_RA] = ra;
	w->valid = 1u << REG_RBP | 1u << REG_RSP | 1u << REG_RA;
	return STEP_OK;
}

int unwind__stack(struct proc *p, const uint64_t *regs, const uint8_t *stack,
		  size_t len, uint64_t *ips, unsigned max, bool *ret_truncated)
{
	return unwind__stack_known(p, regs, (1u << SYM_CFI_NREGS) - 1, stack,
				   len, ips, max, ret_truncated);
}

int unwind__fresh(struct proc *p, struct symbolizer *sym, uint64_t now_ns,
		  uint64_t min_interval_ns, const uint64_t *regs,
		  const uint8_t *stack, size_t len, uint64_t *ips,
		  unsigned max, bool *ret_truncated, bool *ret_refreshed)
{
	bool refreshed = false;
	int n;

	if (!proc__covers(p, &regs[REG_RA], 1))
		refreshed = proc__refresh(p, sym, now_ns, min_interval_ns) == 1;
	n = unwind__stack(p, regs, stack, len, ips, max, ret_truncated);
	if (!refreshed && n > 0 && *ret_truncated &&
	    !proc__covers(p, ips, (unsigned)n) &&
	    proc__refresh(p, sym, now_ns, min_interval_ns) == 1) {
		refreshed = true;
		n = unwind__stack(p, regs, stack, len, ips, max,
				  ret_truncated);
	}
	if (ret_refreshed)
		*ret_refreshed = refreshed;
	return n;
}

int unwind__stack_known(struct proc *p, const uint64_t *regs, uint32_t known,
			const uint8_t *stack, size_t len, uint64_t *ips,
			unsigned max, bool *ret_truncated)
{
	struct walk w = { .stack = stack, .len = len };
	bool exact = true;	/* the pc is not a return address */
	enum step st = STEP_FAIL;
	unsigned n = 0;

	memcpy(w.regs, regs, sizeof(w.regs));
	w.valid = known & ((1u << SYM_CFI_NREGS) - 1);
	w.sp0 = regs[REG_RSP];
	while (n < max) {
		uint64_t pc = w.regs[REG_RA], at, sp = w.regs[REG_RSP];
		struct sym_cfi_row row;
		struct sym_binary *bin;
		uint64_t off;
		int r = -ENOENT;

		if (!pc) {
			/* A zero return address ends the chain (Go's goexit,
			 * threads started by some runtimes); no pc at all is
			 * no stack. */
			st = n ? STEP_END : STEP_FAIL;
			break;
		}
		ips[n++] = pc;
		/* A return address is the instruction after the call: look
		 * up the call itself (it may be a noreturn function's last). */
		at = exact ? pc : pc - 1;
		if (proc__find_binary(p, at, &bin, &off) == 0)
			r = sym_binary__cfi(bin, off, &row);
		if (r == 0) {
			st = step_cfi(&w, &row);
			exact = row.r.signal;
		} else {
			st = step_fp(&w);
			exact = false;
		}
		if (st != STEP_OK)
			break;
		/* Stacks grow down: a caller's frame is above its callee's
		 * (past a signal frame, the interrupted code may be on
		 * another stack). Else we are looping. */
		if (w.regs[REG_RSP] <= sp && !(r == 0 && row.r.signal)) {
			st = STEP_FAIL;
			break;
		}
	}
	/* Complete only when CFI (or a zero frame pointer or return address)
	 * said this was the outermost frame: a read past the copy, a pc without CFI or
	 * frame pointer, or the cap leave the stack truncated. */
	*ret_truncated = st != STEP_END;
	return (int)n;
}
