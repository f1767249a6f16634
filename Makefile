# goro - Go's concurrency runtime for C.
#
#   make            build build/lib/libgoro.so and build/pkgconfig/goro.pc
#   make deps       install missing build and test packages (apt, as root)
#   make test       deps, build, run the test suite
#   make test SAN=undefined   the same built with UBSan, in build/san-undefined
#   make test-loaded   make test 3 times (and with UBSan) beside other goro load
#   make memcheck   the channel, select, scheduler and sync tests under memcheck
#   make bench      build and run the benchmarks (bench/RESULTS.md)
#   make run        build and run gorod in the foreground on config/gorod.yaml
#                   (CONFIG=FILE another file, PORTS=+N its ports moved by N)
#   make fuzz       fuzz the config loader and admin parser (FUZZ_TIME=60 s each)
#   make asan       the stack-free daemon pieces under ASan+LSan+UBSan (clang)
#   make stress     minutes of runtime and daemon stress (tests/stress/)
#   make soak       gorod under load for SOAK_DURATION seconds (600)
#   make man        the man pages, in build/man (scripts/mkman)
#   make install    PREFIX=/usr/local DESTDIR= (SYSCONFDIR=$(PREFIX)/etc)
#   make clean

VERSION     := 0.1.0
PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= gcc
ifeq ($(origin CC),default)
CC          := gcc
endif
CLANG       ?= clang

# SAN=undefined builds everything with UndefinedBehaviorSanitizer, every
# report fatal, into a build directory of its own. Code on G stacks reaches
# libubsan through the split-stack handlers of src/san/ubsan.c. All of
# -fsanitize=undefined but object-size, whose checks keep `1 - &local` in a
# register across calls: a value copystack cannot know for a stack address,
# so after the stack moves it reports a bad access that is not there.
SAN         ?=
ifeq ($(SAN),)
BUILD       := build
else ifeq ($(SAN),undefined)
BUILD       := build/san-undefined
SANFLAGS    := -fsanitize=undefined -fno-sanitize=object-size \
               -fno-sanitize-recover=undefined
SANLIBS     := -Wl,--push-state,--no-as-needed -lubsan -Wl,--pop-state
SAN_OBJS    := $(BUILD)/obj/san/ubsan.o
else
$(error SAN=$(SAN): unknown sanitizer; SAN=undefined is the one supported)
endif
V           ?= 0
Q           := $(if $(filter 1,$(V)),,@)

# Everything that may run on a G stack is compiled -fsplit-stack; the link
# uses gold with the non-split headroom (16 KiB) and immediate binding, never
# -fsplit-stack itself (see shared design notes, SPLIT-STACK.md).
HEADROOM    := 0x4000
WARN        := -Wall -Wextra -Wstrict-prototypes -Wno-unused-parameter
CFLAGS      ?= -O2 -g
BASEFLAGS   := -std=gnu11 -fPIC -fsplit-stack -fno-omit-frame-pointer \
               -Iinclude -Isrc/runtime -MMD -MP $(WARN) $(SANFLAGS)
