# gantry build. `make` builds libgantry (static + shared) and the CLI; `make test` runs the
# unit suite; `make SAN=1 test` does the same under ASan + UBSan; `make bench` runs benchmarks.
# `make MPI=1` builds the CLI with MPI into build-mpi/ (gantry ablate under mpirun; the library
# stays MPI-free); `make MPI=1 test-mpi` checks it (docs/scaling.md).
CC      ?= cc
PREFIX  ?= /usr/local
VERSION := 0.1.0
WERROR  ?=
SAN     ?=

WARN    := -std=c11 -Wall -Wextra -Wpedantic $(if $(WERROR),-Werror)
OPT     := -O2
SANFLAGS :=
# MPI=1: Open MPI's mpicc supplies the flags of the CLI's tools/cluster.c (GANTRY_MPI) and of the
# gantry link; its own build folder, since the CLI's objects differ from the default build's.
MPI     ?=
ifeq ($(MPI),1)
  MPI_CFLAGS := -DGANTRY_MPI=1 $(shell mpicc --showme:compile)
  MPI_LIBS   := $(shell mpicc --showme:link)
  BUILD      ?= build-mpi
endif
ifeq ($(SAN),1)
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
  OPT     := -O1 -g -fno-omit-frame-pointer $(SANFLAGS)
  BUILD   ?= build-san
  DEBUG   := 1
else
  BUILD   ?= build
endif
CFLAGS  ?=
# DEBUG=1 (implied by SAN=1): debug checks in the library, e.g. in-place writes that a recorded
# op's backward still needs (src/core/debug.c).
DEBUG   ?=
CPPFLAGS += -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L -DGT_DATADIR='"$(PREFIX)/share/gantry"' $(if $(DEBUG),-DGT_DEBUG=1)
ALLCFLAGS := $(WARN) $(OPT) -fPIC -fopenmp $(CFLAGS)
LDLIBS  := -lpng -lz -linih -lcjson -lpthread -lm -fopenmp $(SANFLAGS)

# Files named *_avx512.c / *_avx2.c hold ISA-specific kernels chosen at run time.
ISA_avx512 := -mavx512f -mavx512dq -mavx512vl -mavx512bw -mfma -mavx2
ISA_avx2   := -mavx2 -mfma

# The exporter (src/export/, gantry export) is linked into the CLI only, and only when protobuf-c
# is there: protoc-c generates C from src/export/onnx.proto into $(BUILD)/gen and libprotobuf-c
# packs the messages. Without them (ONNX= empty) everything else builds and `gantry export` says
# which Debian packages to install. ONNX=0 builds without it on purpose.
EXPORT_SRC := $(sort $(wildcard src/export/*.c))
ONNX     ?= $(shell command -v protoc-c >/dev/null 2>&1 && pkg-config --exists libprotobuf-c 2>/dev/null && echo 1)
ifeq ($(ONNX),1)
  EXPORT_OBJ  := $(EXPORT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o $(BUILD)/gen/web_page.o
  ONNX_CFLAGS := -DGANTRY_ONNX=1 -I$(BUILD)/gen $(shell pkg-config --cflags libprotobuf-c)
  ONNX_LIBS   := $(shell pkg-config --libs libprotobuf-c)
endif
LIB_SRC  := $(filter-out $(EXPORT_SRC),$(sort $(wildcard src/*/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(if $(TOOL_SRC),$(BUILD)/gantry)

# The public API: the headers a program built against the installed library may include, in one
# list that drives the installed headers, libgantry.so's export list and the checks of both (see
# docs/library.md). include/gantry.h installs as $(PREFIX)/include/gantry.h and src/DIR/FILE as
# $(PREFIX)/include/gantry/DIR/FILE; a public header may include only other public headers
# (scripts/check-headers.sh). Everything else (src/core, src/cpu, src/ref, internal.h files) is
# private: linked into libgantry.a for the CLI and the tests, local to libgantry.so.
PUBLIC_HEADERS := include/gantry.h \
  src/nn/params.h src/nn/layers.h src/nn/model.h src/nn/families.def \
  src/optim/optim.h \
  src/gan/gan.h src/gan/augment.h src/gan/losses.def \
  src/data/data.h \
  src/io/config.h src/io/config_keys.def src/io/image.h \
  src/train/monitor.h src/train/progressive.h src/train/trainer.h src/train/session.h src/train/score.h src/train/registries.h \
  src/eval/metrics.h src/eval/classifier.h src/eval/orientation.h src/eval/evaluate.h

.PHONY: all test test-ref test-mpi bench install clean tests benches valgrind demo check-exports check-headers public-headers
all: $(BUILD)/libgantry.a $(BUILD)/libgantry.so $(TOOL_BIN)

$(BUILD)/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) $(ISA_avx512) -MMD -MP -c $< -o $@
$(BUILD)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) $(ISA_avx2) -MMD -MP -c $< -o $@
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -MMD -MP -c $< -o $@
# The optimizer updates take square roots in `omp simd` loops: without errno to set, sqrtf is
# one vector instruction (the same correctly rounded result), so Adam's loop vectorises.
$(BUILD)/src/cpu/update.o: ALLCFLAGS += -fno-math-errno

