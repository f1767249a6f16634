# goro - Go's concurrency runtime for C.
#
#   make            build build/lib/libgoro.so and build/pkgconfig/goro.pc
#   make deps       install missing build and test packages (apt, as root)
#   make test       deps, build, run the test suite
#   make bench      build and run the benchmarks (bench/RESULTS.md)
#   make run        build and run gorod in the foreground on config/gorod.yaml
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

VERSION     := 0.1.0
PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= gcc
ifeq ($(origin CC),default)
CC          := gcc
endif
CLANG       ?= clang
BUILD       := build
V           ?= 0
Q           := $(if $(filter 1,$(V)),,@)

# Everything that may run on a G stack is compiled -fsplit-stack; the link
# uses gold with the non-split headroom (16 KiB) and immediate binding, never
# -fsplit-stack itself (see shared design notes, SPLIT-STACK.md).
HEADROOM    := 0x4000
WARN        := -Wall -Wextra -Wstrict-prototypes -Wno-unused-parameter
CFLAGS      ?= -O2 -g
BASEFLAGS   := -std=gnu11 -fPIC -fsplit-stack -fno-omit-frame-pointer \
               -Iinclude -Isrc/runtime -MMD -MP $(WARN)
RTFLAGS     := $(BASEFLAGS) -fvisibility=hidden -D_GNU_SOURCE
SPLITLD     := -fuse-ld=gold -Wl,--split-stack-adjust-size=$(HEADROOM) -Wl,-z,now
LIBS        := -luv -ljemalloc -lpthread

