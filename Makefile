# pamoe build. `make` builds build/pamoe; `make test` runs the whole suite; `make bench`.
# CPU-only with `make USE_CUDA=0`. With nvcc on PATH the CUDA backend is compiled too
# (warnings as errors) and linked against cuBLAS, cuRAND and cudart.
CC       ?= cc
# V=1 prints every command; the default prints one short line per target.
Q        := $(if $(V),,@)
BUILD    ?= build
NVCC     ?= $(shell command -v nvcc 2>/dev/null)
USE_CUDA ?= $(if $(NVCC),1,0)
CUDA_ARCH ?= 80 90
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

PKGS     := hdf5 openblas lapacke
# Headers: include/ holds the interfaces between subsystems, include/pmath/ the formulas
# shared by C and CUDA, host/<subsystem>/ the private headers beside their .c files.
# tests/cli/layering.sh checks which subsystem may include which.
HOST_DIRS := $(sort $(dir $(wildcard host/*/*.c)))
INCLUDES := -Iinclude -Iinclude/pmath -Ikernels $(addprefix -I,$(HOST_DIRS))
HEADERS  := $(wildcard include/*.h include/pmath/*.h kernels/*.h kernels/*.cuh host/*/*.h)
# `override`: flags given on the command line (make CFLAGS=-fsanitize=...) are added to
# these, never replace them.
override CFLAGS += -std=c11 -O2 -g -fopenmp -Wall -Wextra -Werror -D_GNU_SOURCE $(INCLUDES) \
            $(shell pkg-config --cflags $(PKGS))
override LDLIBS += $(shell pkg-config --libs $(PKGS)) -fopenmp -lm
TEST_CFLAGS := $(shell pkg-config --cflags cmocka)
TEST_LIBS   := $(shell pkg-config --libs cmocka)

HOST_SRCS   := $(filter-out host/cli/main.c,$(wildcard host/*/*.c))
HOST_OBJS   := $(HOST_SRCS:host/%.c=$(BUILD)/host/%.o)
KERNEL_SRCS := $(wildcard kernels/*.cu)
KERNEL_OBJS := $(KERNEL_SRCS:kernels/%.cu=$(BUILD)/kernels/%.o)
TEST_SRCS   := $(wildcard tests/test_*.c)
TEST_BINS   := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
GPU_TEST_SRCS := $(wildcard tests/gpu_*.c)
GPU_TEST_BINS := $(GPU_TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
BENCH_SRCS  := $(wildcard bench/bench_*.c)
BENCH_BINS  := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

ifneq ($(CUDA_EMU),)
  include tests/cuda_emu/emu.mk
else ifeq ($(USE_CUDA),1)
  $(info pamoe: CUDA backend ON (nvcc: $(NVCC), arch: $(CUDA_ARCH)))
  override CFLAGS += -DPAMOE_CUDA -I$(CUDA_HOME)/include
  OBJS      := $(HOST_OBJS) $(KERNEL_OBJS)
  override LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcurand -lcudart -lstdc++
  NVCCFLAGS ?= -O2 -std=c++17 $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a)) \
               -gencode arch=compute_$(lastword $(CUDA_ARCH)),code=compute_$(lastword $(CUDA_ARCH)) \
               -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror,-fPIC $(INCLUDES) -DPAMOE_CUDA
else
  $(info pamoe: CUDA backend OFF (no nvcc or USE_CUDA=0): CPU backend only)
  OBJS      := $(HOST_OBJS)
endif

.PHONY: all deps test test-gpu test-cuda-emu bench bench-cuda-emu clean train-default fuzz fuzz-harnesses asan
all: deps $(BUILD)/pamoe

# Installs missing Debian packages (apt-get, when root); a no-op when all are present.
deps:
	@sh scripts/setup.sh

# Objects depend on the CUDA switch: flipping USE_CUDA rebuilds everything.
CONFIG_STAMP := $(BUILD)/.config-cuda$(USE_CUDA)
$(CONFIG_STAMP):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.config-cuda* && touch $@

$(BUILD)/pamoe: $(BUILD)/host/cli/main.o $(OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/host/%.o: host/%.c $(HEADERS) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

ifeq ($(CUDA_EMU),)
$(BUILD)/kernels/%.o: kernels/%.cu $(HEADERS) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@echo "  NVCC    $<"
	$(Q)$(NVCC) $(NVCCFLAGS) -c -o $@ $<
endif

$(BUILD)/tests/%: tests/%.c $(OBJS) $(wildcard tests/*.h) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(TEST_CFLAGS) -Itests -o $@ $< $(OBJS) $(TEST_LIBS) $(LDLIBS)

# A fuzz harness with the replay driver: `make test` replays its corpus and regressions.
$(BUILD)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/replay_main.c tests/fuzz/fuzz_util.h $(OBJS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@ (replay)"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -Itests/fuzz -o $@ $< tests/fuzz/replay_main.c $(OBJS) $(LDLIBS)

# The same harness linked with libFuzzer (only in the clang build of `make fuzz`).
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_util.h $(OBJS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(OBJS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(OBJS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(OBJS) $(LDLIBS)

# The whole suite: every tests/test_* binary (cmocka), the GPU suite (skips with exit 77
# without a device), then the tools/ and CLI checks, then the CUDA backend on the CPU emulator
# (test-cuda-emu; skipped without NVIDIA's headers, and with CUDA_EMU_SUITE=0).
CUDA_EMU_SUITE ?= 1
test: all $(TEST_BINS) $(GPU_TEST_BINS) $(FUZZ_REPLAY_BINS)
	@sh tests/run_all.sh $(BUILD) $(TEST_BINS) $(GPU_TEST_BINS)
ifneq ($(CUDA_EMU_SUITE),0)
	@sh tests/cuda_emu/run_suite.sh "$(MAKE)"; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ]
endif

# CUDA backend vs CPU backend; exits 77 with "SKIP: no CUDA device" where there is no GPU.
test-gpu: all $(GPU_TEST_BINS)
	@sh tests/run_gpu.sh $(BUILD) $(GPU_TEST_BINS)

# The CUDA backend executed on the CPU emulator (tests/cuda_emu/, docs/cuda.md): builds it plain,
# with ASan+UBSan and with TSan (build-emu*/) and runs the GPU suite under every thread order.
test-cuda-emu:
	@sh tests/cuda_emu/run_suite.sh "$(MAKE)"

# GPU-efficiency counters (launches, host syncs, bytes per direction) per PPO iteration and per
# minibatch update, measured on the CPU emulator (bench/README.md records them).
bench-cuda-emu:
	@$(MAKE) --no-print-directory -s CUDA_EMU=plain BUILD=build-emu build-emu/pamoe
	@sh bench/cuda_emu_counters.sh build-emu

bench: all $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done
	@for s in bench/bench_*.sh; do echo "== $$s"; sh $$s $(BUILD) || exit 1; done

# The README's main job: train the quick config on the default data and plot it.
train-default: all
	@mkdir -p runs && rm -f runs/quick.h5 runs/quick.ckpt.h5
	$(BUILD)/pamoe train --config configs/quick.ini --out runs/quick.h5
	sh tools/run_python.sh tools/plot_run.py runs/quick.h5 --out runs/quick

# Sanitizers: the build flags are added to ours (see `override` above), CPU only.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

# Coverage-guided fuzzing (clang's libFuzzer, ASan+UBSan) of every input surface for
# FUZZ_SECONDS each; findings go to tests/fuzz/regressions/, replayed by `make test`.
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
# GCC-only attributes (cpu_dot1.c pins its summation order; a start-up check covers clang).
CLANG_NOWARN := -Wno-unknown-attributes
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang USE_CUDA=0 \
	    CFLAGS="$(SAN_FLAGS) -fsanitize=fuzzer-no-link $(CLANG_NOWARN)" LDFLAGS="$(SAN_FLAGS)" fuzz-harnesses
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)
fuzz-harnesses: $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

# The whole test suite built with ASan+UBSan (CPU backend). test_libm_port's sweep of every
# float is a libm comparison, not a memory check, and takes minutes under the sanitizers:
# there it checks every ASAN_LIBM_STRIDE-th float (an odd stride, so every bit pattern class
# is still visited); `make test` keeps the full sweep. The emulated CUDA suite is left out:
# `make test` already runs it, with its own ASan+UBSan build (build-emu-asan).
ASAN_BUILD ?= build-asan
ASAN_LIBM_STRIDE ?= 31
asan: deps
	@PAMOE_LIBM_STRIDE=$(ASAN_LIBM_STRIDE) $(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) USE_CUDA=0 \
	    CUDA_EMU_SUITE=0 CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" test

clean:
	rm -rf $(BUILD)
