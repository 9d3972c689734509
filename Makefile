# afd — build, test, run.
#
#   make            build ./afd
#   make run        install what is missing, build, run ./afd -f etc/afd.conf
#   make test       install what is missing, build, run every test, one summary
#   make asan       the same suite built with ASan + UBSan
#   make valgrind   the unit tests and a daemon smoke run under valgrind
#   make fuzz       libFuzzer on the SIP parser, then on the SIP service,
#                   FUZZ_SECONDS each (default 60)
#   make bench      the REGISTER load generator against a fresh afd
#   make bench-compare   the same load against afd and Kamailio 5.6, one run
#   make check-format    fail when a C file differs from .clang-format
#   make format          reformat every C file in place
#
# Sources are found by wildcard: a new .c file in sip/, ipc/, schema/,
# workers/ or daemon/ is part of afd; a new t/unit/test_*.c is part of the
# unit test binary (register its suite in t/unit/main.c).

CC       ?= cc
PKGS      = libuv talloc sqlite3 libcrypto inih
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
            -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS))
BUILD    ?= build

LIB_SRC   = $(wildcard util/*.c sip/*.c ipc/*.c schema/*.c workers/*.c daemon/*.c)
LIB_SRC  := $(filter-out daemon/main.c,$(LIB_SRC))
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/schema/schema_sql.o
UNIT_SRC  = $(wildcard t/unit/*.c)
UNIT_OBJ  = $(UNIT_SRC:%.c=$(BUILD)/%.o)
TOOLS     = $(patsubst t/tools/%.c,$(BUILD)/t/tools/%,$(wildcard t/tools/*.c))
BENCHES   = $(patsubst t/bench/%.c,$(BUILD)/t/bench/%,$(wildcard t/bench/*.c))
HDRS      = $(wildcard */*.h)

.PHONY: all build-test run test asan valgrind fuzz bench bench-compare bench-calls bench-calls-compare \
        clean deps install check-format format

all: afd

afd: $(BUILD)/daemon/main.o $(BUILD)/libafd.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Other builds (make asan: BUILD=build-asan) keep their daemon in $(BUILD)/afd
# and leave ./afd alone; the test runner gets it as AFD_BIN.
AFD_OUT   = $(if $(filter build,$(BUILD)),afd,$(BUILD)/afd)
$(BUILD)/afd: $(BUILD)/daemon/main.o $(BUILD)/libafd.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libafd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The schema is compiled in: schema/schema.sql becomes a C string.
$(BUILD)/schema/schema_sql.c: schema/schema.sql mk/embed.sh
	@mkdir -p $(dir $@)
	sh mk/embed.sh afd_schema_sql < $< > $@

$(BUILD)/schema/schema_sql.o: $(BUILD)/schema/schema_sql.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/t/unit/run: $(UNIT_OBJ) $(BUILD)/libafd.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

$(BUILD)/t/tools/%: t/tools/%.c $(BUILD)/libafd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/t/bench/%: t/bench/%.c $(BUILD)/libafd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build-test: $(AFD_OUT) $(BUILD)/t/unit/run $(TOOLS) $(BENCHES)

deps:
	@sh mk/deps.sh build

run:
	@sh mk/deps.sh build
	@$(MAKE) --no-print-directory afd
	./afd -f etc/afd.conf

# One summary line at the end: "N passed, N failed".
test:
	@sh mk/deps.sh test
	@$(MAKE) --no-print-directory check-format
	@$(MAKE) --no-print-directory build-test
	@sh t/run-tests.sh $(BUILD)

asan:
	@sh mk/deps.sh asan
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	    OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" build-test
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    AFD_BIN=./build-asan/afd sh t/run-tests.sh build-asan

valgrind:
	@sh mk/deps.sh valgrind
	@$(MAKE) --no-print-directory build-test
	@VALGRIND=1 sh t/run-tests.sh $(BUILD)

# libFuzzer on the SIP library: sip/*.c and the target built in one go with
# clang, run on a scratch copy of the seed corpus; any crash fails.
# Then on the SIP service (sipd, registrar, data layer on SQLite): afd's
# library built again with libFuzzer's coverage and the sanitizers in
# build-fuzz/lib, the target linked against it. Each runs FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -O1 -g -std=gnu11 -D_GNU_SOURCE -I. \
	      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	      $(shell pkg-config --cflags talloc libcrypto)
FUZZ_LIB_OPT = -O1 -fno-omit-frame-pointer \
	       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

