# socialize - build, test, demo, install.
#   make demo      installs what is missing, builds, runs the main example
#   make test      installs what is missing, builds, runs every test
#   make install   PREFIX=/usr/local DESTDIR= LUA_VERSION=5.4 (the modules, the C library, bin/socialize)
#   make uninstall the same variables: removes what install put there
#   make install-lib  only the C library: libsocialize.so/.a, socialize.h, socialize.pc
#   make examples-c   installs the C library into a temp dir, builds examples/c against it
LUA_VERSION ?= 5.4
PREFIX      ?= /usr/local
DESTDIR     ?=
# LUA_VERSION=5.4 | 5.1 | jit : one module per ABI, each in its own build dir.
ifeq ($(LUA_VERSION),jit)
LUA         ?= luajit
LUA_PC      ?= luajit
LUA_ABI      = 5.1
BUILD        = build/luajit
else
LUA         ?= lua$(LUA_VERSION)
LUA_PC      ?= lua$(LUA_VERSION)
LUA_ABI      = $(LUA_VERSION)
BUILD        = build/lua$(LUA_VERSION)
endif
LUA_CFLAGS  ?= $(shell pkg-config --cflags $(LUA_PC) 2>/dev/null)
LUA_CMODULE_DIR ?= $(PREFIX)/lib/lua/$(LUA_ABI)
LUA_MODULE_DIR  ?= $(PREFIX)/share/lua/$(LUA_ABI)
LIBDIR          ?= $(PREFIX)/lib
INCLUDEDIR      ?= $(PREFIX)/include
PKGCONFIGDIR    ?= $(LIBDIR)/pkgconfig
BINDIR          ?= $(PREFIX)/bin
# the interpreter the installed `socialize` command runs on (its shebang)
LUA_INTERP      ?= $(shell command -v $(LUA) 2>/dev/null || echo /usr/bin/$(LUA))

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-function
ALL_CFLAGS = -std=c99 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) $(CFLAGS) \
             -Icsrc/include -Icsrc/core -Ibuild/gen -Icsrc/lua $(LUA_CFLAGS)
# the transport sees the core's public header only, never its internals
CURL_CFLAGS = $(filter-out -Icsrc/core -Ibuild/gen,$(ALL_CFLAGS))
LIBFLAG ?= -shared
LDFLAGS ?=

