# emu.mk: the build with the CUDA backend compiled by g++ for the CPU emulator, included by the
# Makefile when CUDA_EMU is set: CUDA_EMU=plain | asan (ASan+UBSan) | tsan, with its own BUILD
# directory (tests/cuda_emu/run_suite.sh uses build-emu, build-emu-asan, build-emu-tsan).
# kernels/*.cu go through cu2cpp.pl (launches become emulator calls, #line keeps the .cu's
# line numbers) and are compiled against NVIDIA's headers with emu_prelude.h force-included;
# tests/cuda_emu/*.cpp replace libcudart and libcublas; the real libcurand stays (its host
# generator needs no GPU, and its own runtime is linked into it statically, with no exported
# cuda* symbol to clash with the emulator's).
EMU_DIR   := tests/cuda_emu
CUDA_HOME := $(or $(CUDA_HOME),/usr/local/cuda)
ifeq ($(wildcard $(CUDA_HOME)/include/cuda_runtime.h),)
  $(error CUDA_EMU needs NVIDIA's headers: $(CUDA_HOME)/include/cuda_runtime.h not found (set CUDA_HOME))
endif
EMU_SAN_plain :=
EMU_SAN_asan  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
EMU_SAN_tsan  := -fsanitize=thread
ifeq ($(filter $(CUDA_EMU),plain asan tsan),)
  $(error CUDA_EMU=$(CUDA_EMU): expected plain, asan or tsan)
endif
EMU_SAN := $(EMU_SAN_$(CUDA_EMU))
# The scheduler and runtime are not TSan-instrumented (their bookkeeping between fibers is
# not what is under test); they announce the fibers and the CUDA synchronisation to TSan.
EMU_RT_FLAGS := $(if $(filter tsan,$(CUDA_EMU)),-DCUDA_EMU_TSAN,$(EMU_SAN))
$(info pamoe: CUDA backend on the CPU emulator ($(CUDA_EMU)), headers $(CUDA_HOME)/include)
override CFLAGS += -DPAMOE_CUDA -I$(CUDA_HOME)/include $(EMU_SAN)
EMU_SRCS  := $(wildcard $(EMU_DIR)/emu_*.cpp)
EMU_OBJS  := $(EMU_SRCS:$(EMU_DIR)/%.cpp=$(BUILD)/cuda_emu/%.o)
EMU_HDRS  := $(wildcard $(EMU_DIR)/*.h)
OBJS      := $(HOST_OBJS) $(KERNEL_OBJS) $(EMU_OBJS)
override LDLIBS += $(EMU_SAN) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcurand -lstdc++
CXX       ?= g++
EMU_CXXFLAGS := -std=c++17 -O1 -g -Wall -Wextra -Werror -ffp-contract=off -D_GNU_SOURCE \
                $(INCLUDES) -I$(EMU_DIR) -I$(CUDA_HOME)/include -DPAMOE_CUDA

# EMU_KERNELS: where the .cu files come from (tests/cuda_emu/mutations.sh points it at mutants).
EMU_KERNELS ?= kernels
$(BUILD)/kernels/%.cpp: $(EMU_KERNELS)/%.cu $(EMU_DIR)/cu2cpp.pl
	@mkdir -p $(dir $@)
	$(Q)perl $(EMU_DIR)/cu2cpp.pl $< $@

# -Wno-maybe-uninitialized: gcc's flow warning does not know a row has E >= 1 elements (the
# host checks it, check_experts), and nvcc, the compiler that builds this file for real, does not warn.
$(BUILD)/kernels/%.o: $(BUILD)/kernels/%.cpp $(HEADERS) $(EMU_HDRS) $(CONFIG_STAMP)
	@echo "  EMU-CXX $(<:$(BUILD)/kernels/%.cpp=kernels/%.cu)"
	$(Q)$(CXX) $(EMU_CXXFLAGS) -Wno-maybe-uninitialized $(EMU_SAN) -include $(EMU_DIR)/emu_prelude.h -c -o $@ $<

$(BUILD)/cuda_emu/%.o: $(EMU_DIR)/%.cpp $(EMU_HDRS) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@echo "  EMU-CXX $<"
	$(Q)$(CXX) $(EMU_CXXFLAGS) $(EMU_RT_FLAGS) -c -o $@ $<

# The emulator's own test: barriers, shuffles, votes, shared memory, the checks.
$(BUILD)/cuda_emu/emu_selftest.cpp: $(EMU_DIR)/selftest.cu $(EMU_DIR)/cu2cpp.pl
	@mkdir -p $(dir $@)
	$(Q)perl $(EMU_DIR)/cu2cpp.pl $< $@
$(BUILD)/cuda_emu/emu_selftest: $(BUILD)/cuda_emu/emu_selftest.cpp $(EMU_OBJS) $(EMU_HDRS)
	@echo "  EMU-CXX $(EMU_DIR)/selftest.cu"
	$(Q)$(CXX) $(EMU_CXXFLAGS) $(EMU_SAN) -include $(EMU_DIR)/emu_prelude.h -o $@ $< $(EMU_OBJS) $(EMU_SAN)

.SECONDARY: $(KERNEL_OBJS:%.o=%.cpp) $(BUILD)/cuda_emu/emu_selftest.cpp
.PHONY: emu-bins
emu-bins: $(BUILD)/pamoe $(BUILD)/tests/gpu_backend $(BUILD)/tests/test_cuda_host $(BUILD)/cuda_emu/emu_selftest
