// SPDX-License-Identifier: GPL-2.0
/* etcd v3 over its JSON gateway (etcd.h): libcurl for HTTP, json-c for the bodies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "etcd.h"

/* ---- base64 (the gateway's encoding of keys and values; RFC 4648) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	const unsigned char *s = (const unsigned char *)in;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = b64[s[i] >> 2];
		*o++ = b64[(s[i] & 3) << 4 | s[i + 1] >> 4];
		*o++ = b64[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		*o++ = b64[s[i + 2] & 63];
	}
	if (i < len) {
		*o++ = b64[s[i] >> 2];
		*o++ = b64[(s[i] & 3) << 4 | (i + 1 < len ? s[i + 1] >> 4 : 0)];
		*o++ = i + 1 < len ? b64[(s[i + 1] & 15) << 2] : '=';
		*o++ = '=';
	}
	*o = 0;
	return out;
}

static char *b64_decode(const char *in)
{
	size_t len = strlen(in), i;
	char *out = malloc(len / 4 * 3 + 4), *o = out;
	unsigned int acc = 0, bits = 0;

	if (!out)
		return NULL;
	for (i = 0; i < len && in[i] != '='; i++) {
		const char *p = strchr(b64, in[i]);

		if (!p || !in[i]) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (unsigned int)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (char)(acc >> bits);
		}
	}
	*o = 0;
	return out;
}

/* The end of the range of every key starting with prefix: the prefix with its last byte + 1. */
static char *prefix_end(const char *prefix)
{
	char *end = strdup(prefix);
	size_t n = strlen(end);

	if (end && n)
		end[n - 1]++;
	return end;
}

static void add_b64(json_object *o, const char *field, const char *s)
{
	char *enc = b64_encode(s, strlen(s));

	json_object_object_add(o, field, json_object_new_string(enc ? enc : ""));
	free(enc);
}

/* The gateway writes int64 as strings; absent means 0. */
static int64_t get_i64(json_object *o, const char *field)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, field, &v))
		return 0;
	return json_object_is_type(v, json_type_string) ? strtoll(json_object_get_string(v), NULL, 10) :
							  json_object_get_int64(v);
}

/* ---- HTTP ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

int xtap_etcd_open(struct xtap_etcd *e, const char *url, struct xtap_err *err)
{
	size_t n = strlen(url);

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return xtap_fail(err, -EINVAL, "etcd URL \"%s\": give http://HOST:PORT (the client URL etcd listens on)", url);
	if (n >= sizeof(e->url))
		return xtap_fail(err, -EINVAL, "etcd URL: longer than %zu characters", sizeof(e->url) - 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memcpy(e->url, url, n + 1);
	while (n && e->url[n - 1] == '/')
		e->url[--n] = 0;
	e->curl = curl_easy_init();
	if (!e->curl)
		return xtap_fail(err, -ENOMEM, "etcd: curl_easy_init failed");
	if (!e->timeout_ms)
		e->timeout_ms = 3000;
	return 0;
}

void xtap_etcd_close(struct xtap_etcd *e)
{
	if (e->curl)
		curl_easy_cleanup(e->curl);
	e->curl = NULL;
}

static void prepare(struct xtap_etcd *e, const char *path, const char *body, struct curl_slist *hdr)
{
	char url[512];
	CURL *c = e->curl;

	curl_easy_reset(c);
	snprintf(url, sizeof(url), "%s%s", e->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
}

/* POSTs body (JSON) to path; *resp: the reply's JSON object. */
static int call(struct xtap_etcd *e, const char *path, json_object *body, json_object **resp, struct xtap_err *err)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	struct buf b = {};
	long status = 0;
	CURLcode rc;
	json_object *v;

	*resp = NULL;
	prepare(e, path, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), hdr);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(e->curl);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		free(b.p);
		return xtap_fail(err, -EHOSTUNREACH, "etcd %s: %s", e->url, curl_easy_strerror(rc));
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	*resp = b.p ? json_tokener_parse(b.p) : NULL;
	if (status != 200 || !*resp) {
		const char *msg = *resp && json_object_object_get_ex(*resp, "error", &v) ? json_object_get_string(v) :
				  b.p ? b.p : "";

		xtap_fail(err, -EIO, "etcd %s%s: HTTP %ld: %.160s", e->url, path, status, msg);
		free(b.p);
		json_object_put(*resp);
		*resp = NULL;
		return -EIO;
	}
	free(b.p);
	return 0;
}

static int kv_from_json(json_object *o, struct xtap_etcd_kv *kv)
{
	json_object *v;

	memset(kv, 0, sizeof(*kv));
	kv->key = json_object_object_get_ex(o, "key", &v) ? b64_decode(json_object_get_string(v)) : NULL;
	kv->value = json_object_object_get_ex(o, "value", &v) ? b64_decode(json_object_get_string(v)) : strdup("");
	kv->create_rev = get_i64(o, "create_revision");
	kv->mod_rev = get_i64(o, "mod_revision");
	kv->lease = get_i64(o, "lease");
	return kv->key && kv->value ? 0 : -ENOMEM;
}