# One file per network: the registry is generated from the files present.
NET_SRC  = $(sort $(wildcard csrc/core/net/*.c))
REGISTRY = build/gen/sz_registry.c
CORE_SRC = csrc/core/sz_util.c csrc/core/sz_json.c csrc/core/sz_encode.c csrc/core/sz_params.c \
           csrc/core/sz_sign.c csrc/core/sz_request.c csrc/core/sz_response.c \
           csrc/core/sz_text.c csrc/core/sz_cut.c csrc/core/sz_facets.c csrc/core/sz_engine.c csrc/core/sz_compose.c csrc/core/sz_media.c csrc/core/sz_oauth.c csrc/core/sz_oauth1.c csrc/core/sz_oauth_graph.c csrc/core/sz_netkit.c csrc/core/sz_recent.c csrc/core/sz_intent.c \
           csrc/core/sz_guard.c csrc/core/sz_result.c $(NET_SRC) $(REGISTRY)
CORE_HDR = csrc/include/socialize.h csrc/core/sz_internal.h csrc/core/sz_codes.h csrc/core/sz_text.h csrc/lua/lsz_compat.h \
           csrc/core/sz_netkit.h csrc/core/sz_textkit.h csrc/core/sz_jansson.h build/gen/sz_textdata.h
CORE_LIBS = -ljansson -lcrypto -licuuc -lm
# the Lua binding (socialize.core), the libcurl transport (socialize.curl), the C tests
BIND_SRC = csrc/lua/lsocialize_core.c csrc/lua/lsz_json.c csrc/lua/lsz_sign.c csrc/lua/lsz_provider.c csrc/lua/lsz_file.c \
           csrc/lua/lsz_reply.c csrc/lua/lsz_ffi.c
BIND_HDR = csrc/lua/lsz_core.h csrc/lua/lsz_capi.h
CURL_SRC = csrc/curl/lsocialize_curl.c csrc/curl/lsz_curl_xfer.c csrc/curl/lsz_curl_multi.c csrc/curl/lsz_cli.c \
           csrc/curl/lsz_curl_gigya.c
CURL_HDR = csrc/curl/lsz_curl.h csrc/lua/lsz_capi.h
GUARD_SRC = csrc/core/sz_guard.c csrc/core/sz_internal.h
TEST_SRC = csrc/test/test_core.c csrc/test/test_sign.c csrc/test/test_net.c csrc/test/test_hard.c \
           csrc/test/test_compose.c csrc/test/test_api.c csrc/test/test_json.c csrc/test/test_media.c
TEST_HDR = csrc/test/tap.h csrc/test/test_util.h
# the store (socialize.store): SQLite and PostgreSQL, secrets sealed with
# OpenSSL; outside the core, which does no I/O
STORE_SRC = csrc/store/sz_store.c csrc/store/sz_store_ops.c csrc/store/sz_outbox.c csrc/store/sz_outbox_record.c csrc/store/sz_txn.c csrc/store/sz_seal.c \
            csrc/store/sz_sqlite.c csrc/store/sz_pg.c
STORE_LSRC = csrc/store/lsz_store.c csrc/store/lsz_outbox.c csrc/store/lsz_txn.c csrc/store/lsz_outbox.h
STORE_HDR = csrc/store/sz_store.h csrc/store/sz_store_int.h csrc/store/sz_store_ops.h csrc/store/sz_outbox_int.h
STORE_CFLAGS = $(filter-out -Icsrc/core -Ibuild/gen,$(ALL_CFLAGS)) -Icsrc/store \
               $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
STORE_LIBS = -lsqlite3 -lpq -ljansson -lcrypto
STORE_SO = $(BUILD)/socialize/store.so
CORE_SO  = $(BUILD)/socialize/core.so
CURL_SO  = $(BUILD)/socialize/curl.so
LUA_SRC  = $(wildcard lua/socialize.lua lua/socialize/*.lua)

.PHONY: oracles all deps test test-c test-lua demo bench soak fuzz install install-bin uninstall clean check cppcheck rock rock-install docs-tables \
        FORCE lib install-lib examples-c lib-store install-lib-store

all: $(CORE_SO) $(CURL_SO) $(STORE_SO)

# rewritten only when the set of network files changes
$(REGISTRY): FORCE
	@sh csrc/core/gen-registry $@ $(NET_SRC)
FORCE:

# TLDs and emoji sequences for text counting, from Debian's publicsuffix and
# unicode-data packages (csrc/gen/textdata.sh). Regenerated on every build
# (some 20 ms) and rewritten only when its content changes: the data files keep
# their packages' dates, so a header made before `make deps` installed them
# would otherwise stay empty (X then counts a ZWJ sequence per code point).
build/gen/sz_textdata.h: csrc/gen/textdata.sh FORCE
	@mkdir -p $(dir $@)
	@sh csrc/gen/textdata.sh $@

deps:
	@sh .ci/install-deps

# The networks' reference code for spec/oracle_spec.lua (twitter-text,
# @atproto/api), pinned by spec/oracles/package-lock.json; installed once,
# then offline.
oracles: spec/oracles/node_modules/.package-lock.json
spec/oracles/node_modules/.package-lock.json: spec/oracles/package.json spec/oracles/package-lock.json
	@cd spec/oracles && npm ci --no-audit --no-fund >/dev/null || { \
	    echo "make oracles: npm ci failed in spec/oracles (is the npm registry reachable?)" >&2; exit 1; }

# socialize.core embeds its own copy of the core, compiled with -DSZ_API= so
# that nothing but luaopen_socialize_core is exported: it never links
# against libsocialize, and a host that loads both gets two copies that
# cannot interpose on each other.
$(CORE_SO): $(CORE_SRC) $(BIND_SRC) $(BIND_HDR) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DSZ_API= $(LIBFLAG) -o $@ $(CORE_SRC) $(BIND_SRC) \
	    $(LDFLAGS) $(CORE_LIBS) -Wl,-z,nodelete

# The transport uses the core's public API only (socialize.h): the
# private-network guard, sz_guard.c, which links nothing else of the core
# (from sz_internal.h it takes the macro sz_ctl_byte) and is compiled in with
# hidden symbols (SZ_API empty).
$(CURL_SO): $(CURL_SRC) $(CURL_HDR) $(GUARD_SRC) csrc/include/socialize.h csrc/lua/lsz_compat.h
	@mkdir -p $(dir $@)
	$(CC) $(CURL_CFLAGS) -DSZ_API= $(LIBFLAG) -o $@ $(CURL_SRC) $(filter %.c,$(GUARD_SRC)) \
	    $(LDFLAGS) -lcurl -lm

$(STORE_SO): $(STORE_SRC) $(STORE_LSRC) $(STORE_HDR) csrc/lua/lsz_compat.h
	@mkdir -p $(dir $@)
	$(CC) $(STORE_CFLAGS) -DSZ_STORE_API= $(LIBFLAG) -o $@ $(STORE_SRC) $(filter %.c,$(STORE_LSRC)) \
	    $(LDFLAGS) $(STORE_LIBS)

# The C library for C and C++ hosts: libsocialize.so.$(LIB_VERSION) (SONAME
# libsocialize.so.0; only the sz_ API of socialize.h is exported) and
# libsocialize.a, from the same position-independent objects, with
# socialize.pc for pkg-config. The version is the header's SZ_VERSION_STRING.
LIB_VERSION := $(shell sed -n 's/^\#define SZ_VERSION_STRING "\(.*\)"/\1/p' csrc/include/socialize.h)
LIB_MAJOR   := $(firstword $(subst ., ,$(LIB_VERSION)))
LIB_DIR      = build/lib
LIB_SO       = $(LIB_DIR)/libsocialize.so.$(LIB_VERSION)
LIB_A        = $(LIB_DIR)/libsocialize.a
LIB_OBJ      = $(patsubst %.c,$(LIB_DIR)/obj/%.o,$(CORE_SRC))
LIB_CFLAGS   = -std=c99 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) $(CFLAGS) \
               -Icsrc/include -Icsrc/core -Ibuild/gen

lib: $(LIB_SO) $(LIB_A)
$(LIB_DIR)/obj/%.o: %.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<
$(LIB_SO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libsocialize.so.$(LIB_MAJOR) -o $@ $(LIB_OBJ) $(LDFLAGS) $(CORE_LIBS)
	ln -sf libsocialize.so.$(LIB_VERSION) $(LIB_DIR)/libsocialize.so.$(LIB_MAJOR)
	ln -sf libsocialize.so.$(LIB_MAJOR) $(LIB_DIR)/libsocialize.so
$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

install-lib: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libsocialize.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/libsocialize.so.$(LIB_MAJOR)
	ln -sf libsocialize.so.$(LIB_MAJOR) $(DESTDIR)$(LIBDIR)/libsocialize.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0644 csrc/include/socialize.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(LIB_VERSION)|g' csrc/socialize.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/socialize.pc

# The store for C hosts: libsocialize_store.so.$(LIB_VERSION) (SONAME
# libsocialize_store.so.0; only sz_store_* exported) and sz_store.h, which
# names no third-party type; socialize-store.pc for pkg-config.
LIB_STORE_SO = $(LIB_DIR)/libsocialize_store.so.$(LIB_VERSION)
lib-store: $(LIB_STORE_SO)
$(LIB_STORE_SO): $(STORE_SRC) $(STORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Icsrc/lua $(LUA_CFLAGS),$(STORE_CFLAGS)) -shared -Wl,-soname,libsocialize_store.so.$(LIB_MAJOR) \
	    -o $@ $(STORE_SRC) $(LDFLAGS) $(STORE_LIBS)
	ln -sf libsocialize_store.so.$(LIB_VERSION) $(LIB_DIR)/libsocialize_store.so.$(LIB_MAJOR)
	ln -sf libsocialize_store.so.$(LIB_MAJOR) $(LIB_DIR)/libsocialize_store.so
install-lib-store: lib-store
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(LIB_STORE_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libsocialize_store.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/libsocialize_store.so.$(LIB_MAJOR)
	ln -sf libsocialize_store.so.$(LIB_MAJOR) $(DESTDIR)$(LIBDIR)/libsocialize_store.so
	install -m 0644 csrc/store/sz_store.h $(DESTDIR)$(INCLUDEDIR)/
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: socialize-store\nDescription: %s\nVersion: %s\nLibs: -L$${libdir} -lsocialize_store\nLibs.private: -lsqlite3 -lpq -ljansson -lcrypto\nCflags: -I$${includedir}\n' \
	    '$(PREFIX)' '$(LIBDIR)' '$(INCLUDEDIR)' 'the socialize store: SQLite or PostgreSQL, secrets sealed' '$(LIB_VERSION)' \
	    >$(DESTDIR)$(PKGCONFIGDIR)/socialize-store.pc

# examples/c against an install into a temp dir, through pkg-config only
# (examples/c/run; also a suite of .ci/run-tests)
examples-c:
	@sh examples/c/run

# C unit tests of the core under AddressSanitizer and UndefinedBehaviorSanitizer.
$(BUILD)/test_core: $(CORE_SRC) $(TEST_SRC) $(TEST_HDR) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE -DSZ_TEST_FAIL_ALLOC -g -O1 $(WARN) -fsanitize=address,undefined \
	    -fno-sanitize-recover=all -fno-omit-frame-pointer -Icsrc/include -Icsrc/core -Ibuild/gen \
	    -o $@ $(CORE_SRC) $(TEST_SRC) -lssl $(CORE_LIBS)

test-c: $(BUILD)/test_core $(BUILD)/test_store
	$(BUILD)/test_core spec/vectors/signing_vectors.json spec/vectors/derived_vectors.json spec/vectors/providers
	@d=$$(mktemp -d) && $(BUILD)/test_store $$d; r=$$?; rm -rf $$d; exit $$r

# The store's C API (sz_store.h) under ASan + UBSan, against SQLite files.
$(BUILD)/test_store: $(STORE_SRC) $(STORE_HDR) csrc/test/test_store.c csrc/test/tap.h
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE -g -O1 $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer -Icsrc/store -Icsrc/test $(filter -I%,$(STORE_CFLAGS)) -o $@ \
	    $(STORE_SRC) csrc/test/test_store.c $(STORE_LIBS)

test-lua: all
	LUA=$(LUA) BUILD=$(BUILD) sh .ci/busted

# every ABI is built and tested, in tiers (.ci/tiers, .ci/run-tests): the unit
# specs under lua5.4, lua5.1, luajit, an aggressive GC, ASan and valgrind; the
# specs against the fakes under every ABI; packaging, examples, nginx and the
# oracles once
test: deps oracles
	@$(MAKE) --no-print-directory all build/lua5.4/test_core build/lua5.4/test_store LUA_VERSION=5.4
	@$(MAKE) --no-print-directory all LUA_VERSION=5.1
	@$(MAKE) --no-print-directory all LUA_VERSION=jit
	@$(MAKE) --no-print-directory fuzz-build asan-build
	@sh .ci/run-tests

demo: deps
	@$(MAKE) --no-print-directory all
	@LUA=$(LUA) BUILD=$(BUILD) sh examples/run-demo

# The Lua modules and a small interpreter built with ASan + UBSan, for running
# the busted suite under the sanitizers.
# core.so is never unloaded (-z nodelete): ICU keeps process-wide caches, which a
# dlclose at lua_close would orphan (LeakSanitizer saw them as leaks; a host that
# opens and closes Lua states would lose them each time).
ASAN_FLAGS = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
build/asan/socialize/core.so: $(CORE_SRC) $(BIND_SRC) $(BIND_HDR) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE -DSZ_API= -fPIC -fvisibility=hidden $(WARN) $(ASAN_FLAGS) -Icsrc/include \
	    -Icsrc/core -Ibuild/gen -Icsrc/lua $(shell pkg-config --cflags lua5.4) -shared -o $@ $(CORE_SRC) \
	    $(BIND_SRC) $(CORE_LIBS) -Wl,-z,nodelete
build/asan/socialize/curl.so: $(CURL_SRC) $(CURL_HDR) $(GUARD_SRC) csrc/include/socialize.h csrc/lua/lsz_compat.h
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE -DSZ_API= -fPIC -fvisibility=hidden $(WARN) $(ASAN_FLAGS) -Icsrc/include \
	    -Icsrc/lua $(shell pkg-config --cflags lua5.4) -shared -o $@ $(CURL_SRC) $(filter %.c,$(GUARD_SRC)) -lcurl -lm
build/asan/lua-asan: csrc/test/lua_asan.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) $(shell pkg-config --cflags lua5.4) -o $@ $< -Wl,-E $(shell pkg-config --libs lua5.4)
build/asan/socialize/store.so: $(STORE_SRC) $(STORE_LSRC) $(STORE_HDR) csrc/lua/lsz_compat.h
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE -DSZ_STORE_API= -fPIC -fvisibility=hidden $(WARN) $(ASAN_FLAGS) -Icsrc/store -Icsrc/lua \
	    $(filter -I%,$(STORE_CFLAGS)) $(shell pkg-config --cflags lua5.4) -shared -o $@ $(STORE_SRC) $(filter %.c,$(STORE_LSRC)) \
	    $(STORE_LIBS)
asan-build: build/asan/socialize/core.so build/asan/socialize/curl.so build/asan/socialize/store.so build/asan/lua-asan

# libFuzzer targets (clang), with ASan and UBSan. `make fuzz FUZZ_SECONDS=300`;
# `make test` runs each for a few seconds.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = response provider sign lua_json guard text
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
             -Icsrc/include -Icsrc/core -Ibuild/gen -Icsrc/lua
build/fuzz/fuzz_%: fuzz/fuzz_%.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p build/fuzz
	clang $(FUZZ_FLAGS) -o $@ $< $(CORE_SRC) -ljansson -lssl -lcrypto -licuuc -lm
build/fuzz/fuzz_lua_json: fuzz/fuzz_lua_json.c $(BIND_SRC) $(BIND_HDR) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p build/fuzz
	clang $(FUZZ_FLAGS) $(shell pkg-config --cflags lua5.4) -o $@ $< $(BIND_SRC) \
	    $(CORE_SRC) $(shell pkg-config --libs lua5.4) -ljansson -lssl -lcrypto -licuuc -lm
fuzz-build: $(addprefix build/fuzz/fuzz_,$(FUZZ_TARGETS))
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh .ci/fuzz $(FUZZ_TARGETS)

bench: deps
	@sh .ci/install-deps lua-luaossl lua-socket lua-cjson wrk
	@$(MAKE) --no-print-directory all LUA_VERSION=5.4
	@$(MAKE) --no-print-directory all LUA_VERSION=jit
	@sh bench/run

# 100,000 asynchronous calls at concurrency 256, then 100,000 queued deliveries
# (bench/outbox_soak.lua), each bounded in time (SOAK_SECONDS); bench/outbox_vs_direct.lua,
# bench/outbox_capacity.lua, bench/worker_concurrency.lua and bench/outbox_pg_cpu.lua between them
soak: deps
	@$(MAKE) --no-print-directory all
	@SOCIALIZE_ROOT=$(CURDIR) BUILD=$(BUILD) LUA_PATH="lua/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/soak.lua
	@# queued delivery against direct calls to the same sandbox, side by side (1 and 4 processes, instructions each)
	@SOCIALIZE_ROOT=$(CURDIR) BUILD=$(BUILD) LUA_PATH="lua/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/outbox_vs_direct.lua
	@# the queue alone (a transport answering at once) beside what the sandbox serves, and the worker against direct
	@# asynchronous calls at --concurrency 16, 64 and 256 against a network holding each reply 50 ms, on SQLite and PostgreSQL
	@SOCIALIZE_ROOT=$(CURDIR) BUILD=$(BUILD) LUA_PATH="lua/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/outbox_capacity.lua
	@# one worker process, --concurrency 1 against 4, 16 and 64, against a network holding each reply 50 ms
	@SOCIALIZE_ROOT=$(CURDIR) BUILD=$(BUILD) LUA_PATH="lua/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/worker_concurrency.lua
	@# PostgreSQL's CPU per delivery without a network, and its statements (pg_stat_statements)
	@SOCIALIZE_ROOT=$(CURDIR) LUA_PATH="lua/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/outbox_pg_cpu.lua
	@# the outbox: 100,000 queued deliveries, 5 % failing, on PostgreSQL and SQLite (SOAK_SECONDS per store)
	@SOCIALIZE_ROOT=$(CURDIR) BUILD=$(BUILD) LUA_PATH="lua/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/outbox_soak.lua

install: all install-lib
	install -d $(DESTDIR)$(LUA_CMODULE_DIR)/socialize $(DESTDIR)$(LUA_MODULE_DIR)/socialize
	install -m 0755 $(CORE_SO) $(CURL_SO) $(STORE_SO) $(DESTDIR)$(LUA_CMODULE_DIR)/socialize/
	install -m 0644 lua/socialize.lua $(DESTDIR)$(LUA_MODULE_DIR)/
	install -m 0644 $(wildcard lua/socialize/*.lua) $(DESTDIR)$(LUA_MODULE_DIR)/socialize/
	@$(MAKE) --no-print-directory install-bin

# The command (bin/socialize, docs/cli.md): its shebang names the interpreter
# of LUA_VERSION, and it looks for the modules where they were installed first.
install-bin:
	install -d $(DESTDIR)$(BINDIR)
	sed -e '1s|.*|#!$(LUA_INTERP)|' \
	    -e 's|^-- @INSTALL_PATHS@$$|package.path = "$(LUA_MODULE_DIR)/?.lua;" .. package.path; package.cpath = "$(LUA_CMODULE_DIR)/?.so;" .. package.cpath|' \
	    bin/socialize >$(DESTDIR)$(BINDIR)/socialize.tmp
	chmod 0755 $(DESTDIR)$(BINDIR)/socialize.tmp
	mv -f $(DESTDIR)$(BINDIR)/socialize.tmp $(DESTDIR)$(BINDIR)/socialize

# `luarocks make` (the rockspec's build): the modules into build/rock with the
# compiler flags and directories LuaRocks gives, then into its tree.
ROCK_CFLAGS  ?=
ROCK_LDFLAGS ?=
rock:
	rm -rf build/rock
	@$(MAKE) --no-print-directory all BUILD=build/rock LUA_CFLAGS="$(LUA_CFLAGS) $(ROCK_CFLAGS)" \
	    LDFLAGS="$(LDFLAGS) $(ROCK_LDFLAGS)"
rock-install:
	install -d $(DESTDIR)$(LUA_CMODULE_DIR)/socialize $(DESTDIR)$(LUA_MODULE_DIR)/socialize
	install -m 0755 build/rock/socialize/core.so build/rock/socialize/curl.so build/rock/socialize/store.so $(DESTDIR)$(LUA_CMODULE_DIR)/socialize/
	install -m 0644 lua/socialize.lua $(DESTDIR)$(LUA_MODULE_DIR)/
	install -m 0644 $(wildcard lua/socialize/*.lua) $(DESTDIR)$(LUA_MODULE_DIR)/socialize/

uninstall:
	rm -rf $(DESTDIR)$(LUA_CMODULE_DIR)/socialize $(DESTDIR)$(LUA_MODULE_DIR)/socialize
	rm -f $(DESTDIR)$(BINDIR)/socialize
	rm -f $(DESTDIR)$(LUA_MODULE_DIR)/socialize.lua $(DESTDIR)$(INCLUDEDIR)/socialize.h \
	    $(DESTDIR)$(LIBDIR)/libsocialize.so $(DESTDIR)$(LIBDIR)/libsocialize.so.$(LIB_MAJOR) \
	    $(DESTDIR)$(LIBDIR)/libsocialize.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/libsocialize.a \
	    $(DESTDIR)$(PKGCONFIGDIR)/socialize.pc

# The edit-test loop (seconds): the lua5.4 build, the C tests, the tier check
# and the unit specs (no fake server, no real wait). `make test` runs everything.
check:
	@$(MAKE) --no-print-directory all build/lua5.4/test_core LUA_VERSION=5.4
	@sh .ci/check

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    -Icsrc/include -Icsrc/core -Icsrc/store csrc/core csrc/lua csrc/curl csrc/store

clean:
	rm -rf build

# docs/api.md's "UserAction fields by network" table, rendered from the
# network descriptors (spec/field_table.lua; the tests check it is current).
docs-tables: all
	@LUA_PATH="lua/?.lua;./?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) spec/field_table.lua --write docs/api.md
