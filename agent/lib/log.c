// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static const char *log_program = "xtap";
static enum xtap_log_level log_max = XTAP_LOG_INFO;
static int log_to_journal;

/* systemd names the stream it connected to stderr in JOURNAL_STREAM ("DEV:INODE"), see systemd.exec(5). */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
	       st.st_dev == dev && st.st_ino == ino;
}

void xtap_log_init(const char *program, enum xtap_log_level max)
{
	log_program = program;
	log_max = max;
	log_to_journal = stderr_is_journal();
}

void xtap_log_set_level(enum xtap_log_level max)
{
	log_max = max;
}

int xtap_log_enabled(enum xtap_log_level lvl)
{
	return lvl <= log_max;
}

void xtap_vlog_port(enum xtap_log_level lvl, const char *port, const char *fmt, va_list ap)
{
	static const char *const tags[] = { "error", "warning", "info", "debug" };
	/* The journal's priority of each level: a "<N>" first on the line (sd-daemon(3)). */
	static const char *const prio[] = { SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG };
	char line[1024];
	int n;

	if (lvl > log_max)
		return;
	if (port)
		n = snprintf(line, sizeof(line), "%s%s[%s]: %s: ", log_to_journal ? prio[lvl] : "", log_program, port,
			     tags[lvl]);
	else
		n = snprintf(line, sizeof(line), "%s%s: %s: ", log_to_journal ? prio[lvl] : "", log_program, tags[lvl]);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return;
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	n = strlen(line);
	line[n++] = '\n';
	/* One write per line: concurrent processes' lines stay whole. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void xtap_log_port(enum xtap_log_level lvl, const char *port, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xtap_vlog_port(lvl, port, fmt, ap);
	va_end(ap);
}

void xtap_log(enum xtap_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xtap_vlog_port(lvl, NULL, fmt, ap);
	va_end(ap);
}
