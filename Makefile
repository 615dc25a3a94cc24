# mte-relay - plain Makefile.  `make` builds ./build/mte-relay.
#   make test     set up, build, run every test (unit, sanitizer pass, integration)
#   make demo     set up, build, run the relay against the demo upstream
#   make fuzz     run the fuzzers of every peer-input parser (FUZZ_SECONDS each, default 60)
#   make bench-crypto
#   make bench-relay    the load generator against upstream, nginx and the relay
#   make bench-stream   streamed responses: per-event delay, bulk download
#   make bench-capacity
#   make client-pack    the browser client as an npm package: build/npm/mte-relay-client-<version>.tgz
#   make static        build/static/mte-relay: one fully static executable
#   make test-static   the integration suite against it
#   make container     the container image from it (CONTAINER_TOOL, default podman)
#   make test-container that image built and run with podman (tests/container)

VERSION  := 0.1.0
CC       ?= cc
BUILD    ?= build
OPT      ?= -O2 -g
SAN      ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
VECTORS  ?= $(abspath ../shared/vectors)

WARN     := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
            -Wshadow -Wvla -Wformat=2 -Wno-format-nonliteral
CPPFLAGS_ALL = -D_GNU_SOURCE -DMTE_RELAY_VERSION='"$(VERSION)"' -iquote src -iquote . $(CPPFLAGS)
CFLAGS_ALL   = -std=c11 $(OPT) $(SAN) $(WARN) -fno-strict-aliasing -MMD -MP $(CFLAGS)
# Full RELRO, symbols bound at start: the parent binds them once before it
# forks, so no worker pays for lazy binding, and the GOT is read-only.
LDFLAGS_ALL  = $(SAN) -Wl,-z,now -Wl,-z,relro $(LDFLAGS)
LDLIBS_ALL   = -lbearssl -lhiredis -lcurl -lcjson $(LDLIBS)

