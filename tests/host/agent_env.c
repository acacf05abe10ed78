// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent_env.h"
#include "pktbuild.h"
#include "sandbox.h"

static pid_t agent_pid;
const char *env_agent_option;
const char *env_agent_config = "{}";
static int out_fd = -1;
uint8_t env_out_mac[6];

static const char *build_dir(void)
{
	const char *b = getenv("XTAP_BUILD");

	return b ? b : "build";
}

static int run(const char *cmd)
{
	int ret = system(cmd);

	if (ret)
		fprintf(stderr, "env: \"%s\" failed (%d)\n", cmd, ret);
	return ret;
}

/* veth only transmits XDP redirects into a peer that runs NAPI: an XDP program gives it one. */
static int out_enable_napi(int ifindex)
{
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "out_pass", "GPL", prog, 2, NULL);

	if (fd < 0)
		return -1;
	return bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
}

int env_uplink_create(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr = {};

	if (out_fd >= 0)
		close(out_fd);
	out_fd = -1;
	if (run("ip link add uplink0 type veth peer name out0") || run("ip link set uplink0 up") ||
	    run("ip link set out0 up"))
		return -1;
	if (out_enable_napi(if_nametoindex("out0"))) {
		perror("env: XDP on out0");
		return -1;
	}
	out_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	sll.sll_ifindex = if_nametoindex("out0");
	if (out_fd < 0 || bind(out_fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("env: packet socket on out0");
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "out0");
	ioctl(out_fd, SIOCGIFHWADDR, &ifr);
	memcpy(env_out_mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

int env_setup(void)
{
	return env_setup_sandbox() ? -1 : env_agent_start() > 0 ? 0 : -1;
}

int env_setup_sandbox(void)
{
	FILE *cfg;

	if (sandbox_enter())
		return -1;
	/* A private /run: nothing of ours lands on the host's. */
	if (mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") || mkdir("/run/xtap-test", 0700)) {
		perror("env: a private /run");
		return -1;
	}
	mkdir(ENV_PINS, 0700);
	cfg = fopen("/run/xtap-test/xtapd.json", "w");
	if (!cfg || fputs(env_agent_config, cfg) < 0 || fclose(cfg) || env_uplink_create())
		return -1;
	return 0;
}

/*
 * xtapd's per-port xtap-vhost processes outlive it on purpose (they belong
 * to init): the test kills the ones its agent started, found by their status
 * files, whose pid must still be an xtap-vhost.
 */
void env_vhost_kill_all(void)
{
	char cmdline[64];
	glob_t g;
	size_t i;

	if (glob(ENV_VHOST_DIR "/*.json", 0, NULL, &g))
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		char buf[4096], path[64], *p;
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		int pid, fd;

		if (f)
			fclose(f);
		buf[n] = 0;
		p = strstr(buf, "\"pid\"");
		if (!p || sscanf(p, "\"pid\" : %d", &pid) != 1 || pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? (size_t)read(fd, cmdline, sizeof(cmdline) - 1) : 0;
		if (fd >= 0)
			close(fd);
		cmdline[n < sizeof(cmdline) ? n : 0] = 0;
		if (strstr(cmdline, "xtap-vhost"))
			kill(pid, SIGKILL);
	}
	globfree(&g);
}

void env_teardown(void)
{
	env_agent_kill();
	env_vhost_kill_all();
	if (out_fd >= 0)
		close(out_fd);
}

static int agent_ready(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ENV_SOCK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

pid_t env_agent_spawn(void)
{
	char path[256];
	int log;

	snprintf(path, sizeof(path), "%s/xtapd", build_dir());
	agent_pid = fork();
	if (agent_pid == 0) {
		/* Dies with the thread that forked it: spawn from the main thread. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		log = open(ENV_LOG, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(log, 2);
		dup2(log, 1);
		execl(path, "xtapd", "-s", ENV_SOCK, "--state", ENV_STATE, "--pin-dir", ENV_PINS,
		      "-c", "/run/xtap-test/xtapd.json", env_agent_option, (char *)NULL);
		_exit(127);
	}
	return agent_pid;
}

pid_t env_agent_wait_ready(void)
{
	int i, status;

	for (i = 0; i < 1200; i++) {
		if (agent_ready())
			return agent_pid;
		if (waitpid(agent_pid, &status, WNOHANG) == agent_pid) {
			fprintf(stderr, "env: xtapd exited at start (see %s)\n", ENV_LOG);
			run("cat " ENV_LOG " >&2");
			return -1;
		}
		usleep(50000);
	}
	fprintf(stderr, "env: xtapd did not open its socket in 60 s\n");
	return -1;
}

pid_t env_agent_start(void)
{
	return env_agent_spawn() > 0 ? env_agent_wait_ready() : -1;
}

void env_agent_kill(void)
{
	if (agent_pid > 0) {
		kill(agent_pid, SIGKILL);
		waitpid(agent_pid, NULL, 0);
	}
	agent_pid = 0;
}

pid_t env_agent_pid(void)
{
	return agent_pid;
}

int ctl(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024], bin[256], *argv[64], *save, *tok;
	int pipefd[2], argc = 0, status;
	size_t got = 0;
	ssize_t n;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(bin, sizeof(bin), "%s/xtapctl", build_dir());
	argv[argc++] = bin;
	argv[argc++] = "-s";
	argv[argc++] = ENV_SOCK;
	for (tok = strtok_r(cmd, " ", &save); tok && argc < 63; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(bin, argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (out && got + 1 < len && (n = read(pipefd[0], out + got, len - got - 1)) > 0)
		got += n;
	if (out)
		out[got] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int vm_open(struct vm *v)
{
	struct ifreq ifr = {};
	int hdr = 12;

	v->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (v->fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", v->name);
	if (ioctl(v->fd, TUNSETIFF, &ifr) || ioctl(v->fd, TUNSETVNETHDRSZ, &hdr)) {
		close(v->fd);
		v->fd = -1;
		return -1;
	}
	return 0;
}

void vm_close(struct vm *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

int vm_write(struct vm *v, const void *vnet, const uint8_t *frame, size_t len)
{
	static const uint8_t zero[12];
	struct iovec iov[2] = { { (void *)(vnet ? vnet : zero), 12 }, { (void *)frame, len } };

	return writev(v->fd, iov, 2) == (ssize_t)(len + 12) ? 0 : -1;
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

int vm_read(struct vm *v, uint8_t *buf, size_t cap, uint8_t vnet[12], int timeout_ms)
{
	uint8_t hdr[12];
	struct iovec iov[2] = { { hdr, 12 }, { buf, cap } };
	ssize_t n;

	if (!wait_readable(v->fd, timeout_ms))
		return -1;
	n = readv(v->fd, iov, 2);
	if (n < 12)
		return -1;
	if (vnet)
		memcpy(vnet, hdr, 12);
	return n - 12;
}

int vm_count(struct vm *v, int timeout_ms)
{
	static uint8_t buf[65536];
	int n = 0;

	while (vm_read(v, buf, sizeof(buf), NULL, timeout_ms) >= 0)
		n++;
	return n;
}

void vm_tcp4_gso(struct pkt *p, struct virtio_net_hdr_v1 *h, const struct vm *a, const struct vm *b,
		 size_t payload, uint16_t mss)
{
	pkt_init(p);
	pkt_eth(p, b->mac, a->mac, ETH_P_IP);
	pkt_ipv4(p, a->ip4, b->ip4, IPPROTO_TCP);
	pkt_tcp(p, 40000, 5000, PKT_TCP_ACK, payload);
	pkt_finish(p);
	pkt_set_partial_csum(p);
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = mss;
	h->hdr_len = p->l4_off + 20;
	h->csum_start = p->l4_off;
	h->csum_offset = 16;
}

int out_write(const uint8_t *frame, size_t len)
{
	return send(out_fd, frame, len, 0) == (ssize_t)len ? 0 : -1;
}

int out_read(uint8_t *buf, size_t cap, int timeout_ms)
{
	struct sockaddr_ll from;
	socklen_t fl = sizeof(from);
	struct timespec start, now;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - (int)((now.tv_sec - start.tv_sec) * 1000 +
					  (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left < 0 || !wait_readable(out_fd, left))
			return -1;
		n = recvfrom(out_fd, buf, cap, 0, (struct sockaddr *)&from, &fl);
		/* The socket also sees what the outside itself sends. */
		if (n >= 0 && from.sll_pkttype != PACKET_OUTGOING)
			return n;
	}
}

int out_count(int timeout_ms)
{
	static uint8_t buf[65536];
	int n = 0;

	while (out_read(buf, sizeof(buf), timeout_ms) >= 0)
		n++;
	return n;
}

int env_socket_in(int ns_fd, int type)
{
	int self, fd, err;

	if (ns_fd < 0)
		return socket(AF_INET, type | SOCK_CLOEXEC, 0);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	if (setns(ns_fd, CLONE_NEWNET)) {
		close(self);
		return -1;
	}
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	err = errno;
	/* Back home, or every later socket of this thread would be the VM's. */
	if (setns(self, CLONE_NEWNET))
		abort();
	close(self);
	errno = err;
	return fd;
}
