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
CFLAGS    += -Wall -Wextra -Werror -std=gnu11 -Iinclude -Iagent/lib -I$(BUILD)/skel
LDLIBS_BPF:= -lxdp -lbpf -lelf -lz
LDLIBS_AGENT := $(LDLIBS_BPF) -ljson-c -lmnl -lsystemd -lcurl -lpthread

BPF_PROGS := from_vm to_vm uplink
BPF_OBJS  := $(patsubst %,$(BUILD)/bpf/%.bpf.o,$(BPF_PROGS))
SKELS     := $(patsubst %,$(BUILD)/skel/%.skel.h,$(BPF_PROGS))
# xtapctl trace's variants (bpf/trace.h): the VM-side programs built with XTAP_TRACE_BUILD
TRACE_PROGS := from_vm_trace to_vm_trace
SKELS     += $(patsubst %,$(BUILD)/skel/%.skel.h,$(TRACE_PROGS))
BPF_HDRS  := $(wildcard bpf/*.h) include/xtap_abi.h vmlinux.h

# agent/lib: what xtapd, xtap-vhost and xtapctl share; agent/xtapd and agent/vhost: the two daemons.
SHARED_LIB_SRCS := agent/lib/err.c agent/lib/log.c agent/lib/netdev.c agent/lib/model.c agent/lib/model_overlay.c agent/lib/ctl_commands.c \
                   agent/lib/lock.c agent/lib/fault.c agent/lib/etcd.c agent/lib/announce.c agent/lib/validate.c
XTAPD_SRCS     := agent/xtapd/datapath.c agent/xtapd/map_txn.c agent/xtapd/policy.c agent/xtapd/attach.c agent/xtapd/state_file.c \
                  agent/xtapd/vhost_proc.c agent/xtapd/vhost_access.c agent/xtapd/api.c agent/xtapd/realize.c agent/xtapd/cmd_args.c \
                  agent/xtapd/cmd_port.c agent/xtapd/cmd_addr.c agent/xtapd/cmd_acl.c agent/xtapd/cmd_rate.c \
                  agent/xtapd/cmd_segment.c agent/xtapd/cmd_overlay.c agent/xtapd/cmd_status.c \
                  agent/xtapd/request.c agent/xtapd/event_loop.c agent/xtapd/metrics.c agent/xtapd/metrics_server.c \
                  agent/xtapd/service.c agent/xtapd/conntrack.c agent/xtapd/cmd_conntrack.c \
                  agent/xtapd/cmd_trace.c agent/xtapd/trace.c agent/xtapd/frame_spec.c agent/xtapd/fleet.c agent/xtapd/fleet_apply.c
# the map writer: policy.c composes one maps_*.c per concern (agent/xtapd/maps.h)
XTAPD_SRCS     += agent/xtapd/map_io.c agent/xtapd/maps_prefix.c agent/xtapd/maps_port.c agent/xtapd/maps_addr.c \
                  agent/xtapd/maps_acl.c agent/xtapd/maps_acl_hits.c agent/xtapd/maps_rate.c agent/xtapd/maps_segment.c \
                  agent/xtapd/maps_overlay.c
AGENT_LIB_SRCS := $(SHARED_LIB_SRCS) $(XTAPD_SRCS)
AGENT_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(AGENT_LIB_SRCS))
XTAPD_INC      := -Iagent/xtapd
VHOST_INC      := -Iagent/vhost
AGENT_HDRS     := $(wildcard agent/*/*.h) $(wildcard include/*.h)

TEST_LIB_SRCS  := tests/lib/pktbuild.c tests/lib/sandbox.c
TEST_LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(TEST_LIB_SRCS))
PACKET_TESTS   := $(BUILD)/tests/test_packet
PKTBUILD_TEST  := $(BUILD)/tests/pktbuild_selftest
HOST_TESTS     := $(BUILD)/tests/test_netdev $(BUILD)/tests/test_agent $(BUILD)/tests/test_validation \
                  $(BUILD)/tests/test_lifecycle $(BUILD)/tests/test_agent_stall $(BUILD)/tests/test_atomic \
                  $(BUILD)/tests/test_metrics $(BUILD)/tests/test_service $(BUILD)/tests/test_conntrack \
                  $(BUILD)/tests/test_observe \
                  $(BUILD)/tests/test_overlay
PKT_FUZZ       := $(BUILD)/tests/fuzz
FUZZ_SECONDS   ?= 600

.PHONY: all deps vmlinux demo install man deb deb-test-pkgs test-deb test test-packet test-fuzz fuzz test-host test-conntrack test-fleet test-guest test-vhost test-libvirt bench clean help
all: $(SKELS) $(AGENT_LIB_OBJS) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vmsim $(PACKET_TESTS) $(PKTBUILD_TEST) $(HOST_TESTS) $(PKT_FUZZ) $(BUILD)/bench/prog_cost $(BUILD)/bench/control_plane $(BUILD)/bench/throughput \
	$(BUILD)/bench/rate_accuracy $(BUILD)/xtap-vhost $(BUILD)/tests/test_userspace_plane $(BUILD)/tests/test_vhost $(BUILD)/tests/test_etcd \
	$(BUILD)/bench/vhost_memory $(BUILD)/bench/kernel_path

help:
	@echo "make            build BPF programs, skeletons, agent library, tests"
	@echo "make demo       xtapd, taps and simulated VMs in namespaces (bash tools/demo.sh --clean removes it)"
	@echo "make deps       install the Debian packages (idempotent)"
	@echo "make test       every test tier this machine can run"
	@echo "make test-packet  tier 1: BPF_PROG_TEST_RUN packet tests"
	@echo "make test-fuzz  tier 1b: 55 s of generated frames through the programs, against a reference model"
	@echo "make fuzz       the same for FUZZ_SECONDS (default 600); FUZZ_SEED=S replays a seed"
	@echo "make test-host  tier 2: real xtapd/xtapctl, taps, veth uplink, in namespaces"
	@echo "make test-fleet xtapd --etcd: etcd and three hosts in namespaces, desired state from etcd"
	@echo "make test-guest tier 3: Debian-kernel guests under QEMU (TCG) on xtap taps"
	@echo "make test-vhost tier 4: vhost-user here (userspace plane), real vhost-net in a QEMU (TCG) VM"
	@echo "make test-libvirt  guests under its own libvirtd: a vhostuser and an ethernet domain on xtap ports"
	@echo "make test-libfuzzer  the libFuzzer targets, 30 s each (tests/libfuzzer/); make fuzz: longer, corpus merged"
	@echo "make install    xtapd, xtap-vhost, xtapctl, man pages, bash completion, systemd unit, default config"
	@echo "make man        the man pages (scdoc): build/man/"
	@echo "make deb        the Debian package: build/deb/xtap_VERSION_ARCH.deb (DEB_VERSION=...)"
	@echo "make test-deb   the package installed, upgraded under traffic and purged in a private namespace"
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

$(BUILD)/bpf/%_trace.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -DXTAP_TRACE_BUILD -c $< -o $@
	$(LLVM_STRIP) -g $@

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/agent/lib/%.o: agent/lib/%.c $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/agent/xtapd/%.o: agent/xtapd/%.c $(SKELS) $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XTAPD_INC) -c $< -o $@

$(BUILD)/xtapd: $(BUILD)/agent/xtapd/xtapd.o $(BUILD)/agent/xtapd/ctl_server.o $(BUILD)/agent/xtapd/agent_worker.o \
		$(AGENT_LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_AGENT)

# monitor and capture: xtapctl_observe.c (events), frame_summary.c (headers), pcapng.c (the file)
XTAPCTL_SRCS := tools/xtapctl.c tools/xtapctl_maps.c tools/xtapctl_observe.c tools/frame_summary.c tools/pcapng.c
# xtapctl --etcd checks what it writes with the validation xtapd runs (agent/lib/validate.c).
XTAPCTL_OBJS := $(BUILD)/agent/lib/model.o $(BUILD)/agent/lib/model_overlay.o $(BUILD)/agent/lib/err.o $(BUILD)/agent/lib/ctl_commands.o \
		$(BUILD)/agent/lib/lock.o $(BUILD)/agent/lib/etcd.o $(BUILD)/agent/lib/validate.o $(BUILD)/tools/xtapctl_etcd.o
$(BUILD)/tools/xtapctl_etcd.o: tools/xtapctl_etcd.c tools/xtapctl_etcd.h $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools -c $< -o $@
$(BUILD)/xtapctl: $(XTAPCTL_SRCS) $(wildcard tools/*.h) $(XTAPCTL_OBJS) $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools -o $@ $(XTAPCTL_SRCS) $(XTAPCTL_OBJS) -lbpf -ljson-c -lcurl

# One vhost-user server per port (agent/vhost/vhost_dev.h); no libbpf: it never touches the BPF side.
# Linked statically (and non-PIE), unused sections dropped: one process per port, and what each one
# costs is its private memory. No ld.so, no relocated copies of libc's tables, fewer mappings and page
# tables (docs/vhost.md, "Memory per port"). libmnl is not needed: netdev.c's netlink code is dropped.
VHOST_SRCS := agent/vhost/xtap_vhost.c agent/vhost/vhost_user.c agent/vhost/vhost_mem.c agent/vhost/vhost_guard.c \
              agent/vhost/vhost_net.c agent/vhost/vhost_userspace.c agent/lib/netdev.c agent/lib/fault.c agent/lib/err.c agent/lib/log.c
VHOST_LDFLAGS := -static -no-pie -ffunction-sections -fdata-sections -Wl,--gc-sections
$(BUILD)/xtap-vhost: $(VHOST_SRCS) $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VHOST_INC) $(VHOST_LDFLAGS) -o $@ $(VHOST_SRCS) -ljson-c

# --vhost-user plays the VM with the tests' virtio driver (tests/vhost/frontend.c).
$(BUILD)/xtap-vmsim: tools/vmsim.c tools/vmsim_vhost.c tests/lib/pktbuild.c tests/lib/pktbuild.h \
		tests/vhost/frontend.c tests/vhost/frontend.h agent/vhost/vhost_user_proto.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VHOST_INC) -Itests/lib -Itests/vhost -o $@ tools/vmsim.c tools/vmsim_vhost.c tests/lib/pktbuild.c \
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
	$(CC) $(CFLAGS) $(XTAPD_INC) -Itests/lib -Itests/packet -o $@ $(wildcard tests/packet/*.c) \
		$(AGENT_LIB_OBJS) $(TEST_LIB_OBJS) $(LDLIBS_AGENT) -lcmocka

# Tier 1b: the differential fuzzer (tests/fuzz/): its model shares no code with bpf/.
PKT_FUZZ_SRCS := tests/fuzz/run.c tests/fuzz/gen.c tests/fuzz/model.c tests/fuzz/world.c
$(PKT_FUZZ): $(PKT_FUZZ_SRCS) $(wildcard tests/fuzz/*.h) $(AGENT_LIB_OBJS) $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XTAPD_INC) -Itests/lib -Itests/fuzz -o $@ $(PKT_FUZZ_SRCS) $(AGENT_LIB_OBJS) $(TEST_LIB_OBJS) \
		$(LDLIBS_AGENT)

PKT_FUZZ_RUN = $(PKT_FUZZ) --regress tests/fuzz/regress $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

test-fuzz: deps
	$(MAKE) $(PKT_FUZZ)
	tests/run.sh fuzz "$(PKT_FUZZ_RUN) --seconds 55"

$(BUILD)/bench/bpf/%.bpf.o: bench/bpf/%.bpf.c $(wildcard bench/bpf/*.h) vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@

$(BUILD)/skel/bench_%.skel.h: $(BUILD)/bench/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/bench/prog_cost: bench/prog_cost.c $(BUILD)/skel/bench_bare.skel.h $(AGENT_LIB_OBJS) \
		$(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XTAPD_INC) -Itests/lib -o $@ $< $(AGENT_LIB_OBJS) $(BUILD)/tests/lib/pktbuild.o \
		$(BUILD)/tests/lib/sandbox.o $(LDLIBS_AGENT) -lpthread

# Helpers the benchmarks share (now_s, die, sh, xctl, stats...); its xtapctl calls go through agent_env's ctl().
BENCH_UTIL := $(BUILD)/bench/bench_util.o
$(BENCH_UTIL): bench/bench_util.c bench/bench_util.h tests/host/agent_env.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -c $< -o $@

# What the datapath benchmarks share: the frame, taps, xtapd's ports and policy, the classic peers' rules.
BENCH_NET := $(BUILD)/bench/bench_net.o
$(BENCH_NET): bench/bench_net.c bench/bench_net.h bench/bench_util.h tests/host/agent_env.h tests/lib/pktbuild.h \
		tests/lib/sandbox.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -c $< -o $@

$(BUILD)/bench/control_plane: bench/control_plane.c tests/host/agent_env.c tests/host/agent_env.h \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/control_plane.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c

$(BUILD)/bench/throughput: bench/throughput.c tests/host/agent_env.c tests/host/agent_env.h $(BENCH_UTIL) $(BENCH_NET) \
		$(BUILD)/skel/bench_bare.skel.h $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/throughput.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BENCH_NET) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c -lpthread

# Frames pushed into the kernel's real paths by BPF_PROG_TEST_RUN in live-frames mode (no syscall per frame).
$(BUILD)/bench/kernel_path: bench/kernel_path.c tests/host/agent_env.c tests/host/agent_env.h $(BENCH_UTIL) $(BENCH_NET) \
		$(BUILD)/skel/bench_bare.skel.h $(BUILD)/skel/bench_xmit_count.skel.h bench/bpf/xmit_count.h \
		$(BUILD)/tests/lib/pktbuild.o \
		$(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/kernel_path.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BENCH_NET) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c

# Not in `make bench` (slow to set up): cross-host VM->VM over VXLAN, xtap vs kernel vxlan + bridge.
$(BUILD)/bench/overlay_throughput: bench/overlay_throughput.c tests/host/agent_env.c tests/host/agent_env.h \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -Ibench -o $@ bench/overlay_throughput.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c

# Memory per port of vhost-user serving: N xtap-vhost processes alone, then N ports through xtapd.
$(BUILD)/bench/vhost_memory: bench/vhost_memory.c tests/host/agent_env.c tests/host/agent_env.h \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/vhost_memory.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c

$(BUILD)/bench/rate_accuracy: bench/rate_accuracy.c tests/host/agent_env.c tests/host/agent_env.h \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ bench/rate_accuracy.c tests/host/agent_env.c \
		$(BENCH_UTIL) $(BUILD)/tests/lib/pktbuild.o $(BUILD)/tests/lib/sandbox.o -lbpf -ljson-c -lpthread

# Benchmarks, not tests: tables measured in one run (bench/README.md explains them). Each program's
# output also goes to $(BUILD)/bench/NAME.log (pipefail: a program that fails fails the target); the
# last lines are the headline lines of this run: rate-accuracy's, the kernel paths' (no syscall per
# frame), then as a VMM writes a tap, program cost, scale, vhost memory.
BENCH_LOG = bash -o pipefail -c 'stdbuf -oL "$$@" | tee $(BUILD)/bench/$$0.log'
BENCH_PROGS := rate_accuracy prog_cost control_plane throughput kernel_path vhost_memory
bench: deps
	$(MAKE) $(BENCH_PROGS:%=$(BUILD)/bench/%) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost
	rm -f $(BENCH_PROGS:%=$(BUILD)/bench/%.log)
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) rate_accuracy $(BUILD)/bench/rate_accuracy
	$(BENCH_LOG) prog_cost $(BUILD)/bench/prog_cost
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) control_plane $(BUILD)/bench/control_plane
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) throughput $(BUILD)/bench/throughput
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) kernel_path $(BUILD)/bench/kernel_path
	XTAP_BUILD=$(BUILD) $(BENCH_LOG) vhost_memory $(BUILD)/bench/vhost_memory
	@echo; echo "headlines (this run; logs in $(BUILD)/bench/*.log):"
	@grep -m1 '^headline rate-accuracy ' $(BUILD)/bench/rate_accuracy.log
	@for h in kernel_path:kernel-64 kernel_path:kernel-1514 kernel_path:kernel-up-64 kernel_path:kernel-up-1514 \
		throughput:vmm-write-64 throughput:vmm-write-1514 prog_cost:prog-cost prog_cost:scale-4096 \
		vhost_memory:vhost-memory-per-port; do \
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

# The Prometheus endpoint, read with python3-prometheus-client's parser (tests/host/prom_parse.py).
$(BUILD)/tests/test_metrics: tests/host/test_metrics.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_metrics.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

# xtapd under a test playing systemd: READY after the reconcile, watchdog, STOPPING, journal priorities.
$(BUILD)/tests/test_service: tests/host/test_service.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_service.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

# Every state-changing command walked step by step with xtapd's fault injection (all-or-nothing).
# The overlay across three hosts (network namespaces, each with its own xtapd).
$(BUILD)/tests/test_overlay: tests/host/test_overlay.c tests/host/agent_env.c tests/host/agent_env.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_overlay.c tests/host/agent_env.c \
		$(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

$(BUILD)/tests/test_atomic: tests/host/test_atomic.c tests/host/agent_env.c tests/host/agent_env.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_atomic.c tests/host/agent_env.c \
		$(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

# What the control socket refuses, and that a refusal changes nothing.
$(BUILD)/tests/test_validation: tests/host/test_validation.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_validation.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka -lpthread

# libFuzzer target for the control requests (tests/libfuzzer/ctl_request_fuzz.c), in the layout of
# tests/libfuzzer/ (run.sh; corpus/NAME/, regress/NAME/): built as $(BUILD)/fuzz/ctl_request_fuzz.
FUZZ_TARGETS += ctl_request
FUZZ_SRCS_ctl_request := agent/xtapd/request.c agent/lib/validate.c agent/lib/ctl_commands.c \
                         agent/lib/model.c agent/lib/model_overlay.c agent/lib/err.c
FUZZ_INC_ctl_request  := $(XTAPD_INC)
FUZZ_LIBS_ctl_request := -ljson-c

# One agent per pin directory and state file; state files that do not load; FILE.prev and --recover-state.
$(BUILD)/tests/test_lifecycle: tests/host/test_lifecycle.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_lifecycle.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

# Stateful ACL rules with real kernel TCP and UDP in namespaces (tests/host/test_conntrack.c).
$(BUILD)/tests/test_conntrack: tests/host/test_conntrack.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_conntrack.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka -lpthread

# monitor and capture against the real datapath; their pcapng read back by tshark and scapy.
$(BUILD)/tests/test_observe: tests/host/test_observe.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h include/xtap_abi.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_observe.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

# libFuzzer target for the state-file loader, parse and checks, no kernel (tests/libfuzzer/state_file_fuzz.c),
# in the layout of tests/libfuzzer/ (run.sh; corpus/NAME/, regress/NAME/): built as $(BUILD)/fuzz/state_file_fuzz.
FUZZ_TARGETS += state_file
FUZZ_SRCS_state_file := agent/xtapd/state_file.c agent/lib/model.c agent/lib/model_overlay.c agent/lib/err.c agent/lib/lock.c agent/lib/log.c \
                        agent/lib/fault.c agent/lib/validate.c
FUZZ_INC_state_file  := $(XTAPD_INC)
FUZZ_LIBS_state_file := -ljson-c

# Faulty clients and 100 port adds while status is timed (xtap_ctl.h: the limits it checks).
$(BUILD)/tests/test_agent_stall: tests/host/test_agent_stall.c tests/host/agent_env.c tests/host/agent_env.h \
		tests/host/agent_ctl.c tests/host/agent_ctl.h include/xtap_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Itests/host -o $@ tests/host/test_agent_stall.c tests/host/agent_env.c \
		tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

# The userspace vhost data plane alone: the test is the guest driver, a socketpair the tap.
$(BUILD)/tests/test_userspace_plane: tests/vhost/test_userspace_plane.c agent/vhost/vhost_userspace.c \
		agent/vhost/vhost_mem.c agent/vhost/vhost_guard.c agent/lib/err.c agent/lib/log.c $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VHOST_INC) -o $@ tests/vhost/test_userspace_plane.c agent/vhost/vhost_userspace.c \
		agent/vhost/vhost_mem.c agent/vhost/vhost_guard.c agent/lib/err.c agent/lib/log.c -lcmocka

# Tier 2/4: vhost-user and the vhost-net hand-off with our own virtio driver (tests/vhost/frontend.c).
$(BUILD)/tests/test_vhost: tests/vhost/test_vhost.c tests/vhost/frontend.c tests/vhost/frontend.h \
		agent/vhost/vhost_user_proto.h tests/host/agent_env.c tests/host/agent_env.h tests/host/agent_ctl.c \
		tests/host/agent_ctl.h $(TEST_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VHOST_INC) -Itests/lib -Itests/host -Itests/vhost -o $@ tests/vhost/test_vhost.c \
		tests/vhost/frontend.c tests/host/agent_env.c tests/host/agent_ctl.c $(TEST_LIB_OBJS) -lbpf -ljson-c -lcmocka

# libFuzzer targets: tests/libfuzzer/NAME_fuzz.c, built with clang -fsanitize=fuzzer,address,undefined
# as $(BUILD)/fuzz/NAME_fuzz. A target adds its name to FUZZ_TARGETS and says what it fuzzes in
# FUZZ_SRCS_NAME (plus FUZZ_INC_NAME, FUZZ_LIBS_NAME); the pattern rule below builds any of them.
# make fuzz-NAME: one target for FUZZ_SECONDS; make test-libfuzzer: every target for 30 s (the fuzz-libfuzzer
# tier of make test); make fuzz: the packet fuzzer, then every target, for FUZZ_SECONDS (default 600) each,
# the targets' finds merged into tests/libfuzzer/corpus/NAME/. Crashes land in tests/libfuzzer/regress/NAME/ and are replayed every run.
FUZZ_CC      ?= clang
FUZZ_CFLAGS  ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Wall -Wextra -Werror -std=gnu11 -Iinclude -Iagent/lib
FUZZ_TARGETS += vhost_user
FUZZ_SRCS_vhost_user := agent/vhost/vhost_user.c agent/vhost/vhost_mem.c agent/vhost/vhost_userspace.c \
                        agent/lib/netdev.c agent/lib/err.c agent/lib/log.c agent/lib/fault.c
FUZZ_INC_vhost_user  := $(VHOST_INC)
FUZZ_LIBS_vhost_user := -lmnl
FUZZ_BINS = $(patsubst %,$(BUILD)/fuzz/%_fuzz,$(FUZZ_TARGETS))

.SECONDEXPANSION:
$(BUILD)/fuzz/%_fuzz: tests/libfuzzer/%_fuzz.c $$(FUZZ_SRCS_$$*) $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC_$*) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS_$*)

.PHONY: fuzz test-libfuzzer
fuzz-%: deps $(BUILD)/fuzz/%_fuzz
	tests/run.sh fuzz-$* "bash tests/libfuzzer/run.sh $(BUILD) $(FUZZ_SECONDS) $*"

test-libfuzzer: deps
	$(MAKE) $(FUZZ_BINS)
	tests/run.sh fuzz-libfuzzer "bash tests/libfuzzer/run.sh $(BUILD) 30 $(FUZZ_TARGETS)"

fuzz: deps
	$(MAKE) $(PKT_FUZZ) $(FUZZ_BINS)
	tests/run.sh fuzz "$(PKT_FUZZ_RUN) --seconds $(FUZZ_SECONDS)" fuzz-libfuzzer "bash tests/libfuzzer/run.sh --merge $(BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)"

test-packet: deps
	$(MAKE) $(PACKET_TESTS) $(PKTBUILD_TEST)
	tests/run.sh pktbuild $(PKTBUILD_TEST) packet $(PACKET_TESTS)

# Tier 2: the real xtapd and xtapctl in a sandbox (network + mount namespaces).
# Only the conntrack part of tier 2.
test-conntrack: deps
	$(MAKE) $(BUILD)/tests/test_conntrack $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost
	tests/run.sh conntrack "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_conntrack"

test-host: deps
	$(MAKE) $(HOST_TESTS) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost $(BUILD)/xtap-vmsim
	tests/run.sh netdev $(BUILD)/tests/test_netdev agent "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_agent" \
		validation "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_validation" \
		lifecycle "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_lifecycle" \
		agent-stall "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_agent_stall" \
		atomic "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_atomic" \
		metrics "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_metrics" \
		service "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_service" \
		conntrack "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_conntrack" \
		observe "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_observe" \
		overlay "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_overlay"

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

$(BUILD)/tests/test_etcd: tests/fleet/test_etcd.c $(BUILD)/agent/lib/etcd.o $(BUILD)/agent/lib/err.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -ljson-c -lcurl -lcmocka

# A fleet run from etcd: etcd and three hosts in namespaces (tests/fleet/run.sh, docs/fleet.md).
test-fleet: deps
	$(MAKE) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vmsim $(BUILD)/tests/test_etcd
	tests/run.sh fleet "XTAP_BUILD=$(BUILD) bash tests/fleet/run.sh"

# The libvirt tier: its own libvirtd in xtapd's namespace, domains on the guest image (tests/libvirt/).
test-libvirt: deps
	$(MAKE) $(BUILD)/xtapd $(BUILD)/xtapctl $(BUILD)/xtap-vhost
	tests/run.sh libvirt "XTAP_BUILD=$(BUILD) bash tests/libvirt/run.sh"

test: deps
	$(MAKE) all $(patsubst %,$(BUILD)/fuzz/%_fuzz,$(FUZZ_TARGETS)) deb-test-pkgs
	tests/run.sh pktbuild $(PKTBUILD_TEST) packet $(PACKET_TESTS) fuzz "$(PKT_FUZZ_RUN) --seconds 55" vhost-plane $(BUILD)/tests/test_userspace_plane \
		netdev $(BUILD)/tests/test_netdev agent "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_agent" \
		validation "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_validation" \
		lifecycle "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_lifecycle" \
		agent-stall "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_agent_stall" \
		atomic "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_atomic" \
		fleet "XTAP_BUILD=$(BUILD) bash tests/fleet/run.sh" \
		overlay "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_overlay" \
		metrics "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_metrics" \
		service "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_service" \
		conntrack "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_conntrack" \
		observe "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_observe" \
		deb "XTAP_BUILD=$(BUILD) bash tests/host/test_deb.sh $(DEB_TEST_PKGS)" vhost "XTAP_BUILD=$(BUILD) $(BUILD)/tests/test_vhost" guest "XTAP_BUILD=$(BUILD) bash tests/guest/run.sh" \
		vhost-vm "XTAP_BUILD=$(BUILD) bash tests/vhost/run-vm.sh" libvirt "XTAP_BUILD=$(BUILD) bash tests/libvirt/run.sh" \
		fuzz-libfuzzer "bash tests/libfuzzer/run.sh $(BUILD) 30 $(FUZZ_TARGETS)"

# Man pages from scdoc sources (docs/man/); xtapctl(8) must have an entry for every command of --help.
MAN_PAGES := $(patsubst docs/man/%.scd,$(BUILD)/man/%,$(wildcard docs/man/*.scd))
man: $(MAN_PAGES)
$(BUILD)/man/%: docs/man/%.scd
	@mkdir -p $(@D)
	scdoc < $< > $@
$(BUILD)/man/xtapctl.8: docs/man/xtapctl.8.scd $(BUILD)/xtapctl tools/man-check.sh
	@mkdir -p $(@D)
	bash tools/man-check.sh $(BUILD)/xtapctl $<
	scdoc < $< > $@

PREFIX ?= /usr/local
# UNITDIR: /etc/systemd/system for a local install, /lib/systemd/system in the package.
UNITDIR ?= /etc/systemd/system
install: all man
	install -D -m 755 $(BUILD)/xtapd $(DESTDIR)$(PREFIX)/sbin/xtapd
	install -D -m 755 $(BUILD)/xtapctl $(DESTDIR)$(PREFIX)/sbin/xtapctl
	install -D -m 755 $(BUILD)/xtap-vhost $(DESTDIR)$(PREFIX)/sbin/xtap-vhost
	for p in $(MAN_PAGES); do s=$${p##*.}; install -D -m 644 $$p $(DESTDIR)$(PREFIX)/share/man/man$$s/$${p##*/}; done
	install -D -m 644 tools/xtapctl.bash-completion $(DESTDIR)/usr/share/bash-completion/completions/xtapctl
	@mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(PREFIX)/sbin|' tools/xtapd.service > $(DESTDIR)$(UNITDIR)/xtapd.service
	test -e $(DESTDIR)/etc/xtap/xtapd.json || install -D -m 644 tools/xtapd.json $(DESTDIR)/etc/xtap/xtapd.json