$(BUILD)/libgantry.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
# libgantry.so exports the public API only: the version script lists the gt_ functions and
# variables the public headers declare and makes every other symbol local.
$(BUILD)/libgantry.map: $(PUBLIC_HEADERS) scripts/public-symbols.sh Makefile
	@mkdir -p $(dir $@)
	CC="$(CC)" sh scripts/public-symbols.sh --map $(PUBLIC_HEADERS) > $@.tmp && mv $@.tmp $@
$(BUILD)/libgantry.so: $(LIB_OBJ) $(BUILD)/libgantry.map
	$(CC) -shared -o $@ $(LIB_OBJ) -Wl,--version-script=$(BUILD)/libgantry.map $(LDLIBS)

$(TOOL_SRC:%.c=$(BUILD)/%.o): CPPFLAGS += $(MPI_CFLAGS)
$(BUILD)/gantry: $(TOOL_SRC:%.c=$(BUILD)/%.o) $(EXPORT_OBJ) $(BUILD)/libgantry.a
	$(CC) -o $@ $^ $(LDLIBS) $(ONNX_LIBS) $(MPI_LIBS)

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: src/export/onnx.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=src/export --c_out=$(BUILD)/gen src/export/onnx.proto
$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	$(CC) $(CPPFLAGS) $(ONNX_CFLAGS) $(ALLCFLAGS) -c $< -o $@
# The web export's page, embedded line by line as C strings (each line well under C's 4095).
$(BUILD)/gen/web_page.c: src/export/web/index.html
	@mkdir -p $(BUILD)/gen
	{ echo '/* Generated by make from src/export/web/index.html. */'; \
	  echo 'const char *const gt_web_page_lines[] = {'; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n",/' $<; \
	  echo '    0};'; } > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/web_page.o: $(BUILD)/gen/web_page.c
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -c $< -o $@
$(EXPORT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tools/cmd_export.o: CPPFLAGS += $(ONNX_CFLAGS)
$(EXPORT_SRC:%.c=$(BUILD)/%.o): $(BUILD)/gen/onnx.pb-c.h
# cmd_export.o is rebuilt when the exporter comes or goes (protobuf-c installed later, ONNX=0).
ONNX_FLAG := $(BUILD)/gen/onnx-$(if $(filter 1,$(ONNX)),on,off).flag
$(ONNX_FLAG):
	@mkdir -p $(dir $@) && rm -f $(BUILD)/gen/onnx-*.flag && touch $@
$(BUILD)/tools/cmd_export.o: $(ONNX_FLAG)

# Tests may look inside tensors (the host pointer that gantry.h hides from the layers above core).
TEST_CPPFLAGS := -DGT_BACKEND_SIDE
$(TEST_SUPPORT:%.c=$(BUILD)/%.o): CPPFLAGS += $(TEST_CPPFLAGS)

# test_steady_alloc counts the library's allocations: its calls to the allocators are wrapped.
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign
$(BUILD)/tests/test_steady_alloc: TEST_LDFLAGS := $(WRAP_ALLOC)
$(BUILD)/tests/%: tests/%.c $(TEST_SUPPORT:%.c=$(BUILD)/%.o) $(BUILD)/libgantry.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) -Itests $(ALLCFLAGS) -o $@ $^ $(TEST_LDFLAGS) $(LDLIBS)
$(BUILD)/bench/%: bench/%.c $(BUILD)/libgantry.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

# Test support objects are shared by every test program: keep them between builds.
.SECONDARY: $(TEST_SUPPORT:%.c=$(BUILD)/%.o)

tests: $(TEST_BIN)
benches: $(BENCH_BIN)

# The public headers include only each other; libgantry.so exports exactly what they declare.
check-headers:
	@sh scripts/check-headers.sh $(PUBLIC_HEADERS)
check-exports: $(BUILD)/libgantry.so check-headers
	@CC="$(CC)" sh scripts/check-exports.sh $(BUILD)/libgantry.so $(PUBLIC_HEADERS)
# The list, for scripts (CI checks the installed library against it).
public-headers:
	@echo $(PUBLIC_HEADERS)

# The CLI integration tests run the gantry binary of the same build.
test: $(TEST_BIN) $(BUILD)/gantry check-exports
	@sh scripts/check_layers.sh $(BUILD)
	@GANTRY_BIN=$(BUILD)/gantry sh tests/run.sh $(TEST_BIN)

# The suite on the ref backend (GANTRY_BACKEND=ref): every op, gradient, golden and trick test
# runs on the plain reference kernels, which proves the backend table end to end. The tests that
# drive the CLI through long runs are left out (ref is slow); test_backends covers whole runs.
# test_precision trains every recipe (it checks ref's bf16 kernels itself, in a context of its own).
# test_orientation trains an MLP detector: minutes on the plain kernels, and nothing backend-specific.
REF_SKIP := test_cli test_ablate test_conditional_cli test_train_tricks test_eval test_classifier test_report test_precision test_export test_orientation
test-ref: $(TEST_BIN) $(BUILD)/gantry
	@GANTRY_BACKEND=ref GANTRY_BIN=$(BUILD)/gantry sh tests/run.sh $(filter-out $(REF_SKIP:%=$(BUILD)/tests/%),$(TEST_BIN))

# gantry ablate under mpirun -np 2 against one process: the same results.json (make MPI=1).
$(BUILD)/tests/mpi/ckpt_same: tests/mpi/ckpt_same.c $(BUILD)/libgantry.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)
test-mpi: $(BUILD)/gantry $(BUILD)/tests/mpi/ckpt_same
ifneq ($(MPI),1)
	@echo "test-mpi needs the MPI build: make MPI=1 test-mpi"; exit 1