LIB_SRC  := $(sort $(wildcard src/*.c src/store/*.c src/crypto/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/assets.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libmterelay.a
BIN      := $(BUILD)/mte-relay

# Browser client: built by esbuild from client/ (see client/build.mjs).
CLIENT_SRC    := $(sort $(wildcard client/*.js client/*.mjs client/*.ts client/src/*))
CLIENT_ASSETS := $(if $(wildcard client/build.mjs),static/mte-relay-client.js static/mte-relay-client.mjs static/mte-relay-client.d.ts)
ASSETS        := $(sort $(filter-out $(CLIENT_ASSETS),$(wildcard static/*)) $(CLIENT_ASSETS))

.PHONY: all loadgen setup test test-unit test-san test-ct test-node test-browser demo fuzz bench-crypto bench-relay bench-stream bench-capacity install static test-static container test-container clean client-pack
all: $(BIN)

setup:
	@sh scripts/setup.sh

$(BIN): $(BUILD)/main.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# Tests link against the archive, so each pulls in only the modules it uses.
$(LIB): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/gen/assets.c: $(BUILD)/tools/embed $(ASSETS)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed $@ $(ASSETS)

$(BUILD)/gen/assets.o: $(BUILD)/gen/assets.c
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

# The generator runs at build time, never under sanitizers.
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -Wall -Wextra -Werror -o $@ $<

$(CLIENT_ASSETS) &: $(CLIENT_SRC) client/build.mjs package-lock.json
	node client/build.mjs

# The client as the npm package mte-relay-client (client/package.json, its
# version the relay's): built afresh into $(NPM_DIR)/package, packed into
# $(NPM_DIR)/mte-relay-client-$(VERSION).tgz.
NPM_DIR ?= $(BUILD)/npm
client-pack:
	node client/build.mjs --package $(NPM_DIR)/package --version $(VERSION)
	cd $(NPM_DIR)/package && npm pack --pack-destination $(abspath $(NPM_DIR)) --loglevel=warn

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -DVECTORS_DIR='"$(VECTORS)"' $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIB) -lcriterion $(LDLIBS_ALL)

# Test tools: every tests/tools/*.c is one program linked with the library
# (driven by tests/node, e.g. xwing_tool for the X-Wing cross test).
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIB) $(LDLIBS_ALL)

# The load generator (make bench-relay, tests/node/loadgen.test.mjs): one
# program from tests/bench/loadgen*.c, linked with the library so that its
# sealing and opening are the relay's own code.
LOADGEN_SRC := $(sort $(wildcard tests/bench/loadgen*.c))
LOADGEN     := $(BUILD)/tests/bench/loadgen

$(LOADGEN): $(LOADGEN_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) -lpthread

loadgen: $(LOADGEN)

# Constant-time check: every tests/ct/*.c runs under valgrind memcheck with its
# secrets marked undefined.  The crypto code is rebuilt with CRYPTO_CT_TESTING
# (its declassification hooks) into an archive, so only what is used is linked.
CT_SRC := $(sort $(wildcard tests/ct/*.c))
CT_BIN := $(CT_SRC:tests/ct/%.c=$(BUILD)/tests/ct/%)
CT_OBJ := $(patsubst %.c,$(BUILD)/ct/%.o,$(sort $(wildcard src/crypto/*.c)) src/log.c src/decimal.c src/clientid.c src/hex.c src/json.c)
CT_LIB := $(BUILD)/ct/libcrypto-ct.a

$(BUILD)/ct/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -DCRYPTO_CT_TESTING $(CFLAGS_ALL) -c -o $@ $<

$(CT_LIB): $(CT_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tests/ct/%: tests/ct/%.c $(CT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -DCRYPTO_CT_TESTING $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(CT_LIB) $(LDLIBS_ALL)

test: setup
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-san
	@$(MAKE) --no-print-directory test-ct
	@$(MAKE) --no-print-directory test-node
	@$(MAKE) --no-print-directory test-static
	@$(MAKE) --no-print-directory test-container
	@$(MAKE) --no-print-directory test-browser

# Unit tests: every tests/unit/test_*.c is one criterion binary.
test-unit: $(UNIT_BIN)
	@sh scripts/run-unit.sh $(UNIT_BIN)

# The same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test-san:
	@$(MAKE) --no-print-directory BUILD=build-san OPT='-O1 -g -fno-omit-frame-pointer' \
	    SAN='-fsanitize=address,undefined -fno-sanitize-recover=all' test-unit

# Constant-time check of the KEM code under valgrind (see tests/ct/).
test-ct: $(CT_BIN)
	@sh tests/ct/run.sh $(CT_BIN)

# Integration tests: node:test against the real binary and real services.
test-node: $(BIN) $(TOOL_BIN) $(LOADGEN)
	@sh scripts/run-node-tests.sh

# Browser tests: Debian's chromium (headless, driven by playwright-core)
# against the relay, the demo upstream and redis-server; also demo.sh.
test-browser: $(BIN)
	node --test --test-concurrency=1 tests/browser/

demo: setup
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

fuzz:
	@sh tests/fuzz/run.sh

bench-crypto: $(BIN)
	@sh tests/bench/bench-crypto.sh

# Streamed responses: per-event added delay and bulk speed (tests/bench/bench-stream.mjs).
bench-stream: $(BIN)
	@MTE_RELAY_BIN=$(abspath $(BIN)) node tests/bench/bench-stream.mjs

# End-to-end figures with the load generator: a fast upstream, nginx as a
# reverse proxy, the relay pass-through and protected (embedded store, Redis,
# Redis Cluster), pairings/s (tests/bench/bench-relay.sh installs nginx).
bench-relay: $(BIN) $(LOADGEN)
	@MTE_RELAY_BIN=$(abspath $(BIN)) LOADGEN_BIN=$(abspath $(LOADGEN)) sh tests/bench/bench-relay.sh

# Capacity at 20 ms API latency, 64 and 256 connections, next to nginx in the
# same run (tests/bench/bench-capacity.sh installs nginx and wrk from Debian).
bench-capacity: $(BIN) $(LOADGEN)
	@MTE_RELAY_BIN=$(abspath $(BIN)) sh tests/bench/bench-capacity.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mte-relay
	install -m 0644 man/mte-relay.1 $(DESTDIR)$(PREFIX)/share/man/man1/mte-relay.1

# One fully static, stripped executable (scripts/static.sh): libcurl and cJSON
# built from Debian's source packages (scripts/static-deps.sh, cached in
# $(BUILD)/static-deps/), the other libraries from Debian's static archives.
STATIC_BIN := $(BUILD)/static/mte-relay
static: $(BUILD)/main.o $(LIB)
	@BUILD=$(BUILD) CC=$(CC) sh scripts/static.sh

# The integration suite (tests/node) against the static executable.
test-static: static $(TOOL_BIN) $(LOADGEN)
	@MTE_RELAY_BIN=$(abspath $(STATIC_BIN)) sh scripts/run-node-tests.sh

# The image from the static executable: the Dockerfile's runtime stage only
# (RUNTIME_FILES=host; `docker build .` runs the whole Debian build instead).
CONTAINER_TOOL ?= podman
container: static
	@sh scripts/static-rootfs.sh $(BUILD)/container
	$(CONTAINER_TOOL) build --format docker --build-arg RUNTIME_FILES=host -f Dockerfile \
	    -t mte-relay:$(VERSION) $(BUILD)/container

# That image built and run with podman in a throwaway store (tests/container).
test-container: static
	node --test --test-concurrency=1 tests/container/

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
