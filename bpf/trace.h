/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapctl trace. xtapd loads a second copy of a program with
 * xtap_trace_mode set and runs a frame through it with BPF_PROG_TEST_RUN,
 * against the live maps. That copy writes nothing a frame changes (port
 * counters, ACL hits, limiter state, events: each writer asks
 * xtap_tracing() first) and records each stage's decision in xtap_trace
 * instead. In the copies that handle frames xtap_trace_mode is 0 in
 * read-only data: the verifier knows it and removes every trace branch.
 * (A stateful stage added later asks the same before it writes.)
 */
#ifndef XTAP_TRACE_H
#define XTAP_TRACE_H

#include "xtap_common.h"

const volatile __u32 xtap_trace_mode = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_trace);
} xtap_trace SEC(".maps");

static __always_inline int xtap_tracing(void)
{
	return xtap_trace_mode != 0;
}

static __always_inline struct xtap_trace *xtap_trace_rec(void)
{
	__u32 zero = 0;

	return xtap_trace_mode ? bpf_map_lookup_elem(&xtap_trace, &zero) : NULL;
}

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
