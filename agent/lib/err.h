/* SPDX-License-Identifier: GPL-2.0 */
/* Errors for the operator: one line naming the thing and the fix, with a negative errno. */
#ifndef XTAP_ERR_H
#define XTAP_ERR_H

struct xtap_err {
	char msg[256];
};

/* Formats the message into err (which may be NULL) and returns code. */
int xtap_fail(struct xtap_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Puts "WHERE: " (formatted) before err's message and returns code: a caller that knows where adds it. */
int xtap_err_at(struct xtap_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