RUNTIME_SRCS := $(wildcard src/runtime/*.c)
RUNTIME_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(RUNTIME_SRCS)) \
                $(BUILD)/obj/asm/amd64.o
LIB         := $(BUILD)/lib/libgoro.so
STUBLIB     := $(BUILD)/lib/libgoro_morestack.a
PC          := $(BUILD)/pkgconfig/goro.pc

.PHONY: all deps test run bench install clean
all: $(LIB) $(STUBLIB) $(PC)

deps:
	$(Q)sh scripts/install-deps

$(BUILD)/obj/runtime/%.o: src/runtime/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(RTFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/asm/%.o: asm/%.S src/runtime/asmdefs.h
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) -c $< -o $@

# The split-stack entry points each program and plugin links statically.
$(STUBLIB): $(BUILD)/obj/asm/morestack_stub.o
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB): $(RUNTIME_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) -shared $(SPLITLD) -Wl,-soname,libgoro.so -o $@ $^ $(LIBS)

define make_pc
	@mkdir -p $(dir $(2))
	$(Q)sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(3)|' -e 's|@INCLUDEDIR@|$(4)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@HEADROOM@|$(HEADROOM)|' \
	    scripts/goro.pc.in > $(2)
endef

$(PC): scripts/goro.pc.in Makefile
	@echo "  GEN     $@"
	$(call make_pc,$(CURDIR)/$(BUILD),$@,$(CURDIR)/$(BUILD)/lib,$(CURDIR)/include)

# ---- the daemon, its client and the example plugins -------------------------
# gorod's code runs in Gs: built like a program against goro (split-stack),
# linked with the runtime's flags; it exports gorod_served to the plugins.
# goroctl is an ordinary program. A plugin is plugins/NAME.c, built with the
# pkg-config flags only into build/plugins/NAME.so.

GOROD_SRCS  := $(wildcard src/gorod/*.c)
GOROD_OBJS  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(GOROD_SRCS))
GOROD       := $(BUILD)/bin/gorod
GOROCTL     := $(BUILD)/bin/goroctl
PLUGIN_SRCS := $(wildcard plugins/*.c)
PLUGINS     := $(patsubst plugins/%.c,$(BUILD)/plugins/%.so,$(PLUGIN_SRCS))
DAEMON      := $(GOROD) $(GOROCTL) $(PLUGINS)

$(BUILD)/obj/gorod/%.o: src/gorod/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(BASEFLAGS) -D_GNU_SOURCE $(CFLAGS) -c $< -o $@

$(GOROD): $(GOROD_OBJS) $(LIB) $(STUBLIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(SPLITLD) -Wl,--export-dynamic-symbol=gorod_served \
	    -o $@ $(GOROD_OBJS) -L$(BUILD)/lib -lgoro_morestack -lgoro \
	    -Wl,-rpath,'$$ORIGIN/../lib' -lcyaml -lyaml -ldl $(LIBS)

$(GOROCTL): $(wildcard src/goroctl/*.c)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Iinclude -o $@ $^

$(BUILD)/plugins/%.so: plugins/%.c $(wildcard plugins/*.h) $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin)"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(CC) -fPIC -std=gnu11 $(WARN) $(CFLAGS) $$(pkg-config --cflags goro) \
	    -c $< -o $@.o && \
	  $(CC) -shared $@.o $$(pkg-config --libs goro) -o $@ && rm -f $@.o

.PHONY: daemon
daemon: all $(DAEMON)

# ---- tests ------------------------------------------------------------------
# The test binary links the runtime's objects directly (internals are reached
# through tests/export_test.h); tests/link/ checks the installed-style path:
# a program built with pkg-config against libgoro.so.

TEST_SRCS   := $(wildcard tests/test_*.c) tests/testutil.c
TEST_OBJS   := $(patsubst tests/%.c,$(BUILD)/obj/tests/%.o,$(TEST_SRCS))
# The growth cases, compiled four ways.
GROWTH_VARIANTS := gcc_O0 gcc_O2 clang_O0 clang_O2
GROWTH_OBJS := $(foreach v,$(GROWTH_VARIANTS),$(BUILD)/obj/tests/growth_$(v).o)
TESTBIN     := $(BUILD)/tests/goro-tests
LINKPROG    := $(BUILD)/tests/linkprog

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(BASEFLAGS) -D_GNU_SOURCE -O1 -g -c $< -o $@

variant_cc = $(if $(findstring clang,$(1)),$(CLANG),gcc)
variant_opt = $(lastword $(subst _, ,$(1)))
$(BUILD)/obj/tests/growth_%.o: tests/growth_cases.c tests/growth_cases.h
	@mkdir -p $(dir $@)
	@echo "  CC      $< ($*)"
	$(Q)$(call variant_cc,$*) -std=gnu11 -fPIC -fsplit-stack -Iinclude -g \
	    -$(call variant_opt,$*) -DVARIANT=$* -c $< -o $@

$(TESTBIN): $(TEST_OBJS) $(GROWTH_OBJS) $(RUNTIME_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(SPLITLD) -o $@ $^ -lcriterion $(LIBS)

$(LINKPROG): tests/link/prog.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pkg-config)"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(CC) $$(pkg-config --cflags goro) -O2 -c $< -o $@.o && \
	  $(CC) $@.o $$(pkg-config --libs goro) -o $@

# Asynchronous preemption acts only on code built against goro (not on the
# test binary, which contains the runtime): tests/link/preempt.c, built with
# the pkg-config flags by gcc and clang at -O0 and -O2.
PREEMPTPROGS := $(foreach v,$(GROWTH_VARIANTS),$(BUILD)/tests/preemptprog_$(v))
$(BUILD)/tests/preemptprog_%: tests/link/preempt.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< ($*, pkg-config)"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(call variant_cc,$*) $$(pkg-config --cflags goro) $(WARN) \
	    -$(call variant_opt,$*) -c $< -o $@.o && \
	  $(CC) $@.o $$(pkg-config --libs goro) -o $@

# The daemon's tests drive the real gorod and goroctl (tests/gorod/, a
# Criterion binary of its own) with the example plugins and the test plugins
# of tests/gorod/plugins/: NAME.c built like any plugin, NAME_nosplit.c
# without -fsplit-stack (and so without the split-stack note).
GOROD_TEST_SRCS := $(wildcard tests/gorod/*.c)
GOROD_TESTBIN   := $(BUILD)/tests/gorod-tests
TESTPLUGIN_SRCS := $(wildcard tests/gorod/plugins/*.c)
TESTPLUGINS     := $(patsubst tests/gorod/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(TESTPLUGIN_SRCS))

$(GOROD_TESTBIN): $(GOROD_TEST_SRCS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O1 -g -Iinclude -Isrc/gorod \
	    -o $@ $^ -lcriterion -lpthread

$(BUILD)/tests/plugins/%_nosplit.so: tests/gorod/plugins/%_nosplit.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin, no split-stack)"
	$(Q)$(CC) -shared -fPIC -std=gnu11 $(WARN) -O2 -Iinclude $< \
	    -L$(BUILD)/lib -lgoro -Wl,-rpath,$(CURDIR)/$(BUILD)/lib -o $@

$(BUILD)/tests/plugins/%.so: tests/gorod/plugins/%.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin)"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(CC) -fPIC -std=gnu11 $(WARN) -O2 $$(pkg-config --cflags goro) \
	    -c $< -o $@.o && \
	  $(CC) -shared $@.o $$(pkg-config --libs goro) -o $@ && rm -f $@.o

GOROD_TESTENV := GOROD=$(CURDIR)/$(GOROD) GOROCTL=$(CURDIR)/$(GOROCTL) \
                 GOROD_PLUGINS=$(CURDIR)/$(BUILD)/plugins \
                 GOROD_TESTPLUGINS=$(CURDIR)/$(BUILD)/tests/plugins \
                 GOROD_SRCDIR=$(CURDIR)

# One test at a time: the wake-latency and timer checks need the cores the
# spinners of the preemption tests would otherwise take.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(TESTBIN) $(LINKPROG) $(PREEMPTPROGS) \
	  $(DAEMON) $(GOROD_TESTBIN) $(TESTPLUGINS)
	$(Q)GORO_LINKPROG=$(CURDIR)/$(LINKPROG) \
	  GORO_PREEMPTPROG=$(CURDIR)/$(BUILD)/tests/preemptprog \
	  ./$(TESTBIN) --jobs 1 $(TESTFLAGS)
	$(Q)$(GOROD_TESTENV) ./$(GOROD_TESTBIN) --jobs 1 $(TESTFLAGS)

# ---- benchmarks and demo ----------------------------------------------------

BENCH_SRCS  := $(wildcard bench/*.c)
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

$(BUILD)/bench/%: bench/%.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(CC) -std=gnu11 -O2 -g $(WARN) $$(pkg-config --cflags goro) -c $< -o $@.o && \
	  $(CC) $@.o $$(pkg-config --libs goro) -o $@

# The Go peers (not built on goro), when Go is installed: the echo server
# and the load client of the echo benchmark, and bench/go/NAME/main.go, the
# peer of bench/NAME.c, built as build/bench/go/NAME. GOPATH mode, nothing
# fetched; the build cache lives under build/.
GO          ?= go
GOENV       := GO111MODULE=off GOFLAGS= GOCACHE=$(CURDIR)/$(BUILD)/gocache \
               GOPATH=$(CURDIR)/$(BUILD)/gopath
GOBENCH_BINS := $(patsubst bench/go/%/main.go,$(BUILD)/bench/go/%,$(wildcard bench/go/*/main.go))
BENCH_GO    := $(BUILD)/bench/echoload $(BUILD)/bench/echo_server_go $(GOBENCH_BINS)
HAVE_GO     := $(shell command -v $(GO) 2>/dev/null)

