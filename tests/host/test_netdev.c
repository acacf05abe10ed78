// SPDX-License-Identifier: GPL-2.0
/* agent/lib/netdev.c against the real kernel, inside the test sandbox. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <cmocka.h>

#include "netdev.h"
#include "sandbox.h"

/* Shows the library's message when a call that should work does not. */
#define assert_ok(expr, err)                                            \
	do {                                                            \
		int __ret = (expr);                                     \
		if (__ret < 0)                                          \
			print_error("%d: %s\n", __ret, (err)->msg);     \
		assert_true(__ret >= 0);                                \
	} while (0)

static struct xtap_tap_opts tap_opts(const char *name, unsigned int queues, uint16_t mtu)
{
	return (struct xtap_tap_opts){
		.name = name, .queues = queues, .mtu = mtu, .owner_uid = -1, .owner_gid = -1,
	};
}

static int create(const char *name, unsigned int queues, uint16_t mtu)
{
	struct xtap_tap_opts o = tap_opts(name, queues, mtu);
	struct xtap_err err = {};
	int ifindex = xtap_tap_create(&o, &err);

	assert_ok(ifindex, &err);
	assert_true(ifindex > 0);
	return ifindex;
}

static void sysfs_read(const char *name, const char *attr, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, attr);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, (int)len, f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static unsigned long tun_flags(const char *name)
{
	char buf[32];

	sysfs_read(name, "tun_flags", buf, sizeof(buf));
	return strtoul(buf, NULL, 16);
}

static void assert_missing(const char *name)
{
	struct xtap_link l;
	struct xtap_err err = {};

	assert_int_equal(xtap_link_get(name, &l, &err), -ENOENT);
}

static void test_create_single(void **state)
{
	static const uint8_t zero[6];
	struct xtap_tap_opts o = tap_opts("xt-single", 1, 9000);
	struct xtap_err err = {};
	struct xtap_link l;
	unsigned long flags;
	int ifindex;

	(void)state;
	ifindex = create(o.name, o.queues, o.mtu);
	assert_ok(xtap_link_get(o.name, &l, &err), &err);
	assert_int_equal(l.ifindex, ifindex);
	assert_string_equal(l.name, o.name);
	assert_true(l.up);
	assert_false(l.running);   /* no queue open: no carrier */
	assert_int_equal(l.mtu, 9000);
	assert_memory_not_equal(l.mac, zero, sizeof(zero));
	assert_int_equal(xtap_is_tap(o.name), 1);
	flags = tun_flags(o.name);
	assert_int_equal(flags & (IFF_PERSIST | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE),
			 IFF_PERSIST | IFF_NO_PI | IFF_VNET_HDR);

	assert_int_equal(xtap_tap_create(&o, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "xt-single"));
	/* The failed create left the tap as it was. */
	assert_ok(xtap_link_get(o.name, &l, &err), &err);
	assert_int_equal(l.ifindex, ifindex);
	assert_int_equal(l.mtu, 9000);
}

static void test_exists_not_tap(void **state)
{
	struct xtap_tap_opts o = tap_opts("lo", 1, 0);
	struct xtap_err err = {};

	(void)state;
	assert_int_equal(xtap_tap_create(&o, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "not a tap"));
}

static void test_multiqueue(void **state)
{
	struct xtap_tap_opts o = tap_opts("xt-mq", 4, 0);
	uint8_t vnet[12] = {}, frame[60] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5,
	};
	struct iovec iov[2] = { { vnet, sizeof(vnet) }, { frame, sizeof(frame) } };
	struct xtap_err err = {};
	struct xtap_link l;
	int fds[4], one, hdr, i;

	(void)state;
	o.offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	assert_ok(xtap_tap_create(&o, &err), &err);
	assert_true(tun_flags(o.name) & IFF_MULTI_QUEUE);

	assert_ok(xtap_tap_open_queues(o.name, 4, 1, fds, &err), &err);
	for (i = 0; i < 4; i++) {
		assert_true(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
	}
	assert_int_equal(ioctl(fds[0], TUNGETVNETHDRSZ, &hdr), 0);
	assert_int_equal(hdr, 12);
	assert_int_equal(writev(fds[2], iov, 2), sizeof(vnet) + sizeof(frame));
	assert_ok(xtap_link_get(o.name, &l, &err), &err);
	assert_true(l.running);

	/* A single-queue open of a multiqueue tap is refused, and says why. */
	assert_int_equal(xtap_tap_open_queues(o.name, 1, 0, &one, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "multiqueue"));
	for (i = 0; i < 4; i++)
		close(fds[i]);
}

