# profd — system-wide profiling daemon. See README.md.
#
#   make            build build/profd and build/profctl
#   make deps       install Debian build/test dependencies (root)
#   make test       unit + end-to-end tests + unit-file checks
#   make tsan       the lock tests on a ThreadSanitizer build
#   make demo       build, start profd, profile a demo workload
#   make install    PREFIX=/usr/local DESTDIR=
#   make V=1        show full commands
#   VMLINUX_BTF=/path/to/vmlinux   BTF to generate vmlinux.h from

OUTPUT ?= build
PREFIX ?= /usr/local
DESTDIR ?=
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
VERSION := 0.1.0

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# pkg-config runs when a flag is first used, not while the Makefile is read:
# on a fresh machine the packages do not exist yet at that point (make deps
# installs them), and flags read then would be empty. The $(eval) keeps the
# answer, so each runs once per make.
PKGS := libbpf libelf libdw libprotobuf-c libmicrohttpd gnutls libcurl zlib libsystemd
lazy_pkg = $(eval $(1) := $(shell pkg-config $(2) 2>/dev/null))$($(1))
PKG_CFLAGS = $(call lazy_pkg,PKG_CFLAGS,--cflags $(PKGS))

WERROR ?= $(if $(CI),-Werror,)
CFLAGS ?= -O2 -g
LIBDIR ?= $(PREFIX)/lib/profd
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	  $(WERROR) -std=gnu11 -D_GNU_SOURCE -DPROFD_VERSION='"$(VERSION)"' \
	  -DPROFD_LIBDIR='"$(LIBDIR)"' \
	  -I$(OUTPUT) -I$(OUTPUT)/gen -Iinclude -Idaemon -Icommon $(PKG_CFLAGS) \
	  -MMD -MP
SAN ?=
ifneq ($(SAN),)
CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SAN)
endif

DAEMON_PKG_LIBS = $(call lazy_pkg,DAEMON_PKG_LIBS,--libs libbpf libelf libdw libprotobuf-c libmicrohttpd gnutls libcurl zlib libsystemd)
DAEMON_LIBS = $(DAEMON_PKG_LIBS) -lpthread -lm -lstdc++
CLIENT_LIBS = $(call lazy_pkg,CLIENT_LIBS,--libs libcurl libprotobuf-c zlib)

BPF_CFLAGS := -g -O2 -target bpf -Wall -D__TARGET_ARCH_$(ARCH) \
	      -I$(OUTPUT) -Iinclude

# Pipeline modules without BPF or sockets (most are pure): unit-tested
# and linked into both the daemon and the tests.
CORE_SRCS := daemon/procmaps.c daemon/pprof.c daemon/stacks.c daemon/aggregate.c \
	     daemon/kallsyms.c daemon/symbolizer.c daemon/symbolizer_dwarf.c \
	     daemon/symbolizer_cfi.c daemon/debuginfod.c daemon/jitmap.c daemon/symsrc.c daemon/symseg.c daemon/pltsyms.c daemon/strtab.c \
	     daemon/proc.c daemon/proc_read.c daemon/proc_cache.c daemon/jitmap_proc.c daemon/elfsyms.c \
	     daemon/unwind.c daemon/cputime.c daemon/json.c daemon/origin.c daemon/inject.c \
	     daemon/heap_stacks.c \
	     daemon/service.c daemon/spool.c daemon/pmerge.c daemon/config.c daemon/metrics.c \
	     daemon/history.c daemon/cfilter.c daemon/listen_auth.c \
	     common/pprof_read.c common/json_read.c common/cxxname.c
DAEMON_SRCS := daemon/main.c daemon/main_opts.c daemon/main_listen.c daemon/log.c daemon/sampler.c \
	       daemon/session.c daemon/session_sample.c daemon/session_finish.c \
	       daemon/api.c daemon/api_reply.c daemon/api_profile.c \
	       daemon/api_heap.c daemon/api_status.c daemon/profile.c daemon/profile_symcache.c \
	       daemon/access.c daemon/heap.c \
	       daemon/agent.c daemon/pidns.c daemon/conns.c daemon/slice.c \
	       daemon/heap_agents.c daemon/heap_maps.c daemon/heap_probes.c \
	       daemon/heap_events.c daemon/heap_snapshot.c daemon/heap_finals.c \
	       daemon/heap_gc.c \
	       daemon/execwatch.c daemon/target.c \
	       daemon/push.c daemon/fleet.c daemon/continuous.c daemon/api_listen.c \
	       daemon/continuous_procs.c daemon/continuous_iv.c \
	       daemon/offcpu.c daemon/offcpu_pair.c daemon/offcpu_finish.c \
	       daemon/threads.c daemon/threads_profile.c daemon/execfollow.c \
	       $(CORE_SRCS)
