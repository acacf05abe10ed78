// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: xtap-vhost's vhost-user server (agent/vhost/vhost_user.c)
 * with the userspace data plane, driven through a socketpair exactly as a
 * frontend drives it: message bytes in any pieces, fds by SCM_RIGHTS, and
 * guest memory the input writes to. A tap in a private network namespace is
 * the port, so SET_OWNER succeeds and rings really start and move frames.
 *
 * Input: byte 0 picks the port (bit 0: a 2-queue-pair multiqueue tap, else
 * one pair), then records until the input ends:
 *   t & 0x80 == 0: a piece of the stream. len = next 2 bytes (LE) % 512, then
 *     len bytes sent as they are (a header may announce more than follows:
 *     the next piece continues the message). fds attached: t & 0x0f (at most
 *     10; more than 8 is hostile), of kind (t >> 4) & 3: 0 an eventfd (the
 *     harness keeps a copy to kick it), 1 the guest memory memfd, 2 a pipe's
 *     write end, 3 an O_PATH fd of /. Bit 6 of t: the piece goes in two
 *     sends, the server reading in between.
 *   t & 0x80: guest memory: offset = 8 * next 2 bytes (LE), n = next byte,
 *     then n bytes written there (rings, descriptors, frames); then every
 *     eventfd the harness handed out is signalled and the plane's events run.
 * After each record the server reads what came (as xtap-vhost's loop does on
 * POLLIN), the replies are drained, and a connection the server dropped is
 * replaced by a new one. At the end everything is disconnected and the
 * harness checks that no fd and no mapping was left behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netdev.h"
#include "vhost_user.h"

#define GUEST_MEM_SIZE (256 * 1024)
#define MAX_HARNESS_FDS 256

static uint8_t *guest;               /* the harness's view of guest memory */
static int guest_fd = -1;
static struct xtap_vhost_server server;

static int kick_fds[MAX_HARNESS_FDS];  /* eventfds handed to the server: signalled by memory records */
static int n_kick;
static int peer = -1;                /* the frontend's end of the connection */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;      /* the directory's own fd */
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	/* Without IPv6 in the kernel there is nothing to turn off. */
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0)
		fprintf(stderr, "vhost_user_fuzz: %s: %s\n", path, strerror(errno));
	close(fd);
}

static void make_tap(const char *name, unsigned int queues)
{
	struct xtap_tap_opts o = { .name = name, .queues = queues, .owner_uid = -1, .owner_gid = -1 };
	struct xtap_err err = { "" };

	if (xtap_tap_create(&o, &err) < 0) {
		fprintf(stderr, "vhost_user_fuzz: creating tap %s: %s\n", name, err.msg);
		exit(1);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/*
	 * The taps live in a network namespace of our own, nothing on the host
	 * sees them; /sys is mounted again in a mount namespace of our own, as
	 * netdev.c reads the tap's flags there.
	 */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS)) {
		fprintf(stderr, "vhost_user_fuzz: needs root (CAP_SYS_ADMIN) for network and mount namespaces with taps: %s\n",
			strerror(errno));
		exit(77);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || mount("sysfs", "/sys", "sysfs", 0, NULL)) {
		fprintf(stderr, "vhost_user_fuzz: mounting /sys in the fuzzer's namespace: %s\n", strerror(errno));
		exit(1);
	}
	xtap_log_init("vhost_user_fuzz", XTAP_LOG_ERR);
	/* No IPv6 autoconfiguration traffic on the taps: what the RX rings get is the same on every run. */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	make_tap("fz0", 1);
	make_tap("fz1", 2);
	guest_fd = memfd_create("guest", MFD_CLOEXEC);
	if (guest_fd < 0 || ftruncate(guest_fd, GUEST_MEM_SIZE))
		abort();
	guest = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, guest_fd, 0);
	if (guest == MAP_FAILED)
		abort();
	return 0;
}

static void connect_peer(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	peer = sv[1];
	fcntl(peer, F_SETFL, O_NONBLOCK);
	xtap_vhost_server_attach(&server, sv[0]);
}

