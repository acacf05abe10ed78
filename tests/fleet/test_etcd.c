// SPDX-License-Identifier: GPL-2.0
/*
 * agent/lib/etcd.c against a real etcd (tests/fleet/run.sh starts it and
 * gives its URL in XTAP_ETCD_URL): keys and values through base64 both ways,
 * prefix ranges, guarded transactions, leases that keep a key and let it go,
 * a watch that sees puts and deletes in order and reports a compaction.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "etcd.h"

static struct xtap_etcd e;

static int setup(void **state)
{
	struct xtap_err err = {};
	const char *url = getenv("XTAP_ETCD_URL");

	(void)state;
	if (!url || xtap_etcd_open(&e, url, &err)) {
		fprintf(stderr, "XTAP_ETCD_URL: give etcd's client URL (%s)\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	xtap_etcd_close(&e);
	return 0;
}

static void test_put_range_roundtrip(void **state)
{
	struct xtap_err err = {};
	struct xtap_etcd_kv *kvs;
	size_t n;
	int64_t rev;
	/* lengths 1, 2 and 3 mod 3 exercise every base64 padding */
	const char *vals[] = { "{\"a\":1}", "{\"ab\":12}", "{\"abc\":123}", "x" };
	char key[64];
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "/test/rt/k%zu", i);
		assert_int_equal(xtap_etcd_put(&e, key, vals[i], 0, &err), 0);
	}
	assert_int_equal(xtap_etcd_put(&e, "/test/rtx", "outside the prefix", 0, &err), 0);
	assert_int_equal(xtap_etcd_range(&e, "/test/rt/", 1, &kvs, &n, &rev, &err), 0);
	assert_int_equal(n, 4);
	assert_true(rev > 0);
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "/test/rt/k%zu", i);
		assert_string_equal(kvs[i].key, key);
		assert_string_equal(kvs[i].value, vals[i]);
		assert_true(kvs[i].mod_rev > 0 && kvs[i].mod_rev <= rev);
	}
	xtap_etcd_kvs_free(kvs, n);
	assert_int_equal(xtap_etcd_del(&e, "/test/rt/k0", &err), 0);
	assert_int_equal(xtap_etcd_range(&e, "/test/rt/k0", 0, &kvs, &n, NULL, &err), 0);
	assert_int_equal(n, 0);
}