build-fuzz/fuzz_sip: t/fuzz/fuzz_sip.c $(wildcard sip/*.c) $(wildcard sip/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ t/fuzz/fuzz_sip.c $(wildcard sip/*.c) \
	    $(shell pkg-config --libs talloc libcrypto)

build-fuzz/fuzz_sipd: t/fuzz/fuzz_sipd.c build-fuzz/lib/libafd.a $(HDRS)
	clang $(FUZZ_CFLAGS) $(shell pkg-config --cflags $(PKGS)) -o $@ \
	    t/fuzz/fuzz_sipd.c build-fuzz/lib/libafd.a $(LDLIBS)

fuzz:
	@sh mk/deps.sh fuzz
	@$(MAKE) --no-print-directory build-fuzz/fuzz_sip
	@$(MAKE) --no-print-directory BUILD=build-fuzz/lib CC=clang \
	    OPT="$(FUZZ_LIB_OPT)" build-fuzz/lib/libafd.a
	@$(MAKE) --no-print-directory build-fuzz/fuzz_sipd
	@sh t/fuzz/run.sh build-fuzz/fuzz_sip $(FUZZ_SECONDS)
	@sh t/fuzz/run.sh build-fuzz/fuzz_sipd $(FUZZ_SECONDS)

bench:
	@sh mk/deps.sh bench
	@$(MAKE) --no-print-directory afd $(BENCHES)
	@sh t/bench/bench.sh afd

bench-compare:
	@sh mk/deps.sh bench-compare
	@$(MAKE) --no-print-directory afd $(BENCHES)
	@sh t/bench/bench.sh compare

# the call load (SIPp through afd; -compare: and through Kamailio's proxy)
bench-calls:
	@sh mk/deps.sh test
	@$(MAKE) --no-print-directory build-test
	@bash t/bench/calls.sh afd

bench-calls-compare:
	@sh mk/deps.sh test
	@sh mk/deps.sh bench-compare
	@$(MAKE) --no-print-directory build-test
	@bash t/bench/calls.sh compare

# make install: the daemon, its manual, an example config, the systemd unit;
# /etc/afd/afd.conf when missing (database in /var/lib/afd, run_dir
# /run/afd, user afd), and, as root, the system user afd (AFD_SYSUSER;
# empty: none). INSTALL_BIN: the binary to install (default ./afd).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
AFD_SYSUSER ?= afd
INSTALL_BIN ?= afd
install: $(INSTALL_BIN)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/afd \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/afd
	install -m 755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/sbin/afd
	install -m 644 etc/afd.conf $(DESTDIR)$(PREFIX)/share/afd/afd.conf.example
	install -m 644 daemon/afd.8 $(DESTDIR)$(PREFIX)/share/man/man8/afd.8
	sed -e 's|/usr/local/sbin/afd|$(PREFIX)/sbin/afd|g' \
	    -e 's|/etc/afd/afd.conf|$(SYSCONFDIR)/afd/afd.conf|g' \
	    -e 's|^User=afd$$|User=$(or $(AFD_SYSUSER),afd)|' \
	    -e 's|^Group=afd$$|Group=$(or $(AFD_SYSUSER),afd)|' \
	    etc/afd.service > $(DESTDIR)$(UNITDIR)/afd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/afd.service
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/afd/afd.conf ]; then \
	    sed -e 's|^database = .*|database = /var/lib/afd/afd.db|' \
	        -e 's|^run_dir = .*|run_dir = /run/afd|' \
	        -e 's|^user = .*|user = $(or $(AFD_SYSUSER),nobody)|' \
	        etc/afd.conf > $(DESTDIR)$(SYSCONFDIR)/afd/afd.conf && \
	    chmod 644 $(DESTDIR)$(SYSCONFDIR)/afd/afd.conf && \
	    echo "installed $(DESTDIR)$(SYSCONFDIR)/afd/afd.conf"; \
	else \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/afd/afd.conf"; \
	fi
	@if [ -n "$(AFD_SYSUSER)" ] && [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
	    ! getent passwd $(AFD_SYSUSER) >/dev/null; then \
	    useradd --system --user-group --home-dir /var/lib/afd \
	        --no-create-home --shell /usr/sbin/nologin $(AFD_SYSUSER) && \
	    echo "created the system user $(AFD_SYSUSER)"; \
	fi

# The C files clang-format owns: every .c and .h of afd and its tests.
FMT_SRC   = $(wildcard */*.c */*.h t/*/*.c)

# Fails (and names the files and lines) when a file differs from what
# clang-format makes of it. Not yet part of `make test`: the tree is not
# clean today (make format once, then add it).
check-format:
	@sh mk/deps.sh format
	@clang-format --dry-run -Werror $(FMT_SRC) && \
	    echo "check-format: $(words $(FMT_SRC)) files as .clang-format says"

format:
	@sh mk/deps.sh format
	clang-format -i $(FMT_SRC)

clean:
	rm -rf build build-asan build-fuzz afd
