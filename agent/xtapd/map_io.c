// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "fault.h"
#include "map_io.h"
#include "map_txn.h"

/* Each write is a step the fault switch may fail, and is journaled while a request is open. */
static int before_write(int fd, const void *key)
{
	if (xtap_fault_should_fail(XTAP_FAULT_MAP))
		return -EIO;
	return xtap_map_txn_journal(fd, key);
}

int xtap_map_update(int fd, const void *key, const void *value)
{
	int ret = before_write(fd, key);

	if (ret)
		return ret;
	return bpf_map_update_elem(fd, key, value, BPF_ANY) ? -errno : 0;
}

int xtap_map_delete(int fd, const void *key)
{
	int ret = before_write(fd, key);

	if (ret)
		return ret;
	return bpf_map_delete_elem(fd, key) && errno != ENOENT ? -errno : 0;
}

int xtap_map_fail(struct xtap_err *err, const char *map, int code)
{
	if (code == -E2BIG || code == -ENOSPC || code == -ENOMEM)
		return xtap_fail(err, code, "map %s is full: remove unused entries or raise the limit in include/xtap_abi.h",
				 map);
	return xtap_fail(err, code, "writing map %s failed: %s", map, strerror(-code));
}
