// SPDX-License-Identifier: GPL-2.0
/* The persisted desired state: checked whole on load, written atomically, the previous version kept. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "lock.h"
#include "log.h"
#include "state_file.h"
#include "validate.h"

/* FILE plus a suffix; -ENAMETOOLONG when it does not fit. */
static int sibling(char *out, size_t len, const char *path, const char *suffix)
{
	return (size_t)snprintf(out, len, "%s%s", path, suffix) < len ? 0 : -ENAMETOOLONG;
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

int xtap_state_lock(const char *path, struct xtap_err *err)
{
	int ret = mkdir_parent(path);

	if (ret)
		return xtap_fail(err, ret, "creating the directory of %s: %s", path, strerror(-ret));
	return xtap_lock_take(path, XTAP_LOCK_FILE, "stop it first, or use --state", err);
}

/* Line and column (from 1) of offset in text: parse errors point there. */
static void text_position(const char *text, size_t offset, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int xtap_state_parse(const char *text, size_t len, struct xtap_model *m, struct xtap_err *err)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	size_t end, line, col;
	json_object *o;
	int ret;

	memset(m, 0, sizeof(*m));
	if (!len)
		return xtap_fail(err, -EINVAL, "the file is empty (a state with nothing in it is {\"segments\":[],\"ports\":[]})");
	if (len > INT_MAX)
		return xtap_fail(err, -EFBIG, "%zu bytes is too large for a state file", len);
	tok = json_tokener_new();
	if (!tok)
		return xtap_fail(err, -ENOMEM, "out of memory");
	/* Strict (no trailing commas, no single-quoted values), UTF-8 checked; trailing data is looked at below. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
				    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* A success without an object is a top-level null, which the model refuses by type. */
	if (!o && jerr != json_tokener_success) {
		text_position(text, end, &line, &col);
		if (jerr == json_tokener_continue)
			return xtap_fail(err, -EINVAL, "the JSON text ends early, at line %zu (a truncated file?)", line);
		return xtap_fail(err, -EINVAL, "not valid JSON at line %zu, column %zu: %s", line, col,
				 json_tokener_error_desc(jerr));
	}
	/* The text need not end with a NUL: only len bytes are looked at. */
	while (end < len && (text[end] == ' ' || text[end] == '\t' || text[end] == '\r' || text[end] == '\n'))
		end++;
	if (end < len) {
		json_object_put(o);
		text_position(text, end, &line, &col);
		return xtap_fail(err, -EINVAL, "trailing data after the JSON text, at line %zu, column %zu", line, col);
	}
	ret = xtap_model_from_json(o, m, err);
	json_object_put(o);
	if (!ret) {
		ret = xtap_validate_model(m, err);
		if (ret)
			xtap_model_free(m);
	}
	return ret;
}

/* The whole file; NULL with errno set when it cannot be read. */
static char *read_all(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, n = 0;
	char *buf = NULL, *grown;
	struct stat st;
	ssize_t r;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st))
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	if ((size_t)st.st_size + 1 > cap)
		cap = st.st_size + 1;
	for (;;) {
		if (n + 1 >= cap || !buf) {
			cap = buf ? cap * 2 : cap;
			grown = realloc(buf, cap);
			if (!grown)
				goto fail;
			buf = grown;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
fail:
	r = errno;
	free(buf);
	close(fd);
	errno = r;
	return NULL;
}

int xtap_state_load(const char *path, struct xtap_model *m, struct xtap_err *err)
{
	size_t len;
	char *text;
	int ret;

	memset(m, 0, sizeof(*m));
	text = read_all(path, &len);
	if (!text) {
		ret = -errno;
		if (ret == -ENOENT)
			return ret;
		return xtap_fail(err, ret, "%s: cannot be read: %s", path, strerror(-ret));
	}
	ret = xtap_state_parse(text, len, m, err);
	free(text);
	/* -ENOENT says "no file" to the caller: a file that does not load must never say that. */
	if (ret == -ENOENT)
		ret = -EINVAL;
	return ret ? xtap_err_at(err, ret, "%s", path) : 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	int fd, ret = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

static int write_synced(const char *path, const char *text)
{
	size_t len = strlen(text), off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (xtap_fault_should_fail(XTAP_FAULT_FILE))
		ret = -EIO;
	while (!ret && off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		off += n;
	}
	if (!ret && xtap_fault_should_fail(XTAP_FAULT_FILE))
		ret = -EIO;
	else if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Until FILE.tmp replaces FILE nothing visible has changed, and a failure
 * leaves FILE and FILE.prev as they were. The version being replaced gets a
 * second name first (FILE.prev.tmp), renamed over FILE.prev once FILE.tmp is
 * in place: FILE always exists, FILE.prev is always a complete file. What
 * follows the replacement (FILE.prev, the directory's fsync) cannot undo the
 * save any more: a failure there is logged, and the save stands.
 */
int xtap_state_save(const char *path, struct xtap_model *m, struct xtap_err *err)
{
	char tmp[PATH_MAX + 8], prev[PATH_MAX + 8], prev_tmp[PATH_MAX + 16];
	char *text = xtap_model_to_text(m);
	const char *step = "encoding";
	int ret = text ? 0 : -ENOMEM, kept = 0;

	if (!ret) {
		step = "naming";
		ret = sibling(tmp, sizeof(tmp), path, ".tmp");
		if (!ret)
			ret = sibling(prev, sizeof(prev), path, ".prev");
		if (!ret)
			ret = sibling(prev_tmp, sizeof(prev_tmp), path, ".prev.tmp");
	}
	if (!ret) {
		step = "creating its directory";
		ret = mkdir_parent(path);
	}
	if (!ret) {
		step = "writing the new version";
		ret = write_synced(tmp, text);
	}
	if (!ret) {
		step = "keeping the previous version";
		unlink(prev_tmp);
		kept = !link(path, prev_tmp);
		if (!kept && errno != ENOENT)   /* no FILE yet: nothing to keep */
			ret = -errno;
	}
	if (!ret) {
		step = "replacing it";
		/* The fault switch fails the write, the fsync or this rename (docs/api.md). */
		if (xtap_fault_should_fail(XTAP_FAULT_FILE))
			ret = -EIO;
		else if (rename(tmp, path))
			ret = -errno;
	}
	free(text);
	if (ret) {
		unlink(tmp);
		if (kept)
			unlink(prev_tmp);
		return xtap_fail(err, ret, "saving state to %s failed (%s): %s; it is as it was", path, step,
				 strerror(-ret));
	}
	if (kept && rename(prev_tmp, prev))
		xtap_log(XTAP_LOG_WARN, "state saved to %s, but keeping the previous version as %s failed: %s", path,
			 prev, strerror(errno));
	ret = fsync_dir_of(path);
	if (ret)
		xtap_log(XTAP_LOG_WARN, "state saved to %s, but syncing its directory failed (%s): a crash could bring back the previous version",
			 path, strerror(-ret));
	return 0;
}

int xtap_state_recover(const char *path, struct xtap_model *m, struct xtap_err *err)
{
	char prev[PATH_MAX + 8], bad[PATH_MAX + 8];
	int ret, moved;

	if (sibling(prev, sizeof(prev), path, ".prev") || sibling(bad, sizeof(bad), path, ".bad"))
		return xtap_fail(err, -ENAMETOOLONG, "%s: the name is too long", path);
	ret = xtap_state_load(path, m, err);
	if (!ret) {
		xtap_model_free(m);
		return xtap_fail(err, -EEXIST, "%s loads: there is nothing to recover (start without --recover-state)",
				 path);
	}
	ret = xtap_state_load(prev, m, err);
	if (ret == -ENOENT)
		return xtap_fail(err, ret, "%s: there is no previous version to recover from", prev);
	if (ret)
		return ret;
	moved = !rename(path, bad);
	if (!moved && errno != ENOENT) {
		ret = -errno;
		xtap_model_free(m);
		return xtap_fail(err, ret, "moving %s to %s: %s", path, bad, strerror(-ret));
	}
	/* No FILE now: this save keeps FILE.prev as it is. */
	ret = xtap_state_save(path, m, err);
	if (ret) {
		if (moved)
			rename(bad, path);
		xtap_model_free(m);
	}
	return ret;
}

void xtap_state_advice(const char *path, char *buf, size_t len)
{
	char prev[PATH_MAX + 8], when[64];
	struct stat st;
	struct tm tm;

	if (sibling(prev, sizeof(prev), path, ".prev") || stat(prev, &st)) {
		snprintf(buf, len, "nothing changed; fix the file, or move it away to start with no ports "
			 "(docs/operations.md)");
		return;
	}
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&st.st_mtime, &tm));
	snprintf(buf, len, "nothing changed; the previous version is %s (saved %s): "
		 "xtapd --recover-state starts from it and keeps this file as %s.bad; or fix the file "
		 "(docs/operations.md)", prev, when, path);
}
