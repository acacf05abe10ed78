// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "request.h"

int xtap_request_reader_init(struct xtap_request_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->tok = json_tokener_new();
	if (!r->tok)
		return -ENOMEM;
	/* Trailing characters are let through to be refused here, with a message that says so. */
	json_tokener_set_flags(r->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
				       JSON_TOKENER_VALIDATE_UTF8);
	return 0;
}

void xtap_request_reader_free(struct xtap_request_reader *r)
{
	if (r->tok)
		json_tokener_free(r->tok);
	json_object_put(r->req);
	memset(r, 0, sizeof(*r));
}

/*
 * json-c 0.16's strict mode still takes {'key': ...}: single quotes outside
 * strings are refused here, with a scan that only tracks where strings are.
 */
static int single_quote_at(struct xtap_request_reader *r, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = buf[i];

		if (r->in_string) {
			if (r->escaped)
				r->escaped = 0;
			else if (c == '\\')
				r->escaped = 1;
			else if (c == '"')
				r->in_string = 0;
		} else if (c == '"') {
			r->in_string = 1;
		} else if (c == '\'') {
			return (int)i;
		}
	}
	return -1;
}

static int only_space(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr(" \t\r\n", buf[i]))
			return 0;
	return 1;
}

int xtap_request_feed(struct xtap_request_reader *r, const char *buf, size_t n, struct xtap_err *err)
{
	enum json_tokener_error jerr;
	json_object *req;
	size_t used;
	int q;

	if (r->req)
		return only_space(buf, n) ? 0 :
		       xtap_fail(err, -EINVAL, "request: data after the JSON object (one request per connection); nothing changed");
	req = json_tokener_parse_ex(r->tok, buf, n);
	jerr = json_tokener_get_error(r->tok);
	used = req ? json_tokener_get_parse_end(r->tok) : n;
	q = single_quote_at(r, buf, used);
	if (q >= 0) {
		json_object_put(req);
		return xtap_fail(err, -EINVAL, "request: single quote at byte %zu: JSON strings and keys take double quotes; nothing changed",
				 r->offset + q);
	}
	if (!req && jerr == json_tokener_continue) {
		r->offset += n;
		return 1;
	}
	if (!req)
		return xtap_fail(err, -EINVAL, "request: not valid JSON at byte %zu: %s; nothing changed",
				 r->offset + json_tokener_get_parse_end(r->tok), json_tokener_error_desc(jerr));
	if (!only_space(buf + used, n - used)) {
		json_object_put(req);
		return xtap_fail(err, -EINVAL, "request: data after the JSON object at byte %zu (one request per connection); nothing changed",
				 r->offset + used);
	}
	r->offset += n;
	r->req = req;
	return 0;
}