static void test_single_queue_busy(void **state)
{
	struct xtap_err err = {};
	int fd, other;

	(void)state;
	create("xt-busy", 1, 0);
	assert_ok(xtap_tap_open_queues("xt-busy", 1, 0, &fd, &err), &err);
	assert_int_equal(xtap_tap_open_queues("xt-busy", 1, 0, &other, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "xt-busy"));
	assert_non_null(strstr(err.msg, "in use"));
	assert_int_equal(xtap_tap_open_queues("xt-busy", 2, 0, &other, &err), -EINVAL);
	close(fd);
	assert_ok(xtap_tap_open_queues("xt-busy", 1, 0, &fd, &err), &err);
	close(fd);
}

static void test_open_missing(void **state)
{
	struct xtap_err err = {};
	int fd;

	(void)state;
	assert_int_equal(xtap_tap_open_queues("xt-nope", 1, 0, &fd, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "xt-nope"));
	/* TUNSETIFF would have created it: it must not exist now. */
	assert_missing("xt-nope");
	assert_int_equal(xtap_tap_open_queues("lo", 1, 0, &fd, &err), -EINVAL);
}

static void test_owner(void **state)
{
	struct xtap_tap_opts o = tap_opts("xt-owner", 1, 0);
	struct xtap_err err = {};
	char buf[32];

	(void)state;
	o.owner_uid = 1000;
	o.owner_gid = 1001;
	assert_ok(xtap_tap_create(&o, &err), &err);
	sysfs_read(o.name, "owner", buf, sizeof(buf));
	assert_string_equal(buf, "1000");
	sysfs_read(o.name, "group", buf, sizeof(buf));
	assert_string_equal(buf, "1001");

	o.name = "xt-owner-bad";
	o.owner_uid = 4294967295L;
	assert_int_equal(xtap_tap_create(&o, &err), -EINVAL);
	assert_missing(o.name);
}

static void test_delete(void **state)
{
	struct xtap_err err = {};
	struct xtap_link l;

	(void)state;
	create("xt-del", 1, 0);
	assert_ok(xtap_tap_delete("xt-del", &err), &err);
	assert_missing("xt-del");
	assert_int_equal(xtap_is_tap("xt-del"), -ENOENT);
	assert_int_equal(xtap_tap_delete("xt-del", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "xt-del"));

	assert_int_equal(xtap_tap_delete("lo", &err), -EINVAL);
	assert_ok(xtap_link_get("lo", &l, &err), &err);
}

struct seen {
	int ifindex;
	enum xtap_link_event_type type;
	const char *name;
	int found;
};

static void on_event(const struct xtap_link_event *ev, void *ctx)
{
	struct seen *s = ctx;

	if (ev->type == s->type && ev->link.ifindex == s->ifindex &&
	    !strcmp(ev->link.name, s->name))
		s->found = 1;
}

static void wait_event(struct xtap_link_monitor *m, struct seen *s)
{
	struct pollfd pfd = { .fd = xtap_link_monitor_fd(m), .events = POLLIN };
	int tries;

	for (tries = 0; tries < 20 && !s->found; tries++) {
		assert_true(poll(&pfd, 1, 100) >= 0);
		assert_true(xtap_link_monitor_read(m, on_event, s) >= 0);
	}
	assert_true(s->found);
}