CLIENT_SRCS := client/profctl.c client/report.c common/pprof_read.c common/json_read.c \
	       common/cxxname.c
GEN_PB := $(OUTPUT)/gen/profile.pb-c.c $(OUTPUT)/gen/push.pb-c.c

DAEMON_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(DAEMON_SRCS)) $(OUTPUT)/gen/profile.pb-c.o \
	       $(OUTPUT)/gen/push.pb-c.o
CLIENT_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(CLIENT_SRCS)) $(OUTPUT)/gen/profile.pb-c.o
CORE_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(CORE_SRCS)) $(OUTPUT)/gen/profile.pb-c.o $(OUTPUT)/daemon/log.o

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/unit/%,$(wildcard tests/unit/test_*.c))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test unit e2e demo install clean check-units bench

all: $(OUTPUT)/profd $(OUTPUT)/profctl $(OUTPUT)/libprofd_heap.so

deps:
	$(Q)scripts/deps.sh

$(OUTPUT)/vmlinux.h: $(VMLINUX_BTF)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file $< format c > $@

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) include/profd_abi.h $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp
	$(Q)rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUTPUT)/gen/profile.pb-c.c $(OUTPUT)/gen/profile.pb-c.h &: proto/profile.proto
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PROTOC_C) --proto_path=proto --c_out=$(OUTPUT)/gen $<

$(OUTPUT)/gen/profile.pb-c.o: $(OUTPUT)/gen/profile.pb-c.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-error -c $< -o $@

# Pyroscope's Push API (fleet push): the daemon and the push unit test.
$(OUTPUT)/gen/push.pb-c.c $(OUTPUT)/gen/push.pb-c.h &: proto/push.proto
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PROTOC_C) --proto_path=proto --c_out=$(OUTPUT)/gen $<

$(OUTPUT)/gen/push.pb-c.o: $(OUTPUT)/gen/push.pb-c.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-error -c $< -o $@

$(OUTPUT)/daemon/push.o: $(OUTPUT)/gen/push.pb-c.h
$(OUTPUT)/tests/unit/test_push: $(OUTPUT)/daemon/push.o $(OUTPUT)/gen/push.pb-c.o
# access__scope() (what a remote listener's token allows) is tested there.
$(OUTPUT)/tests/unit/test_listen_auth: $(OUTPUT)/daemon/access.o
# Who sees what (access__may_see_session() and the root-only checks).
$(OUTPUT)/tests/unit/test_access: $(OUTPUT)/daemon/access.o
# The command line on its own (main_opts.c: libc only).
$(OUTPUT)/tests/unit/test_main_opts: $(OUTPUT)/daemon/main_opts.o