void xtap_etcd_kvs_free(struct xtap_etcd_kv *kvs, size_t n)
{
	size_t i;

	for (i = 0; kvs && i < n; i++) {
		free(kvs[i].key);
		free(kvs[i].value);
	}
	free(kvs);
}

int xtap_etcd_range(struct xtap_etcd *e, const char *key, int prefix, struct xtap_etcd_kv **kvs, size_t *n,
		    int64_t *rev, struct xtap_err *err)
{
	json_object *req = json_object_new_object(), *resp, *arr, *hdr;
	size_t i, len = 0;
	int ret;

	*kvs = NULL;
	*n = 0;
	add_b64(req, "key", key);
	if (prefix) {
		char *end = prefix_end(key);

		add_b64(req, "range_end", end ? end : "");
		free(end);
	}
	ret = call(e, "/v3/kv/range", req, &resp, err);
	json_object_put(req);
	if (ret)
		return ret;
	if (rev)
		*rev = json_object_object_get_ex(resp, "header", &hdr) ? get_i64(hdr, "revision") : 0;
	if (json_object_object_get_ex(resp, "kvs", &arr) && json_object_is_type(arr, json_type_array))
		len = json_object_array_length(arr);
	if (len && !(*kvs = calloc(len, sizeof(**kvs))))
		ret = xtap_fail(err, -ENOMEM, "etcd: out of memory");
	for (i = 0; i < len && !ret; i++) {
		if (kv_from_json(json_object_array_get_idx(arr, i), &(*kvs)[i]))
			ret = xtap_fail(err, -EIO, "etcd: a key or value that is not base64");
		*n = i + 1;
	}
	json_object_put(resp);
	if (ret) {
		xtap_etcd_kvs_free(*kvs, *n);
		*kvs = NULL;
		*n = 0;
	}
	return ret;
}

static json_object *put_req(const char *key, const char *value, int64_t lease)
{
	json_object *o = json_object_new_object();

	add_b64(o, "key", key);
	add_b64(o, "value", value);
	if (lease)
		json_object_object_add(o, "lease", json_object_new_int64(lease));
	return o;
}

static json_object *del_req(const char *key)
{
	json_object *o = json_object_new_object();

	add_b64(o, "key", key);
	return o;
}

int xtap_etcd_put(struct xtap_etcd *e, const char *key, const char *value, int64_t lease, struct xtap_err *err)
{
	json_object *req = put_req(key, value, lease), *resp;
	int ret = call(e, "/v3/kv/put", req, &resp, err);

	json_object_put(req);
	json_object_put(resp);
	return ret;
}

int xtap_etcd_del(struct xtap_etcd *e, const char *key, struct xtap_err *err)
{
	json_object *req = del_req(key), *resp;
	int ret = call(e, "/v3/kv/deleterange", req, &resp, err);

	json_object_put(req);
	json_object_put(resp);
	return ret;
}

int xtap_etcd_txn(struct xtap_etcd *e, const struct xtap_etcd_op *guards, size_t n_guards,
		  const struct xtap_etcd_op *ops, size_t n_ops, int64_t *rev, struct xtap_err *err)
{
	json_object *req = json_object_new_object(), *cmp = json_object_new_array(), *succ = json_object_new_array();
	json_object *resp, *v, *hdr;
	size_t i;
	int ret;

	for (i = 0; i < n_guards; i++) {
		json_object *c = json_object_new_object();

		add_b64(c, "key", guards[i].key);
		json_object_object_add(c, "target", json_object_new_string("MOD"));
		json_object_object_add(c, "result", json_object_new_string("EQUAL"));
		json_object_object_add(c, "mod_revision", json_object_new_int64(guards[i].mod_rev));
		json_object_array_add(cmp, c);
	}
	for (i = 0; i < n_ops; i++) {
		json_object *op = json_object_new_object();

		if (ops[i].value)
			json_object_object_add(op, "request_put", put_req(ops[i].key, ops[i].value, 0));
		else
			json_object_object_add(op, "request_delete_range", del_req(ops[i].key));
		json_object_array_add(succ, op);
	}
	json_object_object_add(req, "compare", cmp);
	json_object_object_add(req, "success", succ);
	ret = call(e, "/v3/kv/txn", req, &resp, err);
	json_object_put(req);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(resp, "succeeded", &v) || !json_object_get_boolean(v))
		ret = xtap_fail(err, -ECANCELED, "etcd: changed by someone else meanwhile; read it again and retry");
	if (rev)
		*rev = json_object_object_get_ex(resp, "header", &hdr) ? get_i64(hdr, "revision") : 0;
	json_object_put(resp);
	return ret;
}

int xtap_etcd_lease_grant(struct xtap_etcd *e, int64_t ttl, int64_t *id, struct xtap_err *err)
{
	json_object *req = json_object_new_object(), *resp;
	int ret;

	json_object_object_add(req, "TTL", json_object_new_int64(ttl));
	ret = call(e, "/v3/lease/grant", req, &resp, err);
	json_object_put(req);
	if (ret)
		return ret;
	*id = get_i64(resp, "ID");
	json_object_put(resp);
	return *id ? 0 : xtap_fail(err, -EIO, "etcd: lease grant answered no lease");
}

