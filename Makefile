# wa: webapp, coreapp and sandbox of a self-hosted WhatsApp Business On-Premises API.
# `make run` and `make test` are the two commands; see README.md.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
BIN     ?= bin
CC      ?= cc
PKGS     = libevent libevent_openssl jansson libpq libzmq openssl libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT     ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror $(OPT) -I. -I$(BUILD) $(PKG_CFLAGS) -MMD -MP
# jemalloc: see README ("Why jemalloc"); the sanitizer build keeps its own allocator
MALLOC_LIBS ?= -ljemalloc
LDLIBS  += $(PKG_LIBS) -lpthread -lm $(MALLOC_LIBS)

COMMON_SRC  = $(wildcard common/*.c)
WEBAPP_SRC  = $(wildcard webapp/*.c)
COREAPP_SRC = $(wildcard coreapp/*.c coreapp/store/*.c)
SANDBOX_SRC = $(wildcard sandbox/*.c)
SQL         = $(sort $(wildcard sql/*.sql))

COMMON_OBJ  = $(COMMON_SRC:%.c=$(BUILD)/%.o) $(BUILD)/migrations_gen.o
WEBAPP_OBJ  = $(WEBAPP_SRC:%.c=$(BUILD)/%.o)
COREAPP_OBJ = $(COREAPP_SRC:%.c=$(BUILD)/%.o)
SANDBOX_OBJ = $(SANDBOX_SRC:%.c=$(BUILD)/%.o)

PROGS = $(BIN)/wa-webapp $(BIN)/wa-coreapp $(if $(SANDBOX_SRC),$(BIN)/wa-sandbox)

.PHONY: all deps run test unit integration sanitize bench install clean
all: $(PROGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/migrations_gen.c: $(SQL) scripts/embed_sql.sh
	@mkdir -p $(BUILD)
	scripts/embed_sql.sh $@ $(SQL)

$(BUILD)/migrations_gen.o: $(BUILD)/migrations_gen.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	ar rcs $@ $^

$(BIN)/wa-webapp: $(WEBAPP_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/wa-coreapp: $(COREAPP_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/wa-sandbox: $(SANDBOX_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- unit tests (cmocka) --------------------------------------------------
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# a unit test links the module objects it names in its first line:  /* links: webapp/auth.c */
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcommon.a $(WEBAPP_OBJ) $(COREAPP_OBJ) $(SANDBOX_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(patsubst %.c,$(BUILD)/%.o,$(shell sed -n '1s|.*links:\(.*\)\*/.*|\1|p' $<)) \
	    $(BUILD)/libcommon.a $(LDLIBS) -lcmocka

deps:
	@scripts/deps.sh

unit: $(UNIT_BINS)
	@scripts/run_unit.sh $(UNIT_BINS)

integration: all
	@scripts/run_integration.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@scripts/test.sh $(UNIT_BINS)

# The same suites on an AddressSanitizer + UBSan build, in its own tree.
sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/bin \
	    OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" MALLOC_LIBS= all \
	    $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)
	@WA_BIN_DIR=build-asan/bin ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    scripts/test.sh $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)

run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/hookd
	@WA_BIN_DIR=$(BIN) WA_HOOKD=$(BUILD)/bench/hookd scripts/bench.sh

# the HTTPS webhook receiver of the bench's webhook phase
$(BUILD)/bench/hookd: bench/hookd.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 644 systemd/*.service $(DESTDIR)$(PREFIX)/lib/systemd/system/

clean:
	rm -rf $(BUILD) build-asan $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