endif
	@GANTRY_BIN=$(BUILD)/gantry sh tests/mpi_ablate.sh
	@GANTRY_BIN=$(BUILD)/gantry CKPT_SAME=$(BUILD)/tests/mpi/ckpt_same sh tests/mpi_train.sh

# Leak check of the unit suite (slow: valgrind runs each test binary).
valgrind: $(TEST_BIN) $(BUILD)/gantry
	@GANTRY_BIN=$(BUILD)/gantry VALGRIND=1 VALGRIND_SKIP="test_classifier test_context test_steady_alloc test_ranks test_accumulate test_backends test_precision test_augment_train test_last_good test_resume_log test_orientation test_export" sh tests/run.sh $(TEST_BIN)

# Installs missing Debian packages (as root), builds, and trains the default recipe.
demo:
	@sh scripts/demo.sh

# libFuzzer harnesses (fuzz/): the library built by clang with ASan + UBSan in build-fuzz, each
# harness run for FUZZ_SECONDS from its committed seeds (fuzz/corpus/NAME) plus what earlier
# runs found (build-fuzz/corpus/NAME); a crash stops make with its input in build-fuzz/.
FUZZ_SECONDS ?= 30
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(filter-out fuzz/fuzz_support.c,$(wildcard fuzz/fuzz_*.c)))
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%)
.PHONY: fuzz fuzz-build
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -g" \
	  CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_BUILD)/libgantry.a
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
$(FUZZ_BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_support.c fuzz/fuzz_support.h $(FUZZ_BUILD)/libgantry.a
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -Ifuzz -std=c11 -O1 -g -fopenmp -fsanitize=fuzzer $(FUZZ_SAN) -o $@ \
	  $< fuzz/fuzz_support.c $(FUZZ_BUILD)/libgantry.a -lpng -lz -linih -lcjson -lpthread -lm
fuzz: fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $(FUZZ_BUILD)/corpus/$$n fuzz/corpus/$$n \
	    2>&1 | grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)|Test unit written' \
	    || true; \
	  if ls $(FUZZ_BUILD)/crash-$$n-* >/dev/null 2>&1; then echo "fuzz_$$n: crash inputs in $(FUZZ_BUILD)/"; exit 1; fi; \
	done

