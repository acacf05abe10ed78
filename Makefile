# xtap: eBPF/XDP tap datapath. `make help` lists the targets.
CLANG     ?= clang
LLVM_STRIP?= llvm-strip
BPFTOOL   ?= bpftool
CC        ?= gcc
BUILD     := build

ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
BPF_CFLAGS:= -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
             -I. -Iinclude -Ibpf
CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Wextra -Werror -std=gnu11 -Iinclude -Iagent -I$(BUILD)/skel
LDLIBS_BPF:= -lxdp -lbpf -lelf -lz
LDLIBS_AGENT := $(LDLIBS_BPF) -ljson-c -lmnl

BPF_PROGS := from_vm to_vm uplink
BPF_OBJS  := $(patsubst %,$(BUILD)/bpf/%.bpf.o,$(BPF_PROGS))
SKELS     := $(patsubst %,$(BUILD)/skel/%.skel.h,$(BPF_PROGS))
BPF_HDRS  := $(wildcard bpf/*.h) include/xtap_abi.h vmlinux.h

AGENT_LIB_SRCS := agent/err.c agent/datapath.c agent/policy.c agent/attach.c agent/netdev.c agent/model.c \
                  agent/state_file.c agent/vhost_proc.c agent/api.c
AGENT_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(AGENT_LIB_SRCS))

TEST_LIB_SRCS  := tests/lib/pktbuild.c tests/lib/sandbox.c
TEST_LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(TEST_LIB_SRCS))
PACKET_TESTS   := $(BUILD)/tests/test_packet
PKTBUILD_TEST  := $(BUILD)/tests/pktbuild_selftest
HOST_TESTS     := $(BUILD)/tests/test_netdev $(BUILD)/tests/test_agent
FUZZ           := $(BUILD)/tests/fuzz
FUZZ_SECONDS   ?= 600

.PHONY: all deps vmlinux demo install test test-packet test-fuzz fuzz test-host test-guest test-vhost bench clean help
all: $(SKELS) $(AGENT_LIB_OBJS) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vmsim $(PACKET_TESTS) $(PKTBUILD_TEST) $(HOST_TESTS) $(FUZZ) $(BUILD)/bench/prog_cost $(BUILD)/bench/control_plane $(BUILD)/bench/throughput \
	$(BUILD)/bench/rate_accuracy $(BUILD)/xtap-vhost $(BUILD)/tests/test_userspace_plane $(BUILD)/tests/test_vhost

help:
	@echo "make            build BPF programs, skeletons, agent library, tests"
	@echo "make demo       xtapd, taps and simulated VMs in namespaces (bash tools/demo.sh --clean removes it)"
	@echo "make deps       install the Debian packages (idempotent)"
	@echo "make test       every test tier this machine can run"
	@echo "make test-packet  tier 1: BPF_PROG_TEST_RUN packet tests"
	@echo "make test-fuzz  tier 1b: 55 s of generated frames through the programs, against a reference model"
	@echo "make fuzz       the same for FUZZ_SECONDS (default 600); FUZZ_SEED=S replays a seed"
	@echo "make test-host  tier 2: real xtapd/xtapctl, taps, veth uplink, in namespaces"
	@echo "make test-guest tier 3: Debian-kernel guests under QEMU (TCG) on xtap taps"
	@echo "make test-vhost tier 4: vhost-user here (userspace plane), real vhost-net in a QEMU (TCG) VM"
	@echo "make install    xtapd, xtap-vhost, xtapctl, bash completion, systemd unit, default config"
	@echo "make vmlinux    regenerate vmlinux.h from the running kernel"

deps:
	bash tools/install-deps.sh

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

# BPF objects keep BTF (bpftool map dump prints field names) but not DWARF.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/agent/%.o: agent/%.c $(SKELS) $(wildcard agent/*.h) include/xtap_abi.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/xtapd: $(BUILD)/agent/xtapd.o $(AGENT_LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_AGENT)

$(BUILD)/xtapctl: tools/xtapctl.c tools/xtapctl_maps.c tools/xtapctl_maps.h $(BUILD)/agent/model.o $(BUILD)/agent/err.o \
		$(wildcard agent/*.h) include/xtap_abi.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools -o $@ tools/xtapctl.c tools/xtapctl_maps.c $(BUILD)/agent/model.o \
		$(BUILD)/agent/err.o -lbpf -ljson-c

# One vhost-user server per port (agent/vhost_dev.h); no libbpf: it never touches the BPF side.
VHOST_SRCS := agent/xtap_vhost.c agent/vhost_user.c agent/vhost_mem.c agent/vhost_guard.c \
              agent/vhost_net.c agent/vhost_userspace.c agent/netdev.c agent/err.c
$(BUILD)/xtap-vhost: $(VHOST_SRCS) $(wildcard agent/*.h) include/xtap_abi.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(VHOST_SRCS) -ljson-c -lmnl

# --vhost-user plays the VM with the tests' virtio driver (tests/vhost/frontend.c).
$(BUILD)/xtap-vmsim: tools/vmsim.c tools/vmsim_vhost.c tests/lib/pktbuild.c tests/lib/pktbuild.h \
		tests/vhost/frontend.c tests/vhost/frontend.h agent/vhost_user_proto.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/vhost -o $@ tools/vmsim.c tools/vmsim_vhost.c tests/lib/pktbuild.c \
		tests/vhost/frontend.c

# xtapd, taps and simulated VMs in network namespaces; bash tools/demo.sh --clean removes it.
demo:
	bash tools/demo.sh

$(BUILD)/tests/lib/%.o: tests/lib/%.c $(wildcard tests/lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -c $< -o $@

$(BUILD)/tests/test_packet: $(wildcard tests/packet/*.c) $(wildcard tests/packet/*.h) \
		$(AGENT_LIB_OBJS) $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/packet -o $@ $(wildcard tests/packet/*.c) \
		$(AGENT_LIB_OBJS) $(TEST_LIB_OBJS) $(LDLIBS_AGENT) -lcmocka

# Tier 1b: the differential fuzzer (tests/fuzz/): its model shares no code with bpf/.
FUZZ_SRCS := tests/fuzz/run.c tests/fuzz/gen.c tests/fuzz/model.c tests/fuzz/world.c
$(FUZZ): $(FUZZ_SRCS) $(wildcard tests/fuzz/*.h) $(AGENT_LIB_OBJS) $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/fuzz -o $@ $(FUZZ_SRCS) $(AGENT_LIB_OBJS) $(TEST_LIB_OBJS) $(LDLIBS_AGENT)

FUZZ_RUN = $(FUZZ) --regress tests/fuzz/regress $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

test-fuzz: deps
	$(MAKE) $(FUZZ)
	tests/run.sh fuzz "$(FUZZ_RUN) --seconds 55"

fuzz: deps
	$(MAKE) $(FUZZ)
	tests/run.sh fuzz "$(FUZZ_RUN) --seconds $(FUZZ_SECONDS)"

$(BUILD)/bench/bpf/%.bpf.o: bench/bpf/%.bpf.c vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@

$(BUILD)/skel/bench_%.skel.h: $(BUILD)/bench/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/bench/prog_cost: bench/prog_cost.c $(BUILD)/skel/bench_bare.skel.h $(AGENT_LIB_OBJS) \
		$(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(AGENT_LIB_OBJS) $(BUILD)/tests/lib/pktbuild.o \
		$(BUILD)/tests/lib/sandbox.o $(LDLIBS_AGENT)

# Helpers the benchmarks share (now_s, die, sh, xctl, stats...); its xtapctl calls go through agent_env's ctl().
BENCH_UTIL := $(BUILD)/bench/bench_util.o
$(BENCH_UTIL): bench/bench_util.c bench/bench_util.h tests/host/agent_env.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -c $< -o $@

$(BUILD)/bench/control_plane: bench/control_plane.c tests/host/agent_env.c tests/host/agent_env.h \
		$(BENCH_UTIL) $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/control_plane.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c

$(BUILD)/bench/throughput: bench/throughput.c tests/host/agent_env.c tests/host/agent_env.h $(BENCH_UTIL) \
		$(BUILD)/skel/bench_bare.skel.h $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/throughput.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c -lpthread

$(BUILD)/bench/rate_accuracy: bench/rate_accuracy.c tests/host/agent_env.c tests/host/agent_env.h \
		$(BENCH_UTIL) $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/rate_accuracy.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c -lpthread

# Benchmarks, not tests: tables measured in one run (bench/README.md explains them). Each program's
# output also goes to $(BUILD)/bench/NAME.log (pipefail: a program that fails fails the target); the
# last lines are the headline lines of this run, rate-accuracy's then the four of the issue, in order.
BENCH_LOG = bash -o pipefail -c 'stdbuf -oL "$$@" | tee $(BUILD)/bench/$$0.log'
bench: deps
	$(MAKE) $(BUILD)/bench/prog_cost $(BUILD)/bench/control_plane $(BUILD)/bench/throughput \
		$(BUILD)/bench/rate_accuracy $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost
	rm -f $(BUILD)/bench/rate_accuracy.log $(BUILD)/bench/prog_cost.log $(BUILD)/bench/control_plane.log \
		$(BUILD)/bench/throughput.log
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) rate_accuracy $(BUILD)/bench/rate_accuracy
	$(BENCH_LOG) prog_cost $(BUILD)/bench/prog_cost
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) control_plane $(BUILD)/bench/control_plane
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) throughput $(BUILD)/bench/throughput
	@echo; echo "headlines (this run; logs in $(BUILD)/bench/*.log):"
	@grep -m1 '^headline rate-accuracy ' $(BUILD)/bench/rate_accuracy.log
	@for h in throughput:guest-tx-64 throughput:guest-tx-1514 prog_cost:prog-cost prog_cost:scale-4096; do \
		grep -m1 "^headline $${h#*:} " $(BUILD)/bench/$${h%%:*}.log || { echo "no $${h#*:} headline" >&2; exit 1; }; \
	done

# The test of the tests' packet builder: known-good frames and checksums.
$(PKTBUILD_TEST): tests/lib/pktbuild_selftest.c $(BUILD)/tests/lib/pktbuild.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $^

$(BUILD)/tests/test_netdev: tests/host/test_netdev.c $(AGENT_LIB_OBJS) $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(AGENT_LIB_OBJS) $(TEST_LIB_OBJS) $(LDLIBS_AGENT) -lcmocka

$(BUILD)/tests/test_agent: tests/host/test_agent.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_agent.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka -lpthread

# The userspace vhost data plane alone: the test is the guest driver, a socketpair the tap.
$(BUILD)/tests/test_userspace_plane: tests/vhost/test_userspace_plane.c agent/vhost_userspace.c \
		agent/vhost_mem.c agent/vhost_guard.c agent/err.c $(wildcard agent/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ tests/vhost/test_userspace_plane.c agent/vhost_userspace.c \
		agent/vhost_mem.c agent/vhost_guard.c agent/err.c -lcmocka

# Tier 2/4: vhost-user and the vhost-net hand-off with our own virtio driver (tests/vhost/frontend.c).
$(BUILD)/tests/test_vhost: tests/vhost/test_vhost.c tests/vhost/frontend.c tests/vhost/frontend.h \
		agent/vhost_user_proto.h tests/host/agent_env.c tests/host/agent_env.h tests/host/agent_ctl.c \
		tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -Itests/vhost -o $@ tests/vhost/test_vhost.c \
		tests/vhost/frontend.c tests/host/agent_env.c tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

test-packet: deps
	$(MAKE) $(PACKET_TESTS) $(PKTBUILD_TEST)
	tests/run.sh pktbuild $(PKTBUILD_TEST) packet $(PACKET_TESTS)

# Tier 2: the real xtapd and xtapctl in a sandbox (network + mount namespaces).
test-host: deps
	$(MAKE) $(HOST_TESTS) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost $(BUILD)/xtap-vmsim
	tests/run.sh netdev $(BUILD)/tests/test_netdev agent "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_agent"

# Tier 3: real Linux guests under QEMU on xtap ports (tests/guest/; kernel cached in /var/cache/xtap-guest).
test-guest: deps
	$(MAKE) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost
	tests/run.sh guest "XTAP_BUILD=$(BUILD) bash tests/guest/run.sh"

# Tier 4: test_vhost on this host (no /dev/vhost-net: the userspace plane), then in a Debian-kernel
# VM with the real vhost-net, libxdp's dispatcher and clsact (tests/vhost/run-vm.sh; same kernel cache).
test-vhost: deps
	$(MAKE) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost $(BUILD)/xtap-vmsim $(BUILD)/tests/test_vhost \
		$(BUILD)/tests/test_userspace_plane
	tests/run.sh vhost-plane $(BUILD)/tests/test_userspace_plane vhost "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_vhost" \
		vhost-vm "XTAP_BUILD=$(BUILD) bash tests/vhost/run-vm.sh"

test: deps
	$(MAKE) all
	tests/run.sh pktbuild $(PKTBUILD_TEST) packet $(PACKET_TESTS) fuzz "$(FUZZ_RUN) --seconds 55" vhost-plane $(BUILD)/tests/test_userspace_plane \
		netdev $(BUILD)/tests/test_netdev agent "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_agent" \
		vhost "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_vhost" guest "XTAP_BUILD=$(BUILD) bash tests/guest/run.sh" \
		vhost-vm "XTAP_BUILD=$(BUILD) bash tests/vhost/run-vm.sh"

PREFIX ?= /usr/local
install: all
	install -D -m 755 $(BUILD)/xtapd $(DESTDIR)$(PREFIX)/sbin/xtapd
	install -D -m 755 $(BUILD)/xtapctl $(DESTDIR)$(PREFIX)/sbin/xtapctl
	install -D -m 755 $(BUILD)/xtap-vhost $(DESTDIR)$(PREFIX)/sbin/xtap-vhost
	install -D -m 644 tools/xtapctl.bash-completion $(DESTDIR)/usr/share/bash-completion/completions/xtapctl
	install -D -m 644 tools/xtapd.service $(DESTDIR)/etc/systemd/system/xtapd.service
	test -e $(DESTDIR)/etc/xtap/xtapd.json || install -D -m 644 tools/xtapd.json $(DESTDIR)/etc/xtap/xtapd.json

clean:
	rm -rf $(BUILD)