/* What xtap-vhost's loop does when the connection is readable; then the replies are read. */
static void serve(void)
{
	char buf[4096];

	if (server.conn >= 0)
		xtap_vhost_server_input(&server);
	while (recv(peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	if (server.conn < 0) {
		close(peer);
		connect_peer();
	}
}

static void run_plane(void)
{
	struct pollfd pfd[4 * XTAP_VHOST_MAX_RINGS];
	uint64_t one = 1;
	int i, n;

	for (i = 0; i < n_kick; i++)
		if (write(kick_fds[i], &one, sizeof(one)) < 0) {
			/* A counter at its maximum: kicked already. */
		}
	if (!server.owned || !server.dev.plane->poll_fds)
		return;
	n = server.dev.plane->poll_fds(&server.dev, pfd, (int)(sizeof(pfd) / sizeof(pfd[0])));
	if (n > 0 && poll(pfd, (nfds_t)n, 0) > 0)
		server.dev.plane->poll_events(&server.dev, pfd, n);
}

/* fds for one piece: returned in fds[], the harness's extra copies closed by the caller via close_fds. */
static int make_fds(unsigned int kind, unsigned int n, int *fds)
{
	unsigned int i;
	int p[2];

	for (i = 0; i < n; i++) {
		switch (kind) {
		case 0:
			fds[i] = eventfd(0, EFD_CLOEXEC);
			if (fds[i] >= 0 && n_kick < MAX_HARNESS_FDS)
				kick_fds[n_kick++] = dup(fds[i]);
			break;
		case 1:
			fds[i] = dup(guest_fd);
			break;
		case 2:
			if (pipe2(p, O_CLOEXEC))
				abort();
			close(p[0]);
			fds[i] = p[1];
			break;
		default:
			fds[i] = open("/", O_PATH | O_CLOEXEC);
			break;
		}
		if (fds[i] < 0)
			abort();
	}
	return (int)n;
}

static void send_piece(const uint8_t *data, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (!len)
		return;
	if (nfds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	/* A full socket (the server stopped reading): the rest of the piece is lost, as on a real stream. */
	sendmsg(peer, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t at = 1;
	int i, fds[16], nfds, fds_before;

	if (size < 1)
		return 0;
	fds_before = count_fds();
	memset(guest, 0, GUEST_MEM_SIZE);
	n_kick = 0;
	if (data[0] & 1)
		xtap_vhost_server_init(&server, "fz1", 2, true, &xtap_vhost_plane_userspace);
	else
		xtap_vhost_server_init(&server, "fz0", 1, false, &xtap_vhost_plane_userspace);
	connect_peer();

	while (at < size) {
		uint8_t t = data[at++];

		if (t & 0x80) {
			size_t off, n;

			if (size - at < 3)
				break;
			off = 8 * (size_t)(data[at] | data[at + 1] << 8) % GUEST_MEM_SIZE;
			n = data[at + 2];
			at += 3;
			if (n > size - at)
				n = size - at;
			if (n > GUEST_MEM_SIZE - off)
				n = GUEST_MEM_SIZE - off;
			memcpy(guest + off, data + at, n);
			at += n;
			run_plane();
			serve();
			continue;
		}
		if (size - at < 2)
			break;
		size_t len = (data[at] | data[at + 1] << 8) % 512;
		at += 2;
		if (len > size - at)
			len = size - at;
		nfds = make_fds((t >> 4) & 3, (t & 0x0f) > 10 ? 10 : t & 0x0f, fds);
		if (t & 0x40) {
			send_piece(data + at, len / 2, fds, nfds);
			serve();
			send_piece(data + at + len / 2, len - len / 2, NULL, 0);
		} else {
			send_piece(data + at, len, fds, nfds);
		}
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		at += len;
		serve();
	}

	xtap_vhost_server_disconnect(&server, "end of the fuzz input");
	close(peer);
	peer = -1;
	for (i = 0; i < n_kick; i++)
		close(kick_fds[i]);
	/* Every fd the server took (ring eventfds, memory fds, tap queues) must be closed again. */
	if (count_fds() != fds_before) {
		fprintf(stderr, "vhost_user_fuzz: %d fds open after the input, %d before: the server leaked fds\n",
			count_fds(), fds_before);
		abort();
	}
	if (server.dev.mem.n || server.owned || server.dev.plane_priv) {
		fprintf(stderr, "vhost_user_fuzz: state left after a disconnect (memory regions %u, owned %d)\n",
			server.dev.mem.n, server.owned);
		abort();
	}
	return 0;
}
