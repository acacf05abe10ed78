// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int xtap_fail(struct xtap_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int xtap_err_at(struct xtap_err *err, int code, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	size_t n, len;
	va_list ap;

	if (!err)
		return code;
	memcpy(msg, err->msg, sizeof(msg));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg) / 2, fmt, ap);
	va_end(ap);
	n = n < sizeof(err->msg) / 2 ? n : sizeof(err->msg) / 2 - 1;
	len = strnlen(msg, sizeof(err->msg) - n - 3);
	memcpy(err->msg + n, ": ", 2);
	memcpy(err->msg + n + 2, msg, len);
	err->msg[n + 2 + len] = 0;
	return code;
}
