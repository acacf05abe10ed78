/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection, for proving that every request is all-or-nothing: the
 * Nth fallible step of one class (or of any class) reports an injected -EIO.
 * Off unless xtapd was started with --fault-injection (docs/api.md); each
 * class is counted in exactly one place: the map writer's write helpers
 * (map_io.c), rtnetlink requests (netdev.c), state file steps
 * (state_file.c) and attach steps (attach.c).
 */
#ifndef XTAP_FAULT_H
#define XTAP_FAULT_H

enum xtap_fault_class {
	XTAP_FAULT_MAP,       /* a map update or delete whose failure refuses the request */
	XTAP_FAULT_NETLINK,   /* an rtnetlink request (query or change) */
	XTAP_FAULT_FILE,      /* a state file step: write, fsync, rename */
	XTAP_FAULT_ATTACH,    /* attaching a program to a hook (tc ingress/egress, XDP) */
	XTAP_FAULT_ANY,       /* any of the above: walks every step in order */
	XTAP_FAULT_CLASSES,
};

/* What an armed fault saw: calls of its class so far, and the class of the step it failed. */
struct xtap_fault_report {
	enum xtap_fault_class armed;
	unsigned long nth;
	unsigned long calls;
	int fired;
	enum xtap_fault_class fired_class;
};

/* --fault-injection: without it nothing can be armed. */
void xtap_fault_enable(void);
int xtap_fault_enabled(void);

/* "map:3", "netlink:1", "file:2", "attach:1", "any:7". Returns 0 or -EINVAL. */
int xtap_fault_parse(const char *spec, enum xtap_fault_class *cls, unsigned long *nth);
const char *xtap_fault_class_name(enum xtap_fault_class cls);

/* Arms one fault (replacing any other) and resets the count; -EPERM unless enabled. */
int xtap_fault_arm(enum xtap_fault_class cls, unsigned long nth);
/* Disarms it; what it saw goes to r (may be NULL). */
void xtap_fault_disarm(struct xtap_fault_report *r);

/*
 * 1: the request has committed (its state file is written); the clean-ups
 * that follow cannot refuse it, they only log, so they are not fault
 * points. 0 when the next request starts.
 */
void xtap_fault_set_committed(int committed);

/*
 * Called by each fallible step of class cls before it acts: counts the call
 * and returns 1 when this is the armed one (the step then fails with -EIO,
 * as if the kernel or the disk had refused). A fault fires once.
 */
int xtap_fault_should_fail(enum xtap_fault_class cls);

#endif /* XTAP_FAULT_H */
