/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading one control request from the bytes of a connection, strictly:
 * JSON as RFC 8259 has it (double quotes only, no comments), one object,
 * nothing after it but whitespace. Errors say what and where.
 */
#ifndef XTAP_REQUEST_H
#define XTAP_REQUEST_H

#include <stddef.h>
#include <json-c/json.h>

#include "err.h"

struct xtap_request_reader {
	struct json_tokener *tok;
	size_t offset;        /* bytes fed so far */
	int in_string, escaped;
	json_object *req;     /* the complete request, once there is one */
};

int xtap_request_reader_init(struct xtap_request_reader *r);
void xtap_request_reader_free(struct xtap_request_reader *r);

/*
 * Feeds the next bytes. Returns 1 when more are needed, 0 when the request
 * is complete (r->req, owned by the reader until taken), or a negative
 * errno with err naming the problem (not JSON, single quotes, trailing data).
 */
int xtap_request_feed(struct xtap_request_reader *r, const char *buf, size_t n, struct xtap_err *err);

#endif