# Everything C depends on the generated protobuf header; only the sampler
# on the BPF skeleton, so the client builds without clang or BTF.
$(OUTPUT)/daemon/sampler.o: $(OUTPUT)/cpu.skel.h
$(OUTPUT)/daemon/heap.o $(OUTPUT)/daemon/heap_maps.o $(OUTPUT)/daemon/heap_probes.o \
$(OUTPUT)/daemon/heap_events.o $(OUTPUT)/daemon/heap_agents.o: $(OUTPUT)/heap.skel.h
$(OUTPUT)/daemon/execwatch.o: $(OUTPUT)/exec.skel.h
$(OUTPUT)/daemon/offcpu.o $(OUTPUT)/daemon/offcpu_pair.o \
$(OUTPUT)/daemon/offcpu_finish.o: $(OUTPUT)/offcpu.skel.h
# Pairing and charging of wait records: pure but for the skeleton's type.
$(OUTPUT)/tests/unit/test_offcpu_pair: $(OUTPUT)/daemon/offcpu_pair.o
$(OUTPUT)/bpf/offcpu.bpf.o: include/profd_wait.h
$(OUTPUT)/daemon/threads.o: $(OUTPUT)/threads.skel.h
$(OUTPUT)/bpf/threads.bpf.o: include/profd_wait.h
$(OUTPUT)/%.o: %.c $(OUTPUT)/gen/profile.pb-c.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/profd: $(DAEMON_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(DAEMON_LIBS) -o $@

# The in-process heap agent runs inside other programs: position-independent,
# its own symbols hidden, frame pointers kept (the BPF frame-pointer walk
# starts inside it), no dependency beyond libc and libm.
AGENT_CFLAGS := -O2 -g -fPIC -fvisibility=hidden -fno-omit-frame-pointer \
		-mno-omit-leaf-frame-pointer -Wall -Wextra -Wno-unused-parameter \
		$(WERROR) -std=gnu11 -D_GNU_SOURCE -Iinclude
$(OUTPUT)/libprofd_heap.so: agent/heap_agent.c include/profd_agent.h
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(AGENT_CFLAGS) -shared -Wl,-z,now -Wl,-z,relro $< -lm -o $@

$(OUTPUT)/profctl: $(CLIENT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(CLIENT_LIBS) -o $@

$(OUTPUT)/tests/unit/%: tests/unit/%.c $(CORE_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ $(DAEMON_LIBS) -o $@

unit: $(UNIT_TESTS) $(FIXTURES)
	$(Q)cd tests/unit && FIXTURES=$(abspath $(OUTPUT))/tests/fixtures ./run.sh $(abspath $(OUTPUT)) $(abspath $(UNIT_TESTS))

e2e: all
	$(Q)tests/e2e/run.sh $(OUTPUT)

check-units:
	$(Q)tests/check-units.sh

# The README's two commands. Each installs what is missing first, then
# builds in a new make, whose rules see the tools and libraries that deps
# just installed (this make's file list and rules were read before).
test:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all $(UNIT_TESTS) $(FIXTURES)
	$(Q)tests/run-all.sh $(OUTPUT)

demo:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(OUTPUT)

bench: all
	$(Q)bench/run.sh $(OUTPUT)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(OUTPUT)/profd $(DESTDIR)$(PREFIX)/sbin/profd
	install -m 0755 $(OUTPUT)/profctl $(DESTDIR)$(PREFIX)/bin/profctl
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0644 $(OUTPUT)/libprofd_heap.so $(DESTDIR)$(LIBDIR)/libprofd_heap.so
	install -d $(DESTDIR)/lib/systemd/system
	sed 's|@PREFIX@|$(PREFIX)|g' systemd/profd.service > $(DESTDIR)/lib/systemd/system/profd.service
	install -m 0644 systemd/profd.socket $(DESTDIR)/lib/systemd/system/profd.socket
	install -d $(DESTDIR)$(PREFIX)/share/doc/profd
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/profd/README.md

clean:
	rm -rf $(OUTPUT)

-include $(shell find $(OUTPUT) -name '*.d' -type f 2>/dev/null)

# Unit-test fixtures: a binary with known symbols, lines and inlines, plus a
# stripped copy and its separate debug file (for /usr/lib/debug lookups).
FIXTURES := $(OUTPUT)/tests/fixtures/symfix $(OUTPUT)/tests/fixtures/symfix.stripped \
	    $(OUTPUT)/tests/fixtures/symfix.debug $(OUTPUT)/tests/fixtures/symfix.clang \
	    $(OUTPUT)/tests/fixtures/symfix.ibt $(OUTPUT)/tests/fixtures/symfixcc

$(OUTPUT)/tests/fixtures/symfix: tests/unit/fixtures/symfix.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fno-omit-frame-pointer -Wl,--build-id $< -o $@

# clang: DWARF 5 and no .debug_aranges, as clang and rustc emit by default.
$(OUTPUT)/tests/fixtures/symfix.clang: tests/unit/fixtures/symfix.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -O2 -g -fno-omit-frame-pointer $< -o $@

# IBT: PLT calls go through .plt.sec stubs (endbr64; jmp *GOT).
$(OUTPUT)/tests/fixtures/symfix.ibt: tests/unit/fixtures/symfix.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fcf-protection=full -Wl,-z,ibtplt $< -o $@

# C++: names of inlined member functions and templates.
$(OUTPUT)/tests/fixtures/symfixcc: tests/unit/fixtures/symfixcc.cc
	$(call msg,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) -O2 -g $< -o $@

$(OUTPUT)/tests/fixtures/symfix.debug: $(OUTPUT)/tests/fixtures/symfix
	$(Q)objcopy --only-keep-debug $< $@

$(OUTPUT)/tests/fixtures/symfix.stripped: $(OUTPUT)/tests/fixtures/symfix
	$(Q)objcopy --strip-debug $< $@

$(UNIT_TESTS): | $(FIXTURES)

# ---------------------------------------------------------------------------
# Fuzzing and sanitizers (tests/fuzz/). Kept in this one block at the end.
#
# daemon/apiparse.c, the API's query parameters without a server (api.c
# calls it; fuzzed), is linked into profd and the unit tests from here
# rather than through CORE_SRCS above.
APIPARSE_OBJ := $(OUTPUT)/daemon/apiparse.o
$(OUTPUT)/profd $(UNIT_TESTS): $(APIPARSE_OBJ)

# Sanitizer builds (make SAN=address,undefined OUTPUT=build-san test): a
# UBSan report aborts, as an ASan one does, so it fails the test.
# They also assert "under lock" where a function says so (lockcheck.h).
ifneq ($(SAN),)
CFLAGS += -fno-sanitize-recover=all -DPROFD_LOCK_CHECK
endif

# ThreadSanitizer (make SAN=thread OUTPUT=build-tsan; libtsan2 comes with
# gcc). offcpu.c's __atomic_thread_fence()s order stores into memory the
# BPF program reads, which TSan neither sees nor needs: -Wno-tsan, or CI's
# -Werror fails the build on its warning that TSan ignores fences.
comma := ,
ifneq ($(filter thread,$(subst $(comma), ,$(SAN))),)
CFLAGS += -Wno-tsan
endif

# make tsan: the tests that take the managers' locks at once (CPU windows,
# heap pulls, an exit's last snapshot, start/stop, status; test_locks.py
# and a few heap ones, the DWARF-mode reader's among them; wait windows
# whose drain thread unwinds with offcpu's lock let go, an exec followed,
# two callers at once) on a ThreadSanitizer build, in about three minutes.
# Its deadlock detector reports lock-order inversions; halt_on_error ends
# profd at the first report, which fails the test (test_cpu.py reads the
# report in profd's log). tests/tsan.supp: only uninstrumented libraries.
# Not test_start_stop_cycles_bounded: its RSS bound means nothing under
# TSan, whose shadow memory and sync objects grow RSS.
TSAN_OUTPUT ?= build-tsan
TSAN_TESTS ?= Locks test_concurrent_pulls test_concurrent_one_off_pulls \
	      test_target_exits_while test_stop_while_pull_waits \
	      test_start_stop_during_allocation_storm test_exec_drops_inproc_agent \
	      test_idle_timeout \
	      test_window_ends_when_target_exits \
	      HeapDwarfStacks HeapEventBufferFull \
	      test_block_truth test_mutex_truth test_block_process_exits \
	      test_block_follows_exec test_two_callers
space := $(subst ,, )
TSAN_OPTIONS_E2E := halt_on_error=1:detect_deadlocks=1:second_deadlock_stack=1:exitcode=66:suppressions=$(abspath tests/tsan.supp)
.PHONY: tsan
tsan:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory SAN=thread OUTPUT=$(TSAN_OUTPUT) all
	$(Q)TSAN_OPTIONS="$(TSAN_OPTIONS_E2E)" E2E_ONLY="$(subst $(space),$(comma),$(strip $(TSAN_TESTS)))" \
		tests/e2e/run.sh $(TSAN_OUTPUT)

# Fuzzing: libFuzzer targets tests/fuzz/fuzz_*.c, built with clang into
# $(OUTPUT)/fuzz/ with ASan and UBSan, each run for FUZZ_SECONDS (0: only
# replay the seeds). See tests/fuzz/run.sh.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS=fuzz_procmaps]
FUZZ_SECONDS ?= 60
FUZZ_DIR := $(OUTPUT)/fuzz
FUZZ_TARGETS ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
	      -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	      $(WERROR) -std=gnu11 -D_GNU_SOURCE -DPROFD_VERSION='"$(VERSION)"' \
	      -I$(OUTPUT)/gen -Iinclude -Idaemon -Icommon $(PKG_CFLAGS) -MMD -MP
# The modules under test: every pure stage, compiled for coverage.
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(CORE_SRCS) daemon/apiparse.c daemon/log.c) \
	     $(FUZZ_DIR)/obj/gen/profile.pb-c.o
# Seeds that are ELF files are built, not kept in git (tests/check-tree.sh).
ELFSEED_FLAGS := -O1 -g -fno-builtin -nostdlib -Wl,--build-id \
		 -Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code
FUZZ_ELF_SEEDS := $(addprefix $(FUZZ_DIR)/seeds/fuzz_elf/,tiny tiny-debugframe tiny-go.so tiny-altlink \
		  nocode-cu noplt.so symfix)

.PHONY: fuzz fuzz-build
fuzz:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS)) $(FUZZ_ELF_SEEDS)