# The Debian package: make install staged with PREFIX=/usr, then tools/mkdeb.sh (dpkg-shlibdeps, dpkg-deb).
DEB_VERSION ?= 0.1.0+git$(shell git rev-list --count HEAD 2>/dev/null || echo 0)
DEB_OUT     ?= $(BUILD)/deb
deb: all man
	rm -rf $(BUILD)/deb-stage
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(BUILD))/deb-stage PREFIX=/usr UNITDIR=/lib/systemd/system
	bash tools/mkdeb.sh $(BUILD)/deb-stage $(DEB_VERSION) $(DEB_OUT)

# Two packages of two versions for test-deb's upgrade (tests/host/test_deb.sh).
DEB_TEST := $(BUILD)/deb-test
DEB_TEST_PKGS = $(DEB_TEST)/xtap_0.0.1~test1_$(shell dpkg --print-architecture).deb \
		$(DEB_TEST)/xtap_0.0.1~test2_$(shell dpkg --print-architecture).deb
deb-test-pkgs: all man
	rm -rf $(DEB_TEST)
	$(MAKE) --no-print-directory deb DEB_VERSION=0.0.1~test1 DEB_OUT=$(DEB_TEST)
	$(MAKE) --no-print-directory deb DEB_VERSION=0.0.1~test2 DEB_OUT=$(DEB_TEST)

test-deb: deps
	$(MAKE) deb-test-pkgs $(BUILD)/xtap-vmsim
	tests/run.sh deb "XTAP_BUILD=$(BUILD) bash tests/host/test_deb.sh $(DEB_TEST_PKGS)"

clean:
	rm -rf $(BUILD)