$(BUILD)/bench/echoload: bench/echoload.go
	@mkdir -p $(dir $@)
	@echo "  GO      $<"
	$(Q)$(GOENV) $(GO) build -o $@ $<

$(BUILD)/bench/echo_server_go: bench/echo_server.go
	@mkdir -p $(dir $@)
	@echo "  GO      $<"
	$(Q)$(GOENV) $(GO) build -o $@ $<

$(BUILD)/bench/go/%: bench/go/%/main.go
	@mkdir -p $(dir $@)
	@echo "  GO      $<"
	$(Q)$(GOENV) $(GO) build -o $@ ./$(dir $<)

# make bench installs golang-go when missing (as install-deps can: root and
# apt), then builds in a sub-make, which looks for Go again. QUICK=1: small
# sizes (scripts/bench).
bench: deps
	$(Q)WITH_GO=1 sh scripts/install-deps || \
	  echo "bench: no Go; the goro benchmarks only, without the Go peers"
	$(Q)$(MAKE) --no-print-directory bench-bins
	$(Q)sh scripts/bench $(BUILD)/bench

.PHONY: bench-bins
bench-bins: all $(BENCH_BINS) $(if $(HAVE_GO),$(BENCH_GO))

run: deps
	$(Q)$(MAKE) --no-print-directory all $(DAEMON)
	$(Q)./$(GOROD) --foreground --config config/gorod.yaml

