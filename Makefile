# chartdepot — see README.md.  `make run`, `make test`, `make bench`.
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS    := yaml-0.1 jansson libarchive zlib sqlite3 libcrypto libcrypt
OPT     ?= -O2 -g
CFLAGS  += $(OPT) -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE \
           -Ilib $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

LIB_SRC     := $(wildcard lib/*.c)
FCGI_SRC    := $(wildcard fcgi/*.c)
INDEXER_SRC := $(wildcard indexer/*.c)
UNIT_SRC    := $(wildcard tests/unit/*.c)

LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/%.o)
FCGI_OBJ    := $(FCGI_SRC:%.c=$(BUILD)/%.o)
INDEXER_OBJ := $(INDEXER_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ    := $(UNIT_SRC:%.c=$(BUILD)/%.o)

BINS := $(BUILD)/chartdepot-fcgi $(BUILD)/chartdepot-indexer $(BUILD)/unit-tests

.PHONY: all deps run test unit bench check-asan fuzz fuzz-replay install uninstall clean
all: $(BINS)

$(BUILD)/%.o: %.c $(wildcard lib/*.h fcgi/*.h indexer/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libchartdepot.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/chartdepot-fcgi: $(FCGI_OBJ) $(BUILD)/libchartdepot.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lfcgi $(LDLIBS)

$(BUILD)/chartdepot-indexer: $(INDEXER_OBJ) $(BUILD)/libchartdepot.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libchartdepot.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Installs the Debian packages the build, the tests and `make run` need.
deps:
	@scripts/install-deps

# stdout carries only run-local's "chartdepot ready on ..." line.
run: deps
	@$(MAKE) --no-print-directory -s all >&2
	@scripts/run-local

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

test: deps
	$(MAKE) all
	tests/run

bench: deps
	$(MAKE) all
	scripts/bench

# The whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
check-asan: deps
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	        LDFLAGS="-fsanitize=address,undefined" all
	BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run

# Each libFuzzer harness for FUZZ_SECONDS (default 60) under ASan/UBSan.
fuzz:
	scripts/fuzz

# Replays the fuzz corpora and regression inputs (also part of `make test`).
fuzz-replay:
	scripts/fuzz-replay

install: all
	scripts/install "$(DESTDIR)" "$(PREFIX)" "$(BUILD)"

uninstall:
	scripts/install --uninstall "$(DESTDIR)" "$(PREFIX)"

clean:
	rm -rf build build-asan build-fuzz
