/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one logging module of xtapd and xtap-vhost: a line "PROGRAM: LEVEL: text"
 * (or "PROGRAM[PORT]: LEVEL: text") to stderr in one write, so the lines of
 * concurrent processes never interleave. Errors and warnings always, info by
 * default, debug with --verbose. When stderr is the journal (systemd's
 * JOURNAL_STREAM), each line starts with its priority, "<3>" to "<7>".
 */
#ifndef XTAP_LOG_H
#define XTAP_LOG_H

#include <stdarg.h>

enum xtap_log_level { XTAP_LOG_ERR, XTAP_LOG_WARN, XTAP_LOG_INFO, XTAP_LOG_DEBUG };

/* The program's name in every line ("xtapd", "xtap-vhost") and the most verbose level shown. */
void xtap_log_init(const char *program, enum xtap_log_level max);
void xtap_log_set_level(enum xtap_log_level max);
int xtap_log_enabled(enum xtap_log_level lvl);

void xtap_log(enum xtap_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, for one port: "PROGRAM[PORT]: LEVEL: text". */
void xtap_log_port(enum xtap_log_level lvl, const char *port, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void xtap_vlog_port(enum xtap_log_level lvl, const char *port, const char *fmt, va_list ap);

#endif /* XTAP_LOG_H */