# ---- stress -----------------------------------------------------------------
# make stress: minutes-long runs of the runtime at scale, not part of make
# test: tests/stress/NAME.c, built like a benchmark (pkg-config against
# libgoro.so) into build/tests/stress/NAME, each printing its figures and
# failing when its criterion fails (see the comment at the top of each), then
# a summary of their verdicts (scripts/stress). STRESS_TARGETS lists the
# parts `make stress` runs; another part is one more word there.
# WAVES_FLAGS, PARKED_FLAGS, GROWSHRINK_FLAGS: options of each program
# (make stress WAVES_FLAGS="-w 3" PARKED_FLAGS="-n 100000").

STRESS_SRCS    := $(filter-out tests/stress/gorod_%.c,$(wildcard tests/stress/*.c))
STRESS_BINS    := $(patsubst tests/stress/%.c,$(BUILD)/tests/stress/%,$(STRESS_SRCS))
STRESS_TARGETS := stress-runtime

$(BUILD)/tests/stress/%: tests/stress/%.c tests/stress/stress.h $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(CC) -std=gnu11 -O2 -g $(WARN) $$(pkg-config --cflags goro) -c $< -o $@.o && \
	  $(CC) $@.o $$(pkg-config --libs goro) -o $@

.PHONY: stress stress-runtime
stress: $(STRESS_TARGETS)

stress-runtime: deps
	$(Q)$(MAKE) --no-print-directory all $(STRESS_BINS)
	$(Q)sh scripts/stress $(BUILD)/tests/stress

# ---- install ----------------------------------------------------------------
# make install PREFIX=/usr/local DESTDIR=/tmp/stage installs under
# $(DESTDIR)$(PREFIX): bin/gorod and bin/goroctl, lib/libgoro.so and
# lib/libgoro_morestack.a, include/goro.h and include/goro/, lib/pkgconfig/
# goro.pc (with the $(PREFIX) paths, not DESTDIR's), the example plugins in
# lib/goro/plugins; the systemd unit in $(SYSTEMDUNITDIR): /lib/systemd/system
# for PREFIX=/usr (the distribution's place), else $(PREFIX)/lib/systemd/system
# (/usr/local/lib/systemd/system is on systemd's unit path: the unit of a
# local install stays out of the distribution's directory); and the
# configuration as $(SYSCONFDIR)/goro/gorod.yaml (SYSCONFDIR=/etc), made
# from config/gorod.yaml with the plugin paths pointing at the installed
# plugins and the admin socket at /run/gorod/gorod.sock (the unit's
# RuntimeDirectory). An existing configuration is kept: the new one is
# written beside it as gorod.yaml.default. gorod finds the installed
# libgoro.so through its rpath, $ORIGIN/../lib.

BINDIR         ?= $(PREFIX)/bin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
SYSCONFDIR     ?= /etc
PLUGINDIR      ?= $(LIBDIR)/goro/plugins
SYSTEMDUNITDIR ?= $(if $(filter /usr /usr/,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
RUNDIR_SOCK    := /run/gorod/gorod.sock

install: all daemon config/gorod.yaml systemd/gorod.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/goro $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/goro
	install -m 0755 $(GOROD) $(GOROCTL) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/libgoro.so
	install -m 0644 $(STUBLIB) $(DESTDIR)$(LIBDIR)/libgoro_morestack.a
	install -m 0644 include/goro.h $(DESTDIR)$(INCLUDEDIR)/goro.h
	install -m 0644 include/goro/*.h $(DESTDIR)$(INCLUDEDIR)/goro/
	$(call make_pc,$(PREFIX),$(DESTDIR)$(LIBDIR)/pkgconfig/goro.pc,$(LIBDIR),$(INCLUDEDIR))
	install -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/gorod.service > $(DESTDIR)$(SYSTEMDUNITDIR)/gorod.service.tmp
	mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/gorod.service.tmp \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/gorod.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/gorod.service
	sed -e 's|\(\.\./\)*build/plugins/|$(PLUGINDIR)/|g' \
	    -e 's|\(\.\./\)*build/gorod\.sock|$(RUNDIR_SOCK)|g' \
	    config/gorod.yaml > $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml.default
	@if grep -n 'build/' $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml.default; then \
	  echo "install: config/gorod.yaml: a path into the build tree is left (above)"; \
	  exit 1; fi
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml.default
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml ]; then \
	  echo "install: $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml kept;" \
	       "the new default is gorod.yaml.default"; \
	else \
	  mv $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml.default \
	     $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml; \
	fi

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