$(FUZZ_DIR)/obj/gen/profile.pb-c.o: $(OUTPUT)/gen/profile.pb-c.c
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Wno-error -c $< -o $@

$(FUZZ_DIR)/obj/%.o: %.c $(OUTPUT)/gen/profile.pb-c.h
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# The wait records' reader: offcpu_pair.c (needs the skeleton's types).
$(FUZZ_DIR)/obj/daemon/offcpu_pair.o: $(OUTPUT)/offcpu.skel.h
$(FUZZ_DIR)/obj/daemon/offcpu_pair.o: FUZZ_CFLAGS += -I$(OUTPUT)
$(FUZZ_DIR)/fuzz_offcpu_pair: $(FUZZ_DIR)/obj/daemon/offcpu_pair.o

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(call msg,FUZZLD,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(filter %.c %.o,$^) $(DAEMON_LIBS) -o $@

$(FUZZ_DIR)/seeds/fuzz_elf/tiny: tests/fuzz/elfseed.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELFSEED_FLAGS) -static -fno-pie -no-pie $< -o $@

$(FUZZ_DIR)/seeds/fuzz_elf/tiny-debugframe: tests/fuzz/elfseed.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELFSEED_FLAGS) -static -fno-pie -no-pie \
		-fno-asynchronous-unwind-tables -fno-unwind-tables $< -o $@