RTFLAGS     := $(BASEFLAGS) -fvisibility=hidden -D_GNU_SOURCE
SPLITLD     := -fuse-ld=gold -Wl,--split-stack-adjust-size=$(HEADROOM) -Wl,-z,now
# Programs, plugins and gorod reach the libc functions of cgocall.h through
# goro's wrappers (src/runtime/cgocall.c): -Wl,--wrap=NAME for each. Never
# the runtime itself, nor the test binary that links its objects.
LPAREN      := (
LIBCWRAP    := -Wl,$(shell sed -n 's/^[A-Z]*$(LPAREN)\([a-z_0-9]*\).*/--wrap=\1/p' \
                  src/runtime/cgocall.h | paste -sd, -)
LIBS        := -luv -ljemalloc -lunwind -ldw -lpthread $(SANLIBS)

RUNTIME_SRCS := $(wildcard src/runtime/*.c)
RUNTIME_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(RUNTIME_SRCS)) \
                $(BUILD)/obj/asm/amd64.o $(BUILD)/obj/asm/gdbscripts.o $(SAN_OBJS)
# libgoro.so.$(VERSION) is the library (SONAME libgoro.so.$(SOVERSION)),
# libgoro.so.$(SOVERSION) and libgoro.so the links to it, in build/lib as
# installed: a program links -lgoro and runs with libgoro.so.$(SOVERSION).
# SOVERSION changes when the ABI breaks.
SOVERSION   := 0
LIB         := $(BUILD)/lib/libgoro.so
LIBREAL     := $(LIB).$(VERSION)
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

$(BUILD)/obj/asm/%.o: asm/%.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) -MMD -MP -c $< -o $@

# gdb's auto-load section holds scripts/goro-gdb.py itself (.incbin, which
# the dependency files do not see).
$(BUILD)/obj/asm/gdbscripts.o: scripts/goro-gdb.py

# The split-stack entry points each program and plugin links statically.
$(STUBLIB): $(BUILD)/obj/asm/morestack_stub.o
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBREAL): $(RUNTIME_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) -shared $(SPLITLD) -Wl,-soname,libgoro.so.$(SOVERSION) -o $@ $^ $(LIBS)

# sochain NAME (libgoro, libgoro_ssl), DIR: the links NAME.so.$(SOVERSION)
# -> NAME.so.$(VERSION) and NAME.so -> NAME.so.$(SOVERSION) in DIR.
sochain = ln -sf $(1).so.$(VERSION) $(2)/$(1).so.$(SOVERSION) && \
          ln -sf $(1).so.$(SOVERSION) $(2)/$(1).so

$(LIB): $(LIBREAL)
	$(Q)$(call sochain,libgoro,$(dir $@))

define make_pc
	@mkdir -p $(dir $(2))
	$(Q)sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(3)|' -e 's|@INCLUDEDIR@|$(4)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@HEADROOM@|$(HEADROOM)|' \
	    -e 's|@LIBCWRAP@|$(LIBCWRAP)|' \
	    scripts/goro.pc.in > $(2)
endef

$(PC): scripts/goro.pc.in Makefile src/runtime/cgocall.h
	@echo "  GEN     $@"
	$(call make_pc,$(CURDIR)/$(BUILD),$@,$(CURDIR)/$(BUILD)/lib,$(CURDIR)/include)

# ---- the daemon, its client and the example plugins -------------------------
# gorod's code runs in Gs: built like a program against goro (split-stack),
# linked with the runtime's flags; it exports gorod_served,
# gorod_listener_fd and gorod_plugin_arg{,_at,_refuse} to the plugins (goro/plugin.h).
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
	$(Q)$(CC) $(BASEFLAGS) -D_GNU_SOURCE $(GOROD_DEFS) $(CFLAGS) -c $< -o $@

# gorod's default configuration is $(SYSCONFDIR)/goro/gorod.yaml (see
# install): gorod.o is built again when the paths change (the stamp).
$(BUILD)/obj/gorod/gorod.o: GOROD_DEFS = -DGOROD_SYSCONFDIR='"$(SYSCONFDIR)"'
$(BUILD)/obj/gorod/gorod.o: $(BUILD)/stamp/paths

$(GOROD): $(GOROD_OBJS) $(LIB) $(STUBLIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(SPLITLD) $(LIBCWRAP) -Wl,--export-dynamic-symbol=gorod_served \
	    -Wl,--export-dynamic-symbol=gorod_listener_fd \
	    -Wl,--export-dynamic-symbol=gorod_plugin_arg \
	    -Wl,--export-dynamic-symbol=gorod_plugin_arg_at \
	    -Wl,--export-dynamic-symbol=gorod_plugin_arg_refuse \
	    -o $@ $(GOROD_OBJS) -L$(BUILD)/lib -lgoro_morestack -lgoro \
	    -Wl,-rpath,'$$ORIGIN/../lib' -lcyaml -lyaml -ldl $(LIBS)

$(GOROCTL): $(wildcard src/goroctl/*.c) src/gorod/sockrecord.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude -o $@ $(filter %.c,$^)

comma := ,
# pcbuild CC,PKGS,CFLAGS,LDFLAGS,LIBS: $< built into $@ the way a user
# builds against goro, in two steps: compiled by CC with `pkg-config
# --cflags PKGS` then CFLAGS, linked by $(CC) with LDFLAGS, `pkg-config
# --libs PKGS` then LIBS (after goro's: -lubsan must not come first), the
# packages found in build/pkgconfig. A recipe line of its own.
pcbuild = PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; \
  export PKG_CONFIG_PATH; \
  $(1) $$(pkg-config --cflags $(2)) $(3) -c $< -o $@.o && \
  $(CC) $@.o $(4) $$(pkg-config --libs $(2)) $(5) -o $@ && rm -f $@.o

$(BUILD)/plugins/%.so: plugins/%.c $(wildcard plugins/*.h) $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin)"
	$(Q)$(call pcbuild,$(CC),goro $(PLUGIN_PKGS_$*),-fPIC -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS),-shared)

# ---- adapters: third-party libraries driven from Gs ----------------------------
# src/adapters/NAME.c (its header include/goro/NAME.h) is built like a
# plugin, with goro's pkg-config flags, into build/lib/libgoro_NAME.so,
# with build/pkgconfig/goro-NAME.pc requiring goro and the library's own
# pkg-config package (ADAPTER_REQUIRES_NAME, Debian's -dev package). A
# program uses one with `pkg-config --cflags --libs goro goro-NAME`.

ADAPTERS            := hiredis ssl
ADAPTER_REQUIRES_hiredis := hiredis
ADAPTER_UPSTREAM_hiredis := hiredis (Redis)
ADAPTER_REQUIRES_ssl := libssl libcrypto
ADAPTER_UPSTREAM_ssl := OpenSSL (TLS)
ADAPTER_LIBS        := $(patsubst %,$(BUILD)/lib/libgoro_%.so,$(ADAPTERS))
ADAPTER_PCS         := $(patsubst %,$(BUILD)/pkgconfig/goro-%.pc,$(ADAPTERS))
ADAPTER_REALS       := $(addsuffix .$(VERSION),$(ADAPTER_LIBS))

# Versioned as libgoro.so is (sochain). An adapter finds libgoro.so.0
# beside itself, in build/lib as where it is installed: its rpath is
# $ORIGIN, not goro.pc's (the build tree's).
$(BUILD)/lib/libgoro_%.so: $(BUILD)/lib/libgoro_%.so.$(VERSION)
	$(Q)$(call sochain,libgoro_$*,$(dir $@))

$(BUILD)/lib/libgoro_%.so.$(VERSION): src/adapters/%.c include/goro/%.h $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (adapter)"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(CC) -fPIC -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -fvisibility=hidden \
	    $$(pkg-config --cflags goro $(ADAPTER_REQUIRES_$*)) -c $< -o $@.o && \
	  $(CC) -shared -Wl,-soname,libgoro_$*.so.$(SOVERSION) $@.o \
	    $$(pkg-config --libs goro $(ADAPTER_REQUIRES_$*) | sed 's/-Wl,-rpath,[^ ]*//g') \
	    -Wl,-rpath,'$$ORIGIN' $(SANLIBS) -o $@ && rm -f $@.o

# adapter_pc PREFIX,LIBDIR,INCLUDEDIR,NAME: the sed command that writes
# goro-NAME.pc (to stdout) from its template.
adapter_pc = sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(2)|' -e 's|@INCLUDEDIR@|$(3)|' \
    -e 's|@VERSION@|$(VERSION)|' -e 's|@ADAPTER@|$(4)|g' \
    -e 's|@UPSTREAM@|$(ADAPTER_UPSTREAM_$(4))|' \
    -e 's|@REQUIRES@|$(ADAPTER_REQUIRES_$(4))|' scripts/goro-adapter.pc.in

$(BUILD)/pkgconfig/goro-%.pc: scripts/goro-adapter.pc.in Makefile
	@echo "  GEN     $@"
	@mkdir -p $(dir $@)
	$(Q)$(call adapter_pc,$(CURDIR)/$(BUILD),$(CURDIR)/$(BUILD)/lib,$(CURDIR)/include,$*) > $@

.PHONY: adapters
adapters: all $(ADAPTER_REALS) $(ADAPTER_LIBS) $(ADAPTER_PCS)

# A plugin that uses an adapter names it here (PLUGIN_PKGS_NAME): it is
# built with that package's pkg-config flags too.
PLUGIN_PKGS_rediscount := goro-hiredis
$(BUILD)/plugins/rediscount.so: $(BUILD)/lib/libgoro_hiredis.so $(BUILD)/pkgconfig/goro-hiredis.pc

.PHONY: daemon
daemon: all $(DAEMON)

# README.md's table of GORO_* variables and config/gorod.yaml's runtime
# knobs (sched, stack, traceback) are written from the runtime's table of knobs
# (src/runtime/config.c), and gorod.yaml's comments on gorod's own keys from
# gorod's table (src/gorod/configkeys.c, which it includes), by
# scripts/knobdoc.c, a program built as users build theirs;
# tests/test_config.c fails when they differ from them.
KNOBDOC := $(BUILD)/bin/knobdoc
$(KNOBDOC): scripts/knobdoc.c src/gorod/configkeys.c src/gorod/config.h \
            src/gorod/gorod.h $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pkg-config)"
	$(Q)$(call pcbuild,$(CC),goro,-std=gnu11 $(WARN) $(CFLAGS))

.PHONY: knobdoc
knobdoc: $(KNOBDOC)
	$(Q)./$(KNOBDOC) write README.md config/gorod.yaml

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
# DWARF 4: valgrind 3.19 (make memcheck) cannot read clang 14's DWARF 5.
# SAN: the gcc variants only (clang's checks are for compiler-rt's runtime,
# and make its -O0 variadic no_split_stack frame outgrow StackGuard).
variant_san = $(if $(findstring clang,$(1)),,$(SANFLAGS))
$(BUILD)/obj/tests/growth_%.o: tests/growth_cases.c tests/growth_cases.h
	@mkdir -p $(dir $@)
	@echo "  CC      $< ($*)"
	$(Q)$(call variant_cc,$*) -std=gnu11 -fPIC -fsplit-stack -Iinclude -gdwarf-4 $(call variant_san,$*) \
	    -$(call variant_opt,$*) -DVARIANT=$* -c $< -o $@

$(TESTBIN): $(TEST_OBJS) $(GROWTH_OBJS) $(RUNTIME_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(SPLITLD) -o $@ $^ -lcriterion $(LIBS)

$(LINKPROG): tests/link/prog.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pkg-config)"
	$(Q)$(call pcbuild,$(CC),goro,-O2)

# link_variants NAME: tests/link/NAME.c built with the pkg-config flags by
# gcc and clang at -O0 and -O2, as $(BUILD)/tests/NAMEprog_VARIANT.
define link_variants
$(BUILD)/tests/$(1)prog_%: tests/link/$(1).c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$< ($$*, pkg-config)"
	$(Q)$$(call pcbuild,$$(call variant_cc,$$*),goro,$(WARN) -$$(call variant_opt,$$*))
endef

# Asynchronous preemption acts only on code built against goro (not on the
# test binary, which contains the runtime): tests/link/preempt.c.
PREEMPTPROGS := $(foreach v,$(GROWTH_VARIANTS),$(BUILD)/tests/preemptprog_$(v))
$(eval $(call link_variants,preempt))

# A program parked in known places for the gdb extension (test_gdb.c).
GDBPROG := $(BUILD)/tests/gdbprog
$(GDBPROG): tests/link/gdbprog.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pkg-config)"
	$(Q)$(call pcbuild,$(CC),goro,$(WARN) -O1 -g)