static void test_txn_guards(void **state)
{
	struct xtap_err err = {};
	struct xtap_etcd_op op = { .key = "/test/txn", .value = "{\"v\":1}" };
	struct xtap_etcd_op guard = { .key = "/test/txn", .mod_rev = 0 };
	struct xtap_etcd_kv *kvs;
	size_t n;
	int64_t rev;

	(void)state;
	assert_int_equal(xtap_etcd_txn(&e, &guard, 1, &op, 1, &rev, &err), 0);
	/* "must not exist" now fails and changes nothing */
	op.value = "{\"v\":2}";
	assert_int_equal(xtap_etcd_txn(&e, &guard, 1, &op, 1, NULL, &err), -ECANCELED);
	assert_int_equal(xtap_etcd_range(&e, "/test/txn", 0, &kvs, &n, NULL, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(kvs[0].value, "{\"v\":1}");
	/* guarded by the revision read: passes once, then the revision moved */
	guard.mod_rev = kvs[0].mod_rev;
	xtap_etcd_kvs_free(kvs, n);
	assert_int_equal(xtap_etcd_txn(&e, &guard, 1, &op, 1, NULL, &err), 0);
	assert_int_equal(xtap_etcd_txn(&e, &guard, 1, &op, 1, NULL, &err), -ECANCELED);
}

static int key_exists(const char *key)
{
	struct xtap_err err = {};
	struct xtap_etcd_kv *kvs;
	size_t n = 0;

	assert_int_equal(xtap_etcd_range(&e, key, 0, &kvs, &n, NULL, &err), 0);
	xtap_etcd_kvs_free(kvs, n);
	return n == 1;
}

static void test_lease_keeps_then_expires(void **state)
{
	struct xtap_err err = {};
	int64_t id, ttl;
	int i;

	(void)state;
	assert_int_equal(xtap_etcd_lease_grant(&e, 2, &id, &err), 0);
	assert_int_equal(xtap_etcd_put(&e, "/test/leased", "{}", id, &err), 0);
	for (i = 0; i < 4; i++) {   /* 4 s of keepalives: twice the TTL */
		sleep(1);
		assert_int_equal(xtap_etcd_lease_keepalive(&e, id, &ttl, &err), 0);
		assert_true(ttl > 0);
		assert_true(key_exists("/test/leased"));
	}
	/* no keepalive: gone within the TTL plus etcd's expiry check (wide margin on a loaded machine) */
	for (i = 0; i < 100 && key_exists("/test/leased"); i++)
		usleep(100000);
	assert_false(key_exists("/test/leased"));
	assert_int_equal(xtap_etcd_lease_keepalive(&e, id, &ttl, &err), 0);
	assert_int_equal(ttl, 0);
}

struct seen {
	char log[512];
	int batches;
	volatile int stop;
};

static void on_events(void *ctx, json_object *events, int64_t rev)
{
	struct seen *s = ctx;
	size_t i;

	(void)rev;
	for (i = 0; i < json_object_array_length(events); i++) {
		json_object *ev = json_object_array_get_idx(events, i), *kv, *v;
		int del = json_object_object_get_ex(ev, "type", &v) && !strcmp(json_object_get_string(v), "DELETE");
		size_t len = strlen(s->log);

		json_object_object_get_ex(ev, "kv", &kv);
		json_object_object_get_ex(kv, "key", &v);
		snprintf(s->log + len, sizeof(s->log) - len, "%s %s;", del ? "del" : "put", json_object_get_string(v));
	}
	if (strstr(s->log, "del /test/w/b;"))
		s->stop = 1;
}

static void test_watch_events_in_order(void **state)
{
	struct xtap_err err = {};
	struct xtap_etcd_kv *kvs;
	struct seen s = {};
	int64_t rev, compacted;
	size_t n;

	(void)state;
	assert_int_equal(xtap_etcd_range(&e, "/test/w/", 1, &kvs, &n, &rev, &err), 0);
	xtap_etcd_kvs_free(kvs, n);
	assert_int_equal(xtap_etcd_put(&e, "/test/w/a", "{}", 0, &err), 0);
	assert_int_equal(xtap_etcd_put(&e, "/test/other", "{}", 0, &err), 0);
	assert_int_equal(xtap_etcd_put(&e, "/test/w/b", "{}", 0, &err), 0);
	assert_int_equal(xtap_etcd_del(&e, "/test/w/b", &err), 0);
	/* from the revision listed: the history since, then it returns when the callback says stop */
	assert_int_equal(xtap_etcd_watch(&e, "/test/w/", rev + 1, on_events, &s, &s.stop, &compacted, &err), 0);
	assert_string_equal(s.log, "put /test/w/a;put /test/w/b;del /test/w/b;");
}

static void test_watch_reports_compaction(void **state)
{
	struct xtap_err err = {};
	struct seen s = {};
	int64_t compacted = 0;

	(void)state;
	assert_int_equal(xtap_etcd_put(&e, "/test/c", "{}", 0, &err), 0);
	/* run.sh's command: etcdctl compaction at the current revision */
	assert_int_equal(system(getenv("XTAP_ETCD_COMPACT")), 0);
	assert_int_equal(xtap_etcd_watch(&e, "/test/", 2, on_events, &s, &s.stop, &compacted, &err), -ESTALE);
	assert_true(compacted > 2);
	assert_non_null(strstr(err.msg, "compacted"));
	assert_string_equal(s.log, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_range_roundtrip),
		cmocka_unit_test(test_txn_guards),
		cmocka_unit_test(test_lease_keeps_then_expires),
		cmocka_unit_test(test_watch_events_in_order),
		cmocka_unit_test(test_watch_reports_compaction),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
