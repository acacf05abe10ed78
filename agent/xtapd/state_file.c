// SPDX-License-Identifier: GPL-2.0
/* The persisted desired state: written atomically (temp file, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fault.h"

int xtap_state_load(const char *path, struct xtap_model *m, struct xtap_err *err)
{
	json_object *o;
	int ret;

	memset(m, 0, sizeof(*m));
	if (access(path, F_OK))
		return -ENOENT;
	o = json_object_from_file(path);
	if (!o) {
		snprintf(err->msg, sizeof(err->msg), "state file %s is not valid JSON: %s", path,
			 json_util_get_last_err());
		return -EINVAL;
	}
	ret = xtap_model_from_json(o, m, err);
	json_object_put(o);
	return ret;
}

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int xtap_state_save(const char *path, struct xtap_model *m, struct xtap_err *err)
{
	char tmp[PATH_MAX + 8];
	char *text = xtap_model_to_text(m);
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ret = text ? mkdir_parent(path) : -ENOMEM;
	fd = ret ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = ret ? ret : -errno;
	} else {
		size_t len = strlen(text), off = 0;
		ssize_t n;

		/* The fault switch fails the write, the fsync or the rename (docs/api.md). */
		while (off < len && !xtap_fault_should_fail(XTAP_FAULT_FILE) &&
		       (n = write(fd, text + off, len - off)) > 0)
			off += n;
		if (off < len || xtap_fault_should_fail(XTAP_FAULT_FILE) || fsync(fd))
			ret = -EIO;
		close(fd);
		if (!ret && xtap_fault_should_fail(XTAP_FAULT_FILE))
			ret = -EIO;
		else if (!ret && rename(tmp, path))
			ret = -errno;
	}
	free(text);
	if (ret) {
		unlink(tmp);
		snprintf(err->msg, sizeof(err->msg), "saving state to %s failed: %s", path,
			 strerror(-ret));
	}
	return ret;
}