bench: $(BENCH_BIN) $(BUILD)/gantry
	@for b in $(BENCH_BIN); do $$b || exit 1; done
	@GANTRY=$(BUILD)/gantry sh bench/run_bench.sh

# Headers: include/gantry.h in include/, the other public headers under include/gantry/ with
# their folders, and include/gantry/gantry_all.h including them all.
INCDIR := $(DESTDIR)$(PREFIX)/include
install: all check-headers
	install -d $(DESTDIR)$(PREFIX)/lib $(INCDIR)/gantry $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/gantry.h $(INCDIR)/
	@set -e; for h in $(filter src/%,$(PUBLIC_HEADERS)); do \
	  d=$(INCDIR)/gantry/$${h#src/}; echo "install -m 644 $$h $$d"; \
	  install -d "$${d%/*}"; install -m 644 "$$h" "$$d"; \
	done
	@{ echo '/* Generated by make install: every public header of gantry (docs/library.md). */'; \
	   echo '#ifndef GANTRY_ALL_H'; echo '#define GANTRY_ALL_H'; \
	   for h in $(filter %.h,$(PUBLIC_HEADERS)); do \
	     case $$h in include/*) echo "#include \"$${h#include/}\"";; *) echo "#include \"$${h#src/}\"";; esac; \
	   done; echo '#endif'; } > $(INCDIR)/gantry/gantry_all.h
	install -m 644 $(BUILD)/libgantry.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libgantry.so $(DESTDIR)$(PREFIX)/lib/
	$(if $(TOOL_BIN),install -d $(DESTDIR)$(PREFIX)/bin && install -m 755 $(TOOL_BIN) $(DESTDIR)$(PREFIX)/bin/)
	install -d $(DESTDIR)$(PREFIX)/share/gantry/models $(DESTDIR)$(PREFIX)/share/gantry/configs
	install -m 644 models/*.safetensors $(DESTDIR)$(PREFIX)/share/gantry/models/
	install -m 644 configs/*.ini $(DESTDIR)$(PREFIX)/share/gantry/configs/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' gantry.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gantry.pc

clean:
	rm -rf build build-san build-mpi

-include $(LIB_OBJ:.o=.d) $(EXPORT_SRC:%.c=$(BUILD)/%.d) $(TOOL_SRC:%.c=$(BUILD)/%.d) $(TEST_SUPPORT:%.c=$(BUILD)/%.d) $(TEST_BIN:=.d)