# A dwz alternate named (.gnu_debugaltlink: a path, NUL, a 20-byte
# build-id), as in the debug files debuginfod servers send.
$(FUZZ_DIR)/seeds/fuzz_elf/tiny-altlink: $(FUZZ_DIR)/seeds/fuzz_elf/tiny
	$(call msg,GEN,$@)
	$(Q)printf '/usr/lib/debug/.dwz/x86_64-linux-gnu/seed.debug\000\001\043\105\147\211\253\315\357\001\043\105\147\211\253\315\357\001\043\105\147' > $@.link
	$(Q)objcopy --add-section .gnu_debugaltlink=$@.link $< $@
	$(Q)rm -f $@.link

$(FUZZ_DIR)/seeds/fuzz_elf/tiny-go.so: tests/fuzz/elfseed.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELFSEED_FLAGS) -shared -fPIC -DGO_LIKE $< -o $@

# DWARF whose unit covers no code (a regression seed; also a unit-test
# fixture: test_symbolizer looks addresses up in it).
$(FUZZ_DIR)/seeds/fuzz_elf/nocode-cu $(OUTPUT)/tests/fixtures/nocode-cu: tests/fuzz/elfseed.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELFSEED_FLAGS) -static -fno-pie -no-pie -DNO_CODE_CU $< -o $@

# A GLOB_DAT relocation and no PLT (a regression seed; test_pltsyms reads it).
$(FUZZ_DIR)/seeds/fuzz_elf/noplt.so $(OUTPUT)/tests/fixtures/noplt.so: tests/fuzz/elfseed.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELFSEED_FLAGS) -shared -fPIC -DDATA_REF_ONLY $< -o $@

FIXTURES += $(OUTPUT)/tests/fixtures/nocode-cu $(OUTPUT)/tests/fixtures/noplt.so
$(UNIT_TESTS): | $(OUTPUT)/tests/fixtures/nocode-cu $(OUTPUT)/tests/fixtures/noplt.so

# The symbolizer's unit-test fixture: libc-linked, -O2 inlines.
$(FUZZ_DIR)/seeds/fuzz_elf/symfix: $(OUTPUT)/tests/fixtures/symfix
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@
