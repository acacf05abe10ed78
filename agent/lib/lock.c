// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lock.h"

/* The fd flock works on: the directory itself, or path.lock. */
static int lock_open(const char *path, enum xtap_lock_kind kind, int create)
{
	char file[PATH_MAX];
	int fd;

	if (kind == XTAP_LOCK_DIR) {
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		if ((size_t)snprintf(file, sizeof(file), "%s.lock", path) >= sizeof(file))
			return -ENAMETOOLONG;
		fd = open(file, O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	}
	return fd < 0 ? -errno : fd;
}

/* The pid /proc/locks gives for the flock on fd's inode; 0 if it shows none. */
static pid_t flock_holder(int fd)
{
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	char line[256], type[16];
	pid_t pid = 0, p;
	FILE *f;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:28:52150 0 EOF"; waiters have "->" before the type. */
		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", type, &p, &maj, &min, &ino) == 5 &&
		    !strcmp(type, "FLOCK") && maj == major(st.st_dev) && min == minor(st.st_dev) &&
		    ino == st.st_ino)
			pid = p;
	}
	fclose(f);
	return pid;
}

int xtap_lock_busy(struct xtap_err *err, const char *path, pid_t holder, const char *hint)
{
	char file[64], comm[32] = "process";
	ssize_t n;
	int fd;

	if (!holder)
		return xtap_fail(err, -EBUSY, "%s is locked by a process this pid namespace does not show (%s)",
				 path, hint);
	snprintf(file, sizeof(file), "/proc/%d/comm", (int)holder);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, sizeof(comm) - 1);
		comm[n > 0 ? n : 0] = 0;
		comm[strcspn(comm, "\n")] = 0;
		close(fd);
	}
	return xtap_fail(err, -EBUSY, "%s is used by %s pid %d (%s)", path, comm[0] ? comm : "process",
			 (int)holder, hint);
}

int xtap_lock_take(const char *path, enum xtap_lock_kind kind, const char *hint, struct xtap_err *err)
{
	int fd = lock_open(path, kind, 1), ret;
	pid_t holder;

	if (fd < 0)
		return xtap_fail(err, fd, "locking %s: %s", path, strerror(-fd));
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return fd;
	ret = -errno;
	holder = ret == -EWOULDBLOCK ? flock_holder(fd) : 0;
	close(fd);
	if (ret == -EWOULDBLOCK)
		return xtap_lock_busy(err, path, holder, hint);
	return xtap_fail(err, ret, "locking %s: %s", path, strerror(-ret));
}

int xtap_lock_holder(const char *path, enum xtap_lock_kind kind, pid_t *holder)
{
	int fd = lock_open(path, kind, 0), held = 0;

	*holder = 0;
	if (fd < 0)
		return fd;
	/* A shared probe: it succeeds unless someone holds the exclusive lock. */
	if (!flock(fd, LOCK_SH | LOCK_NB)) {
		flock(fd, LOCK_UN);
	} else if (errno == EWOULDBLOCK) {
		held = 1;
		*holder = flock_holder(fd);
	}
	close(fd);
	return held;
}