# A program that stalls its P in a library built without -fsplit-stack
# (GORO_STALL_REPORT, test_stall.c): tests/link/stall.c against
# tests/link/stallslow.c, the library built as users' other libraries are.
STALLLIB  := $(BUILD)/tests/libstallslow.so
STALLPROG := $(BUILD)/tests/stallprog
$(STALLLIB): tests/link/stallslow.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (library, no split-stack)"
	$(Q)$(CC) -shared -fPIC -std=gnu11 $(WARN) -O1 -g $< -o $@
$(STALLPROG): tests/link/stall.c $(STALLLIB) $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pkg-config)"
	$(Q)$(call pcbuild,$(CC),goro,$(WARN) -O1 -g,-L$(BUILD)/tests -lstallslow -Wl$(comma)-rpath$(comma)$(CURDIR)/$(BUILD)/tests)

# The adapters' clients (tests/link/ADAPTER.c, run by tests/test_ADAPTER.c),
# built with `pkg-config --cflags --libs goro goro-ADAPTER`.
ADAPTERPROGS := $(patsubst %,$(BUILD)/tests/%prog,$(ADAPTERS))
$(BUILD)/tests/%prog: tests/link/%.c $(BUILD)/lib/libgoro_%.so $(BUILD)/pkgconfig/goro-%.pc
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pkg-config goro-$*)"
	$(Q)$(call pcbuild,$(CC),goro goro-$*,-std=gnu11 $(WARN) $(SANFLAGS) -O2 -g,,$(SANLIBS))

