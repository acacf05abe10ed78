// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

static const char *const class_names[XTAP_FAULT_CLASSES] = {
	[XTAP_FAULT_MAP] = "map", [XTAP_FAULT_NETLINK] = "netlink", [XTAP_FAULT_FILE] = "file",
	[XTAP_FAULT_ATTACH] = "attach", [XTAP_FAULT_ANY] = "any",
};

static struct {
	int enabled;
	int armed;
	int committed;
	struct xtap_fault_report r;
} fault;

void xtap_fault_enable(void)
{
	fault.enabled = 1;
}

int xtap_fault_enabled(void)
{
	return fault.enabled;
}

const char *xtap_fault_class_name(enum xtap_fault_class cls)
{
	return cls < XTAP_FAULT_CLASSES ? class_names[cls] : "?";
}

int xtap_fault_parse(const char *spec, enum xtap_fault_class *cls, unsigned long *nth)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	char *end;
	int c;

	if (!colon)
		return -EINVAL;
	for (c = 0; c < XTAP_FAULT_CLASSES; c++)
		if (strlen(class_names[c]) == (size_t)(colon - spec) && !strncmp(spec, class_names[c], colon - spec))
			break;
	if (c == XTAP_FAULT_CLASSES || colon[1] < '1' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	*nth = strtoul(colon + 1, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*cls = c;
	return 0;
}

int xtap_fault_arm(enum xtap_fault_class cls, unsigned long nth)
{
	if (!fault.enabled)
		return -EPERM;
	memset(&fault.r, 0, sizeof(fault.r));
	fault.r.armed = cls;
	fault.r.nth = nth;
	fault.armed = 1;
	fault.committed = 0;
	return 0;
}

void xtap_fault_disarm(struct xtap_fault_report *r)
{
	if (r)
		*r = fault.r;
	fault.armed = 0;
}

void xtap_fault_set_committed(int committed)
{
	fault.committed = committed;
}

int xtap_fault_should_fail(enum xtap_fault_class cls)
{
	if (!fault.armed || fault.committed || fault.r.fired || (fault.r.armed != XTAP_FAULT_ANY && fault.r.armed != cls))
		return 0;
	if (++fault.r.calls != fault.r.nth)
		return 0;
	fault.r.fired = 1;
	fault.r.fired_class = cls;
	return 1;
}
