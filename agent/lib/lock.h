/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One owner at a time for what an agent must not share (its pin directory,
 * its state file): an exclusive flock held for the owner's whole life. The
 * kernel drops it when the owner dies, however it dies, so a crash leaves
 * nothing to clean up. Others find the owner's pid in /proc/locks.
 *
 * A directory is locked itself (bpffs holds no regular files, and a
 * directory can be flocked); a file is locked through FILE.lock beside it,
 * because the file itself is replaced by rename on every save.
 */
#ifndef XTAP_LOCK_H
#define XTAP_LOCK_H

#include <sys/types.h>

#include "err.h"

enum xtap_lock_kind {
	XTAP_LOCK_DIR,    /* path is a directory, locked itself */
	XTAP_LOCK_FILE,   /* path is a file, locked through path.lock (created if missing) */
};

/*
 * Takes the lock for this process (the fd is close-on-exec: children never
 * hold it) and returns its fd, to keep open for as long as the lock is
 * needed. -EBUSY when another process holds it; err then says
 * "PATH is used by COMM pid N (HINT)". Other failures: a negative errno.
 */
int xtap_lock_take(const char *path, enum xtap_lock_kind kind, const char *hint, struct xtap_err *err);

/*
 * 1 when a process holds path's lock, its pid in *holder (0 when /proc/locks
 * does not show it: another pid namespace); 0 when nobody does; a negative
 * errno when path (or path.lock) cannot be opened.
 */
int xtap_lock_holder(const char *path, enum xtap_lock_kind kind, pid_t *holder);

/* "PATH is used by COMM pid N (HINT)" for a holder from xtap_lock_holder(); returns -EBUSY. */
int xtap_lock_busy(struct xtap_err *err, const char *path, pid_t holder, const char *hint);

#endif