# A program whose execution trace is known (test_trace.c).
TRACEPROG := $(BUILD)/tests/traceprog
$(TRACEPROG): tests/link/traceprog.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pkg-config)"
	$(Q)$(call pcbuild,$(CC),goro,$(WARN) -O1 -g)

# Gs that call libc (tests/link/libc.c), built the same four ways.
LIBCPROGS := $(foreach v,$(GROWTH_VARIANTS),$(BUILD)/tests/libcprog_$(v))
$(eval $(call link_variants,libc))

# Gs locked to their threads (tests/link/lockthread.c), the same four ways:
# asynchronous preemption acts only on code built against goro.
LOCKPROGS := $(foreach v,$(GROWTH_VARIANTS),$(BUILD)/tests/lockthreadprog_$(v))
$(eval $(call link_variants,lockthread))

# Every wait a context ends, while the waiters' stacks move
# (tests/link/waits.c), the same four ways:
WAITSPROGS := $(foreach v,$(GROWTH_VARIANTS),$(BUILD)/tests/waitsprog_$(v))
$(eval $(call link_variants,waits))

# The daemon's tests drive the real gorod and goroctl (tests/gorod/, a
# Criterion binary of its own) with the example plugins and the test plugins
# of tests/gorod/plugins/: NAME.c built like any plugin, NAME_nosplit.c
# without -fsplit-stack (and so without the split-stack note).
GOROD_TEST_SRCS := $(wildcard tests/gorod/*.c)
GOROD_TESTBIN   := $(BUILD)/tests/gorod-tests
TESTPLUGIN_SRCS := $(wildcard tests/gorod/plugins/*.c)
TESTPLUGINS     := $(patsubst tests/gorod/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(TESTPLUGIN_SRCS))

# It links libgoro for the table of knobs (goro_config_knob and its
# neighbours, which run on any thread), not to start the runtime, and
# gorod's table of its own keys (src/gorod/configkeys.c, data only).
$(GOROD_TESTBIN): $(GOROD_TEST_SRCS) src/gorod/configkeys.c src/gorod/config.h \
                  src/gorod/gorod.h $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O1 -g $(SANFLAGS) -Iinclude -Isrc/gorod \
	    -o $@ $(GOROD_TEST_SRCS) src/gorod/configkeys.c -L$(BUILD)/lib -lgoro \
	    -Wl,-rpath,$(CURDIR)/$(BUILD)/lib -lcriterion -lpthread

$(BUILD)/tests/plugins/%_nosplit.so: tests/gorod/plugins/%_nosplit.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin, no split-stack)"
	$(Q)$(CC) -shared -fPIC -std=gnu11 $(WARN) -O2 -Iinclude $< \
	    -L$(BUILD)/lib -lgoro -Wl,-rpath,$(CURDIR)/$(BUILD)/lib -o $@

$(BUILD)/tests/plugins/%.so: tests/gorod/plugins/%.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin)"
	$(Q)$(call pcbuild,$(CC),goro,-fPIC -std=gnu11 $(WARN) -O2,-shared)

# hello.c twice more: built in one line as users build a plugin, and linked
# with libgcc's __morestack instead of goro's stubs (gorod refuses it).
TESTPLUGINS += $(BUILD)/tests/plugins/hello_oneline.so \
               $(BUILD)/tests/plugins/hello_libgcc.so
$(BUILD)/tests/plugins/hello_oneline.so: tests/gorod/plugins/hello.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin, one line)"
	$(Q)PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig; export PKG_CONFIG_PATH; \
	  $(CC) -shared -fPIC $$(pkg-config --cflags --libs goro) $< -o $@

$(BUILD)/tests/plugins/hello_libgcc.so: tests/gorod/plugins/hello.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (plugin, libgcc's __morestack)"
	$(Q)$(CC) -shared -fPIC -fsplit-stack -fuse-ld=gold -Iinclude $< \
	    -L$(BUILD)/lib -lgoro -Wl,-rpath,$(CURDIR)/$(BUILD)/lib -o $@

GOROD_TESTENV := GOROD=$(CURDIR)/$(GOROD) GOROCTL=$(CURDIR)/$(GOROCTL) \
                 GOROD_PLUGINS=$(CURDIR)/$(BUILD)/plugins \
                 GOROD_TESTPLUGINS=$(CURDIR)/$(BUILD)/tests/plugins \
                 GOROD_SRCDIR=$(CURDIR)

# One test at a time: the wake-latency and timer checks need the cores the
# spinners of the preemption tests would otherwise take.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(TESTBIN) $(LINKPROG) $(PREEMPTPROGS) $(LIBCPROGS) $(LOCKPROGS) $(WAITSPROGS) $(GDBPROG) $(TRACEPROG) $(STALLPROG) \
	  $(DAEMON) $(GOROD_TESTBIN) $(TESTPLUGINS) $(ADAPTER_LIBS) $(ADAPTER_PCS) $(ADAPTERPROGS)
	$(Q)$(SAN_BEGIN)
	$(Q)GORO_LINKPROG=$(CURDIR)/$(LINKPROG) \
	  GORO_HIREDISPROG=$(CURDIR)/$(BUILD)/tests/hiredisprog \
	  GORO_SSLPROG=$(CURDIR)/$(BUILD)/tests/sslprog \
	  GORO_PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig GORO_SRCDIR=$(CURDIR) \
	  GORO_PREEMPTPROG=$(CURDIR)/$(BUILD)/tests/preemptprog \
	  GORO_LIBCPROG=$(CURDIR)/$(BUILD)/tests/libcprog \
	  GORO_LOCKPROG=$(CURDIR)/$(BUILD)/tests/lockthreadprog \
	  GORO_WAITSPROG=$(CURDIR)/$(BUILD)/tests/waitsprog \
	  GORO_GDBPROG=$(CURDIR)/$(GDBPROG) \
	  GORO_TRACEPROG=$(CURDIR)/$(TRACEPROG) \
	  GORO_STALLPROG=$(CURDIR)/$(STALLPROG) \
	  sh scripts/run-suite $(BUILD)/test-runtime.log ./$(TESTBIN) --jobs 1 $(TESTFLAGS)
	$(Q)$(GOROD_TESTENV) sh scripts/run-suite $(BUILD)/test-daemon.log ./$(GOROD_TESTBIN) --jobs 1 $(TESTFLAGS)
	$(Q)$(SAN_END)
	$(Q)$(if $(SAN),:,$(MAKE) --no-print-directory asan)

# make test RUNS times (3) and make test SAN=undefined as often, with two
# copies of the preemption tests looping beside them (scripts/test-loaded).
.PHONY: test-loaded
test-loaded: deps
	$(Q)sh scripts/test-loaded

# ---- benchmarks and demo ----------------------------------------------------

BENCH_SRCS  := $(wildcard bench/*.c)
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

$(BUILD)/bench/%: bench/%.c $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(call pcbuild,$(CC),goro,-std=gnu11 -O2 -g $(WARN))

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

# make run CONFIG=FILE PORTS=+N: gorod in the foreground on FILE
# (config/gorod.yaml), every port of it moved by N when PORTS is given;
# a port already taken is named before gorod starts, with a PORTS that
# frees them all (scripts/run-gorod). gorod logs where to connect.
CONFIG      ?= config/gorod.yaml
PORTS       ?=
run: deps
	$(Q)$(MAKE) --no-print-directory all $(DAEMON)
	$(Q)sh scripts/run-gorod ./$(GOROD) '$(CONFIG)' '$(PORTS)' $(BUILD)

# ---- sanitizers: make test SAN=undefined ----------------------------------
# The handlers of src/san/ubsan.c are built -fsplit-stack (so that gold does
# not rewrite their callers) and not instrumented. Every process of a run
# writes its reports to $(SANREPORTS)/report.PID (UBSAN_OPTIONS, exported);
# `make test` empties the directory first (SAN_BEGIN) and fails at the end
# if any report is there (SAN_END), so that a report fails the run even
# from a process that a test expects to fail.

$(BUILD)/obj/san/%.o: src/san/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(RTFLAGS) $(CFLAGS) -fno-sanitize=all -c $< -o $@

ifneq ($(SAN),)
SANREPORTS  := $(CURDIR)/$(BUILD)/reports
export UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1:log_path=$(SANREPORTS)/report
SAN_BEGIN   := rm -rf $(SANREPORTS) && mkdir -p $(SANREPORTS)
SAN_END     := if [ -n "$$(ls $(SANREPORTS))" ]; then cat $(SANREPORTS)/*; \
               echo "SAN=$(SAN): sanitizer reports in $(SANREPORTS) (above)"; \
               exit 1; fi; echo "SAN=$(SAN): no sanitizer reports"
else
SAN_BEGIN   := :
SAN_END     := :
endif

# ---- memcheck: make memcheck ------------------------------------------------
# The channel, select, scheduler and sync tests of build/tests/goro-tests
# under valgrind's memcheck. The runtime registers every G stack with
# valgrind (src/runtime/stack.c), so that moving %rsp between Gs is a stack
# switch to memcheck, not a frame of megabytes. Criterion runs each test in
# a process of its own: each logs to $(MEMCHECKLOG)/vg.PID (-q: errors
# only), and a log that is not empty fails the target, whatever the test
# made of its exit. Left out: the million-spawn test, which at valgrind's
# speed outlasts its own timeout (the other tests take the same paths).
# --fair-sched=yes: valgrind runs one thread at a time, and without it a
# thread that only yields may keep the CPU, so that the tests that need
# both Ps busy never see the second one run.
VALGRIND       ?= valgrind
MEMCHECKLOG    := $(CURDIR)/$(BUILD)/memcheck
MEMCHECK_TESTS ?= @(chan|select|sched|sync)/!(spawns_and_joins_a_million_gs_on_two_procs)
MEMCHECKFLAGS  := --tool=memcheck --error-exitcode=1 --trace-children=yes --fair-sched=yes \
                  --suppressions=$(CURDIR)/tests/valgrind.supp -q

.PHONY: memcheck
memcheck: deps
	$(Q)$(MAKE) --no-print-directory $(TESTBIN)
	$(Q)rm -rf $(MEMCHECKLOG) && mkdir -p $(MEMCHECKLOG)
	$(Q)rc=0; $(VALGRIND) $(MEMCHECKFLAGS) --log-file=$(MEMCHECKLOG)/vg.%p \
	  ./$(TESTBIN) --jobs 1 --filter '$(MEMCHECK_TESTS)' $(TESTFLAGS) || rc=$$?; \
	if [ -n "$$(find $(MEMCHECKLOG) -type f -size +0)" ]; then \
	  cat $$(find $(MEMCHECKLOG) -type f -size +0); \
	  echo "memcheck: errors (above; logs in $(MEMCHECKLOG))"; exit 1; fi; \
	if [ $$rc -ne 0 ]; then \
	  echo "memcheck: no memcheck errors, but the tests failed"; exit $$rc; fi; \
	echo "memcheck: no errors"

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
STRESS_TARGETS := stress-runtime stress-gorod

$(BUILD)/tests/stress/%: tests/stress/%.c tests/stress/stress.h $(LIB) $(STUBLIB) $(PC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(call pcbuild,$(CC),goro,-std=gnu11 -O2 -g $(WARN))

.PHONY: stress stress-runtime
stress: $(STRESS_TARGETS)

stress-runtime: deps
	$(Q)$(MAKE) --no-print-directory all $(STRESS_BINS)
	$(Q)sh scripts/stress $(BUILD)/tests/stress

# ---- install ----------------------------------------------------------------
# make install PREFIX=/usr/local DESTDIR=/tmp/stage installs under
# $(DESTDIR)$(PREFIX):
#   bin/          gorod, goroctl
#   lib/          libgoro.so.$(VERSION) (SONAME libgoro.so.$(SOVERSION)) and
#                 the links libgoro.so.$(SOVERSION) and libgoro.so; the
#                 adapters the same way (libgoro_NAME.so.$(VERSION), ...);
#                 libgoro_morestack.a; pkgconfig/goro.pc and goro-NAME.pc
#                 (with the $(PREFIX) paths, not DESTDIR's); goro/plugins/,
#                 the example plugins
#   include/      goro.h; goro/: plugin.h and the adapters' headers;
#                 goro/plugins/: the example plugins' helpers (args.h,
#                 tcpserver.h), #include <goro/plugins/tcpserver.h>
#   share/man/    gorod(8), goroctl(8), gorod.yaml(5), goro(3) (make man)
#   share/goro/   goro-gdb.py
# the systemd units in $(SYSTEMDUNITDIR): /lib/systemd/system for PREFIX=/usr
# (the distribution's place), else $(PREFIX)/lib/systemd/system
# (/usr/local/lib/systemd/system is on systemd's unit path: the unit of a
# local install stays out of the distribution's directory); and the
# configuration as $(SYSCONFDIR)/goro/gorod.yaml: SYSCONFDIR is
# $(PREFIX)/etc (/usr/local/etc), /etc for PREFIX=/usr, or as given.
# gorod's default --config is that file (GOROD_SYSCONFDIR, built in) and the
# unit names it. The configuration is config/gorod.yaml with the plugin
# paths pointing at the installed plugins and the admin socket at
# /run/gorod/gorod.sock (the unit's RuntimeDirectory), made in
# $(BUILD)/install/. An existing configuration is kept: the new one is
# written beside it as gorod.yaml.default. gorod finds the installed
# libgoro.so.$(SOVERSION) through its rpath, $ORIGIN/../lib.

BINDIR         ?= $(PREFIX)/bin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
SYSCONFDIR     ?= $(if $(filter /usr /usr/,$(PREFIX)),/etc,$(PREFIX)/etc)
MANDIR         ?= $(PREFIX)/share/man
PLUGINDIR      ?= $(LIBDIR)/goro/plugins
SYSTEMDUNITDIR ?= $(if $(filter /usr /usr/,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
RUNDIR_SOCK    := /run/gorod/gorod.sock

# $(BUILD)/stamp/paths holds the paths built into gorod, the configuration,
# the unit and the man pages; it is rewritten only when they change, so
# that what depends on it is made again then and only then.
INSTALL_PATHS := $(PREFIX) $(BINDIR) $(LIBDIR) $(SYSCONFDIR) $(PLUGINDIR) $(MANDIR)
.PHONY: FORCE
$(BUILD)/stamp/paths: FORCE
	@mkdir -p $(dir $@)
	$(Q)echo '$(INSTALL_PATHS)' > $@.tmp; \
	  if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

INSTCONF := $(BUILD)/install/gorod.yaml
INSTUNIT := $(BUILD)/install/gorod.service

$(INSTCONF): config/gorod.yaml $(BUILD)/stamp/paths
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)sed -e 's|\(\.\./\)*build/plugins/|$(PLUGINDIR)/|g' \
	    -e 's|\(\.\./\)*build/gorod\.sock|$(RUNDIR_SOCK)|g' $< > $@.tmp
	$(Q)if grep -n 'build/' $@.tmp; then \
	  echo "install: config/gorod.yaml: a path into the build tree is left (above)"; \
	  rm -f $@.tmp; exit 1; fi
	$(Q)mv -f $@.tmp $@

$(INSTUNIT): systemd/gorod.service $(BUILD)/stamp/paths
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.tmp
	$(Q)mv -f $@.tmp $@

# The man pages, plain roff (man(7)) written by scripts/mkman from
# docs/man/PAGE.in and the sources the rest of the docs come from:
# gorod.yaml(5) the runtime's table of knobs (knobdoc man) and the
# installed configuration, gorod(8) and goroctl(8) their --help (the
# options and goroctl's commands), goro(3) the functions goro.h declares.
MANPAGES := $(patsubst docs/man/%.in,$(BUILD)/man/%,$(wildcard docs/man/*.in))
MANGEN_ENV := VERSION=$(VERSION) SOVERSION=$(SOVERSION) PREFIX=$(PREFIX) SYSCONFDIR=$(SYSCONFDIR) \
              LIBDIR=$(LIBDIR) INCLUDEDIR=$(INCLUDEDIR) PLUGINDIR=$(PLUGINDIR) \
              SYSTEMDUNITDIR=$(SYSTEMDUNITDIR) RUNDIR_SOCK=$(RUNDIR_SOCK) \
              KNOBDOC=./$(KNOBDOC) GOROD=./$(GOROD) GOROCTL=./$(GOROCTL) \
              CONFIG=$(INSTCONF) GORO_H=include/goro.h

$(BUILD)/man/%: docs/man/%.in scripts/mkman $(KNOBDOC) $(GOROD) $(GOROCTL) \
                $(INSTCONF) include/goro.h $(BUILD)/stamp/paths
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)$(MANGEN_ENV) sh scripts/mkman $< > $@.tmp
	$(Q)mv -f $@.tmp $@

.PHONY: man
man: $(MANPAGES)

install: all adapters daemon man $(INSTCONF) $(INSTUNIT) systemd/gorod.socket
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/goro/plugins $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/goro $(DESTDIR)$(PREFIX)/share/goro \
	    $(addprefix $(DESTDIR)$(MANDIR)/man,$(sort $(subst .,,$(suffix $(MANPAGES)))))
	install -m 0755 $(GOROD) $(GOROCTL) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(LIBREAL) $(ADAPTER_REALS) $(DESTDIR)$(LIBDIR)/
	cd $(DESTDIR)$(LIBDIR) && $(call sochain,libgoro,.) \
	    $(foreach a,$(ADAPTERS),&& $(call sochain,libgoro_$(a),.))
	install -m 0644 $(STUBLIB) $(DESTDIR)$(LIBDIR)/libgoro_morestack.a
	install -m 0644 include/goro.h $(DESTDIR)$(INCLUDEDIR)/goro.h
	install -m 0644 include/goro/*.h $(DESTDIR)$(INCLUDEDIR)/goro/
	install -m 0644 plugins/*.h $(DESTDIR)$(INCLUDEDIR)/goro/plugins/
	install -m 0644 scripts/goro-gdb.py $(DESTDIR)$(PREFIX)/share/goro/
	$(call make_pc,$(PREFIX),$(DESTDIR)$(LIBDIR)/pkgconfig/goro.pc,$(LIBDIR),$(INCLUDEDIR))
	$(foreach a,$(ADAPTERS),$(call adapter_pc,$(PREFIX),$(LIBDIR),$(INCLUDEDIR),$(a)) \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/goro-$(a).pc;)
	install -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/
	$(foreach m,$(MANPAGES),install -m 0644 $(m) \
	    $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/;)
	install -m 0644 $(INSTUNIT) systemd/gorod.socket $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0644 $(INSTCONF) $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml.default
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml ]; then \
	  echo "install: $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml kept;" \
	       "the new default is gorod.yaml.default"; \
	else \
	  mv $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml.default \
	     $(DESTDIR)$(SYSCONFDIR)/goro/gorod.yaml; \
	fi

# ---- fuzzing and AddressSanitizer ------------------------------------------
# The daemon's pieces that need no G and no runtime, so that they run on an
# ordinary thread stack where AddressSanitizer works (it cannot follow
# stacks that move): the configuration loader, the admin command line's
# parser, the ELF note check and the Prometheus text, built alone by clang
# without -fsplit-stack (clang refuses variadic split-stack functions;
# tests/fuzz/goro_stubs.c stands in for the runtime's errno hook). The
# system's libyaml and libcyaml are not instrumented. tests/fuzz/ has the
# libFuzzer targets, their seed corpora and dictionaries, the crash inputs
# kept as regressions (regress/TARGET/) and asan_checks.c.
#
#   make fuzz          fuzz each target FUZZ_TIME seconds (default 60) on a
#                      scratch copy of its corpus in build/fuzz/TARGET/; a
#                      crash fails and names its input
#   make fuzz-replay   each target once on its corpus and regressions
#   make asan          fuzz-replay, and asan-checks (ASan+LSan+UBSan): the
#                      ELF check on every built .so and mangled copies, the
#                      loader on every corpus file, the parser, the metrics

FUZZ_TIME    ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_TARGETS := config admin
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
ASAN_FLAGS     := -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_CFLAGS    := -std=gnu11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
                -Iinclude -Isrc/gorod -Isrc/runtime $(WARN)
ASANCHECKS   := $(BUILD)/asan/asan-checks
# The configuration loader: config.c and the files it is split into.
CONFIG_SRCS  := src/gorod/config.c src/gorod/configwalk.c \
                src/gorod/configvalues.c src/gorod/configknobs.c \
                src/gorod/configkeys.c \
                src/gorod/configplugins.c src/gorod/configprint.c \
                src/gorod/configmsg.c src/gorod/keylines.c

$(FUZZ_DIR)/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_SRCS) \
                         src/runtime/config.c tests/fuzz/goro_stubs.c \
                         src/gorod/gorod.h src/gorod/config.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (libFuzzer)"
	$(Q)$(CLANG) $(ASAN_CFLAGS) -fsanitize=fuzzer $(ASAN_FLAGS) -o $@ \
	    $(filter %.c,$^) -lcyaml -lyaml

$(FUZZ_DIR)/fuzz_admin: tests/fuzz/fuzz_admin.c src/gorod/admincmd.c \
                        src/gorod/strbuf.c src/runtime/config.c \
                        tests/fuzz/goro_stubs.c src/gorod/gorod.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (libFuzzer)"
	$(Q)$(CLANG) $(ASAN_CFLAGS) -fsanitize=fuzzer $(ASAN_FLAGS) -o $@ \
	    $(filter %.c,$^)

$(ASANCHECKS): tests/fuzz/asan_checks.c src/gorod/elfnote.c \
               $(CONFIG_SRCS) src/runtime/config.c src/gorod/admincmd.c \
               src/gorod/exposition.c src/gorod/strbuf.c \
               tests/fuzz/goro_stubs.c src/gorod/gorod.h src/gorod/config.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (ASan)"
	$(Q)$(CLANG) $(ASAN_CFLAGS) $(ASAN_FLAGS) -o $@ $(filter %.c,$^) \
	    -lcyaml -lyaml

.PHONY: fuzz fuzz-replay asan
fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)
	$(Q)rc=0; for t in $(FUZZ_TARGETS); do \
	  sh tests/fuzz/run fuzz $$t $(FUZZ_DIR)/fuzz_$$t $(FUZZ_TIME) \
	    $(CURDIR)/$(FUZZ_DIR)/$$t || rc=1; \
	done; exit $$rc

fuzz-replay: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
	  sh tests/fuzz/run replay $$t $(FUZZ_DIR)/fuzz_$$t || exit 1; done

asan: fuzz-replay $(ASANCHECKS) $(PLUGINS) $(TESTPLUGINS)
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 \
	  ./$(ASANCHECKS) --elf $(PLUGINS) $(TESTPLUGINS) \
	    --config $(wildcard tests/fuzz/corpus/config/*) \
	    $(wildcard tests/fuzz/regress/config/*) /nonexistent/gorod.yaml

# ---- soak and connection stress of the daemon ---------------------------------
# make soak: the real gorod under a steady load of clients that are not goro
# (wrk, tests/soak/echoload) for SOAK_DURATION seconds (default 600); RSS
# drift, client errors, Gs and stack bytes back to the baseline
# (tests/soak/soak.sh; results in build/soak/). make stress-gorod: 10,000 TCP
# connections held open at once through the echo plugin, every echo checked
# (tests/stress/gorod_stress.sh; STRESS_CONNS=). Neither runs in make test.
# The clients are ordinary programs.

SOAK_DURATION ?= 600
STRESS_CONNS  ?= 10000
SOAK_ECHOLOAD := $(BUILD)/tests/soak/echoload
GOROD_CONNS   := $(BUILD)/tests/stress/gorod_conns
SOAK_ENV      := GOROD=$(CURDIR)/$(GOROD) GOROCTL=$(CURDIR)/$(GOROCTL) \
                 PLUGINS=$(CURDIR)/$(BUILD)/plugins

$(SOAK_ECHOLOAD): tests/soak/echoload.c tests/loadclient.h
$(GOROD_CONNS): tests/stress/gorod_conns.c tests/loadclient.h
$(SOAK_ECHOLOAD) $(GOROD_CONNS):
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -g -o $@ $<

.PHONY: soak stress-gorod
soak: deps
	$(Q)$(MAKE) --no-print-directory all $(DAEMON) $(SOAK_ECHOLOAD)
	$(Q)$(SOAK_ENV) ECHOLOAD=$(CURDIR)/$(SOAK_ECHOLOAD) OUT=$(BUILD)/soak \
	  SOAK_DURATION=$(SOAK_DURATION) sh tests/soak/soak.sh

stress-gorod: deps
	$(Q)$(MAKE) --no-print-directory all $(DAEMON) $(GOROD_CONNS)
	$(Q)$(SOAK_ENV) GOROD_CONNS=$(CURDIR)/$(GOROD_CONNS) \
	  OUT=$(BUILD)/stress-gorod STRESS_CONNS=$(STRESS_CONNS) \
	  sh tests/stress/gorod_stress.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