static void test_monitor(void **state)
{
	struct xtap_err err = {};
	struct xtap_link_monitor *m;
	struct seen s = { .name = "xt-mon" };

	(void)state;
	m = xtap_link_monitor_open(&err);
	if (!m)
		print_error("%s\n", err.msg);
	assert_non_null(m);
	/* Nothing pending: a read returns at once. */
	assert_int_equal(xtap_link_monitor_read(m, on_event, &s), 0);

	s.ifindex = create(s.name, 1, 0);
	s.type = XTAP_LINK_NEW;
	wait_event(m, &s);

	assert_ok(xtap_tap_delete(s.name, &err), &err);
	s.type = XTAP_LINK_DEL;
	s.found = 0;
	wait_event(m, &s);
	xtap_link_monitor_close(m);
}

static void test_link_set(void **state)
{
	struct xtap_err err = {};
	struct xtap_link l;
	int ifindex;

	(void)state;
	ifindex = create("xt-set", 1, 0);
	assert_ok(xtap_link_get_index(ifindex, &l, &err), &err);
	assert_string_equal(l.name, "xt-set");
	assert_int_equal(l.mtu, 1500);

	assert_ok(xtap_link_set_mtu(ifindex, 1400, &err), &err);
	assert_ok(xtap_link_get("xt-set", &l, &err), &err);
	assert_int_equal(l.mtu, 1400);

	assert_ok(xtap_link_set_up(ifindex, 0, &err), &err);
	assert_ok(xtap_link_get("xt-set", &l, &err), &err);
	assert_false(l.up);
	assert_ok(xtap_link_set_up(ifindex, 1, &err), &err);
	assert_ok(xtap_link_get("xt-set", &l, &err), &err);
	assert_true(l.up);

	/* The kernel's own reason reaches the message. */
	assert_int_equal(xtap_link_set_mtu(ifindex, 10, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "minimum"));
	assert_int_equal(xtap_link_get_index(1 << 30, &l, &err), -ENOENT);
	assert_int_equal(xtap_link_set_up(1 << 30, 1, &err), -ENOENT);
}

static void test_is_tap(void **state)
{
	(void)state;
	assert_int_equal(xtap_is_tap("lo"), 0);
	assert_int_equal(xtap_is_tap("xt-none"), -ENOENT);
	assert_int_equal(xtap_is_tap("../lo"), -EINVAL);
}

static void test_bad_names(void **state)
{
	struct xtap_tap_opts o = tap_opts("xt-name-too-long", 1, 0);
	struct xtap_err err = {};

	(void)state;
	assert_int_equal(xtap_tap_create(&o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "xt-name-too-long"));
	assert_non_null(strstr(err.msg, "15"));
	assert_missing("xt-name-too-lon");

	o.name = "xt%d";
	assert_int_equal(xtap_tap_create(&o, &err), -EINVAL);
	assert_missing("xt0");
	o.name = "";
	assert_int_equal(xtap_tap_create(&o, &err), -EINVAL);
}

/* A tap that fails part way through setup is gone again. */
static void test_failure_leaves_nothing(void **state)
{
	struct xtap_tap_opts o = tap_opts("xt-fail", 1, 0);
	struct xtap_err err = {};

	(void)state;
	o.offloads = TUN_F_TSO4;   /* TSO without TUN_F_CSUM */
	assert_int_equal(xtap_tap_create(&o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "xt-fail"));
	assert_missing(o.name);

	o.offloads = 0;
	o.mtu = 10;                /* refused only after the tap exists */
	assert_int_equal(xtap_tap_create(&o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "MTU"));
	assert_missing(o.name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_single),
		cmocka_unit_test(test_exists_not_tap),
		cmocka_unit_test(test_multiqueue),
		cmocka_unit_test(test_single_queue_busy),
		cmocka_unit_test(test_open_missing),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_monitor),
		cmocka_unit_test(test_link_set),
		cmocka_unit_test(test_is_tap),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_failure_leaves_nothing),
	};

	if (sandbox_enter())
		return 1;
	return cmocka_run_group_tests_name("netdev", tests, NULL, NULL);
}
