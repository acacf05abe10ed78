/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapctl trace. Each VM-side program is also built as a trace variant
 * (XTAP_TRACE_BUILD: from_vm_trace.bpf.o, to_vm_trace.bpf.o) that xtapd
 * loads on the first trace, on the live maps, and runs a frame through with
 * BPF_PROG_TEST_RUN. In it nothing a frame changes is written (port
 * counters, ACL hits, limiter state, events: each writer asks
 * xtap_tracing() first) and each stage's decision goes into xtap_trace
 * instead. In the programs that carry traffic xtap_tracing() is the
 * constant 0: the compiler removes every trace branch, so they are the
 * same code as without tracing (a read-only global tested at run time
 * cost ~15 ns a frame: bench/README.md). A stateful stage added later asks
 * xtap_tracing() the same way before it writes.
 */
#ifndef XTAP_TRACE_H
#define XTAP_TRACE_H

#include "xtap_common.h"

#ifdef XTAP_TRACE_BUILD
/* The trace variant's own map, read by xtapd after each run (not pinned). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_trace);
} xtap_trace SEC(".maps");

static __always_inline int xtap_tracing(void)
{
	return 1;
}

static __always_inline struct xtap_trace *xtap_trace_rec(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xtap_trace, &zero);
}
#else
static __always_inline int xtap_tracing(void)
{
	return 0;
}

static __always_inline struct xtap_trace *xtap_trace_rec(void)
{
	return NULL;
}
#endif

/* Stage s was reached and gave result r (0 or a drop reason). */
static __always_inline void xtap_trace_stage(__u32 s, __u32 r)
{
	struct xtap_trace *t = xtap_trace_rec();

	if (t && s < XTAP_TRACE_STAGES) {
		t->stages |= 1U << s;
		t->result[s] = r;
	}
}

#endif /* XTAP_TRACE_H */