int xtap_etcd_lease_keepalive(struct xtap_etcd *e, int64_t id, int64_t *ttl, struct xtap_err *err)
{
	json_object *req = json_object_new_object(), *resp, *res;
	int ret;

	json_object_object_add(req, "ID", json_object_new_int64(id));
	ret = call(e, "/v3/lease/keepalive", req, &resp, err);
	json_object_put(req);
	if (ret)
		return ret;
	/* A stream of one message here: {"result": {"TTL": ...}}; no TTL: the lease is gone. */
	*ttl = json_object_object_get_ex(resp, "result", &res) ? get_i64(res, "TTL") : 0;
	json_object_put(resp);
	return 0;
}

/* ---- watch: one long POST whose body is a stream of JSON objects ---- */

struct watch_ctx {
	json_tokener *tok;
	xtap_etcd_watch_fn *fn;
	void *ctx;
	volatile int *stop;
	int64_t compacted;
	int canceled;
};

/* Keys and values of the events decoded in place, so that callers see text. */
static void decode_events(json_object *events)
{
	size_t i, n = json_object_array_length(events);

	for (i = 0; i < n; i++) {
		json_object *ev = json_object_array_get_idx(events, i), *kv, *v;

		if (!json_object_object_get_ex(ev, "kv", &kv))
			continue;
		if (json_object_object_get_ex(kv, "key", &v)) {
			char *s = b64_decode(json_object_get_string(v));

			json_object_object_add(kv, "key", json_object_new_string(s ? s : ""));
			free(s);
		}
		if (json_object_object_get_ex(kv, "value", &v)) {
			char *s = b64_decode(json_object_get_string(v));

			json_object_object_add(kv, "value", json_object_new_string(s ? s : ""));
			free(s);
		}
	}
}

static void on_watch_message(struct watch_ctx *w, json_object *msg)
{
	json_object *res, *events, *hdr;

	if (!json_object_object_get_ex(msg, "result", &res))
		return;
	if (get_i64(res, "compact_revision")) {
		w->compacted = get_i64(res, "compact_revision");
		w->canceled = 1;
		return;
	}
	if (json_object_object_get_ex(res, "canceled", &events) && json_object_get_boolean(events)) {
		w->canceled = 1;
		return;
	}
	if (!json_object_object_get_ex(res, "events", &events) || !json_object_is_type(events, json_type_array))
		return;
	decode_events(events);
	json_object_object_get_ex(res, "header", &hdr);
	w->fn(w->ctx, events, get_i64(hdr, "revision"));
}

static size_t on_watch_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct watch_ctx *w = ctx;
	size_t n = size * nmemb, off = 0;

	while (off < n) {
		json_object *msg = json_tokener_parse_ex(w->tok, data + off, (int)(n - off));
		enum json_tokener_error jerr = json_tokener_get_error(w->tok);
		size_t used = json_tokener_get_parse_end(w->tok);

		if (jerr == json_tokener_continue)
			break;   /* the rest of this object comes in the next chunk */
		if (!msg)
			return 0;   /* not JSON: break the stream */
		on_watch_message(w, msg);
		json_object_put(msg);
		json_tokener_reset(w->tok);
		off += used ? used : n - off;
		while (off < n && (data[off] == '\n' || data[off] == '\r' || data[off] == ' '))
			off++;
		if (w->canceled)
			return 0;
	}
	return n;
}

static int on_watch_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct watch_ctx *w = ctx;

	(void)a, (void)b, (void)c, (void)d;
	return *w->stop;
}

int xtap_etcd_watch(struct xtap_etcd *e, const char *prefix, int64_t start_rev, xtap_etcd_watch_fn *fn,
		    void *ctx, volatile int *stop, int64_t *compacted, struct xtap_err *err)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	json_object *req = json_object_new_object(), *create = json_object_new_object();
	struct watch_ctx w = { .tok = json_tokener_new(), .fn = fn, .ctx = ctx, .stop = stop };
	char *end = prefix_end(prefix);
	CURLcode rc;

	add_b64(create, "key", prefix);
	add_b64(create, "range_end", end ? end : "");
	free(end);
	json_object_object_add(create, "start_revision", json_object_new_int64(start_rev));
	json_object_object_add(req, "create_request", create);
	prepare(e, "/v3/watch", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), hdr);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_watch_body);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, &w);
	rc = curl_easy_perform(e->curl);
	curl_slist_free_all(hdr);
	json_object_put(req);
	json_tokener_free(w.tok);
	*compacted = w.compacted;
	if (*stop)
		return 0;
	if (w.compacted)
		return xtap_fail(err, -ESTALE, "etcd watch: revision %lld was compacted (now %lld); listing again",
				 (long long)start_rev, (long long)w.compacted);
	return xtap_fail(err, -EIO, "etcd watch %s: %s", e->url,
			 w.canceled ? "canceled by etcd" : rc == CURLE_OK ? "stream ended" : curl_easy_strerror(rc));
}

json_object *xtap_etcd_json(const char *value)
{
	json_object *o = value ? json_tokener_parse(value) : NULL;

	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

int xtap_etcd_key_part_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}
