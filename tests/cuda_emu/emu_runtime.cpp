/* emu_runtime.cpp: the CUDA runtime API of the CPU emulator, with the signatures of NVIDIA's
 * cuda_runtime_api.h (the emulated build links this instead of libcudart).
 *
 * Memory: a registry of device and page-locked allocations. Outside the sanitizer builds each
 * allocation ends exactly where a PROT_NONE guard page begins, so a kernel or copy that runs
 * past the end faults at once; under ASan / TSan plain malloc lets the sanitizer see every byte.
 * New device and page-locked memory is filled with 0xff bytes (NaN as float, -1 as int), so
 * a read of memory nobody wrote shows in the results.
 *
 * Checks: every copy's direction against the registry, its size against the allocation(s),
 * overlap; every kernel pointer argument is device memory with room for one element; launch
 * limits. A violation prints one "cuda_emu:" line and returns the error code the real runtime
 * returns for it (a bad kernel pointer, which a GPU reports later as cudaErrorIllegalAddress,
 * is reported at the launch).
 *
 * Streams: work is queued per stream and runs only when the host synchronises (stream, event
 * or device sync; a blocking copy to or from the host; a copy into pageable memory; cudaFree;
 * an event query lets the work up to its event run), so a host that
 * reads a page-locked download before waiting for it sees stale data. CUDA_EMU_EXEC=immediate
 * runs everything at once instead (debugging). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emu_internal.h"
#include "emu_launch.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EMU_SANITIZED 1
#else
#define EMU_SANITIZED 0
#endif

namespace cuda_emu {

CudaEmuCounters counters;

static Options read_options() {
    Options o{ORDER_FORWARD, 1, false};
    const char *s = getenv("CUDA_EMU_ORDER");
    if (s && *s) {
        if (!strcmp(s, "forward")) o.order = ORDER_FORWARD;
        else if (!strcmp(s, "reverse")) o.order = ORDER_REVERSE;
        else if (!strncmp(s, "random", 6) && (s[6] == 0 || s[6] == ':')) {
            o.order = ORDER_RANDOM;
            if (s[6] == ':') o.seed = strtoull(s + 7, NULL, 10);
        } else fatal("CUDA_EMU_ORDER=%s: expected forward, reverse or random[:SEED]", s);
    }
    const char *e = getenv("CUDA_EMU_EXEC");
    if (e && *e) {
        if (!strcmp(e, "immediate")) o.immediate = true;
        else if (strcmp(e, "deferred")) fatal("CUDA_EMU_EXEC=%s: expected deferred or immediate", e);
    }
    return o;
}

const Options &options() {
    static Options o = read_options();
    return o;
}

void diag(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cuda_emu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cuda_emu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- registry ---- */

struct Block {
    Alloc a;
    void *map; /* mmap base (plain build) */
    size_t map_len;
};
static std::map<uintptr_t, Block> &registry() {
    static std::map<uintptr_t, Block> r;
    return r;
}

const Alloc *find_alloc(const void *p) {
    auto &r = registry();
    auto it = r.upper_bound((uintptr_t)p);
    if (it == r.begin()) return nullptr;
    --it;
    const Alloc &a = it->second.a;
    return (uintptr_t)p < (uintptr_t)a.base + a.size ? &a : nullptr;
}

bool range_in(const void *p, size_t bytes, MemKind kind) {
    const Alloc *a = find_alloc(p);
    return a && a->kind == kind && (size_t)((const char *)p - a->base) + bytes <= a->size;
}

static const char *kind_name(const void *p) {
    const Alloc *a = find_alloc(p);
    if (!a) return "lies in no device or page-locked allocation (pageable host memory, freed, or past an end)";
    return a->kind == MEM_DEVICE ? "device memory" : "page-locked host memory";
}

static void *raw_alloc(size_t size, MemKind kind) {
    Block b;
#if EMU_SANITIZED
    void *p = nullptr;
    if (posix_memalign(&p, 256, size)) return nullptr;
    b.map = p;
    b.map_len = 0;
#else
    /* The data ends where the guard page begins. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (size + page - 1) / page;
    size_t len = (data_pages + 1) * page;
    void *m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    mprotect((char *)m + data_pages * page, page, PROT_NONE);
    void *p = (char *)m + data_pages * page - size;
    b.map = m;
    b.map_len = len;
#endif
    memset(p, 0xff, size);
    b.a = Alloc{(const char *)p, size, kind};
    registry()[(uintptr_t)p] = b;
    return p;
}

static bool raw_free(void *p, MemKind kind) {
    auto &r = registry();
    auto it = r.find((uintptr_t)p);
    if (it == r.end() || it->second.a.kind != kind) return false;
#if EMU_SANITIZED
    free(it->second.map);
#else
    munmap(it->second.map, it->second.map_len);
#endif
    r.erase(it);
    return true;
}

/* ---- streams and events ---- */

struct Op {
    uint64_t seq;
    std::function<void()> fn;
};
struct Stream {
    std::deque<Op> queue;
    uint64_t next_seq = 1, done_seq = 0;
};
struct Event {
    Stream *stream = nullptr;
    uint64_t seq = 0;
    double ms = 0; /* host time when it ran */
};

static Stream &default_stream() {
    static Stream s;
    return s;
}
static std::vector<Stream *> &all_streams() {
    static std::vector<Stream *> v{&default_stream()};
    return v;
}
static Stream *stream_of(cudaStream_t s) {
    if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return &default_stream();
    return (Stream *)s;
}

static void run_until(Stream *s, uint64_t seq) {
    while (!s->queue.empty() && s->queue.front().seq <= seq) {
        Op op = std::move(s->queue.front());
        s->queue.pop_front();
        op.fn();
        s->done_seq = op.seq;
    }
}
static void drain(Stream *s) { run_until(s, UINT64_MAX); }
static void drain_all() {
    for (Stream *s : all_streams()) drain(s);
}

static uint64_t push(Stream *s, std::function<void()> fn) {
    uint64_t seq = s->next_seq++;
    /* the legacy default stream waits for all other streams */
    if (s == &default_stream()) {
        for (Stream *o : all_streams())
            if (o != s) drain(o);
    }
    s->queue.push_back(Op{seq, std::move(fn)});
    if (options().immediate) drain(s);
    return seq;
}

void enqueue(cudaStream_t s, std::function<void()> fn) { push(stream_of(s), std::move(fn)); }

static double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

static thread_local cudaError_t last_error = cudaSuccess;
static cudaError_t fail(cudaError_t e) {
    last_error = e;
    return e;
}

/* ---- copies ---- */

static const char *dir_name(cudaMemcpyKind k) {
    switch (k) {
    case cudaMemcpyHostToHost: return "cudaMemcpyHostToHost";
    case cudaMemcpyHostToDevice: return "cudaMemcpyHostToDevice";
    case cudaMemcpyDeviceToHost: return "cudaMemcpyDeviceToHost";
    case cudaMemcpyDeviceToDevice: return "cudaMemcpyDeviceToDevice";
    case cudaMemcpyDefault: return "cudaMemcpyDefault";
    }
    return "an invalid cudaMemcpyKind";
}

/* Checks one side of a copy: device side must be in one device allocation; host side must not
 * be device memory and, when page-locked, must fit its allocation. */
static bool side_ok(const char *api, const char *which, const void *p, size_t n, bool device,
                    cudaMemcpyKind kind) {
    if (device) {
        if (range_in(p, n, MEM_DEVICE)) return true;
        const Alloc *a = find_alloc(p);
        if (a && a->kind == MEM_DEVICE)
            diag("%s(%s): %s %p + %zu bytes runs past the end of its device allocation "
                 "(%p, %zu bytes)", api, dir_name(kind), which, p, n, (const void *)a->base, a->size);
        else
            diag("%s(%s): %s %p is not device memory: %s", api, dir_name(kind), which, p,
                 kind_name(p));
        return false;
    }
    const Alloc *a = find_alloc(p);
    if (!a) return true;
    if (a->kind == MEM_DEVICE) {
        diag("%s(%s): %s %p is device memory, the direction says host", api, dir_name(kind),
             which, p);
        return false;
    }
    if (!range_in(p, n, MEM_PINNED)) {
        diag("%s(%s): %s %p + %zu bytes runs past the end of its page-locked allocation "
             "(%p, %zu bytes)", api, dir_name(kind), which, p, n, (const void *)a->base, a->size);
        return false;
    }
    return true;
}

static cudaError_t copy(const char *api, void *dst, const void *src, size_t n,
                        cudaMemcpyKind kind, cudaStream_t stream, bool async) {
    if (n == 0) return cudaSuccess;
    if (!dst || !src) {
        diag("%s: NULL %s", api, dst ? "source" : "destination");
        return fail(cudaErrorInvalidValue);
    }
    if (kind == cudaMemcpyDefault) {
        bool dd = find_alloc(dst) && find_alloc(dst)->kind == MEM_DEVICE;
        bool sd = find_alloc(src) && find_alloc(src)->kind == MEM_DEVICE;
        kind = sd ? (dd ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                  : (dd ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
    }
    bool dst_dev, src_dev;
    switch (kind) {
    case cudaMemcpyHostToHost: dst_dev = src_dev = false; break;
    case cudaMemcpyHostToDevice: dst_dev = true, src_dev = false; break;
    case cudaMemcpyDeviceToHost: dst_dev = false, src_dev = true; break;
    case cudaMemcpyDeviceToDevice: dst_dev = src_dev = true; break;
    default: diag("%s: %d is not a cudaMemcpyKind", api, (int)kind); return fail(cudaErrorInvalidMemcpyDirection);
    }
    if (!side_ok(api, "destination", dst, n, dst_dev, kind) ||
        !side_ok(api, "source", src, n, src_dev, kind))
        return fail(cudaErrorInvalidValue);
    const char *d = (const char *)dst, *s = (const char *)src;
    if (d < s + n && s < d + n) {
        diag("%s(%s): source %p and destination %p overlap over %zu bytes (undefined in CUDA)",
             api, dir_name(kind), src, dst, n);
        return fail(cudaErrorInvalidValue);
    }
    if (kind == cudaMemcpyHostToDevice) counters.h2d_copies++, counters.h2d_bytes += n;
    if (kind == cudaMemcpyDeviceToHost) counters.d2h_copies++, counters.d2h_bytes += n;
    if (kind == cudaMemcpyDeviceToDevice) counters.d2d_copies++, counters.d2d_bytes += n;

    Stream *st = stream_of(stream);
    if (!async && kind == cudaMemcpyDeviceToDevice) {
        /* a blocking device-to-device copy does not wait on the host (CUDA's API sync
         * behaviour); it is ordered on the legacy default stream */
        push(&default_stream(), [dst, src, n]() { memcpy(dst, src, n); });
        return cudaSuccess;
    }
    bool src_pageable = !src_dev && !find_alloc(src), dst_pageable = !dst_dev && !find_alloc(dst);
    /* CUDA's documented behaviour: a blocking copy waits for the device; an async copy into
     * pageable memory returns when it is done (so it waits for the stream); an async copy from
     * pageable memory is staged before it returns (the caller may reuse the source). */
    if (!async || dst_pageable) {
        counters.host_syncs++, counters.copy_syncs++;
        if (async) drain(st);
        else drain_all();
        memcpy(dst, src, n);
        return cudaSuccess;
    }
    if (src_pageable) {
        auto staged = std::make_shared<std::vector<char>>(s, s + n);
        push(st, [dst, staged]() { memcpy(dst, staged->data(), staged->size()); });
    } else {
        push(st, [dst, src, n]() { memcpy(dst, src, n); });
    }
    return cudaSuccess;
}

/* ---- kernels ---- */

static const char *dim_error(dim3 g, dim3 b, size_t shmem) {
    if (!b.x || !b.y || !b.z || !g.x || !g.y || !g.z) return "a zero grid or block dimension";
    if (b.x > 1024 || b.y > 1024 || b.z > 64) return "a block dimension over the limit (1024, 1024, 64)";
    if ((unsigned long long)b.x * b.y * b.z > 1024) return "more than 1024 threads per block";
    if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) return "a grid dimension over the limit (2^31-1, 65535, 65535)";
    if (shmem > 48 * 1024) return "more than 48 KiB of dynamic shared memory (no opt-in)";
    return nullptr;
}

void launch_submit(const char *file, int line, const char *func, dim3 grid, dim3 block,
                   size_t shmem, cudaStream_t stream, std::function<void()> body,
                   const PointerArg *ptrs, const int *ptr_index, int n_ptrs) {
    if (const char *why = dim_error(grid, block, shmem)) {
        diag("%s:%d (%s): launch <<<(%u,%u,%u), (%u,%u,%u), %zu>>>: %s", file, line, func,
             grid.x, grid.y, grid.z, block.x, block.y, block.z, shmem, why);
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    for (int i = 0; i < n_ptrs; i++) {
        const void *p = ptrs[i].ptr;
        if (!p) continue; /* optional arguments are passed as NULL */
        if (!range_in(p, ptrs[i].min_bytes, MEM_DEVICE)) {
            const Alloc *a = find_alloc(p);
            diag("%s:%d (%s): kernel argument %d (%p) %s", file, line, func, ptr_index[i] + 1, p,
                 a && a->kind == MEM_DEVICE ? "has no room for one element before its allocation ends"
                 : a ? "is page-locked host memory, not device memory" : kind_name(p));
            fail(cudaErrorIllegalAddress);
            return;
        }
    }
    counters.launches++;
    KernelRun k{grid, block, shmem, std::move(body), file, func, line};
    push(stream_of(stream), [k]() { run_kernel(k); });
}

} // namespace cuda_emu

using namespace cuda_emu;

/* ---- the runtime API ---- */

extern "C" {

/* One device, unless CUDA_VISIBLE_DEVICES hides it (empty or -1), as the real runtime. */
static bool device_hidden() {
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    return v && (!*v || !strcmp(v, "-1"));
}

cudaError_t cudaGetDeviceCount(int *count) {
    *count = device_hidden() ? 0 : 1;
    return *count ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaSetDevice(int device) {
    return device == 0 && !device_hidden() ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int *device) {
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    if (device != 0) return fail(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "cuda_emu (CPU emulation, tests/cuda_emu)");
    prop->major = 8;
    prop->minor = 0;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647;
    prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
    prop->sharedMemPerBlock = 48 * 1024;
    prop->totalGlobalMem = (size_t)16 << 30;
    prop->multiProcessorCount = 1;
    return cudaSuccess;
}

cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes *attr, const void *func) {
    if (!func) return fail(cudaErrorInvalidDeviceFunction);
    memset(attr, 0, sizeof *attr);
    attr->maxThreadsPerBlock = 1024;
    attr->binaryVersion = attr->ptxVersion = 80;
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "unrecognized error code";
    }
}

const char *cudaGetErrorName(cudaError_t e) {
    (void)e;
    return "cudaError (cuda_emu)";
}

cudaError_t cudaMalloc(void **p, size_t size) {
    if (!p) return fail(cudaErrorInvalidValue);
    *p = nullptr;
    if (size == 0) return cudaSuccess;
    *p = raw_alloc(size, MEM_DEVICE);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    /* cudaFree waits for the device (documented), so no queued work still uses the memory */
    counters.host_syncs++, counters.free_syncs++;
    drain_all();
    if (!raw_free(p, MEM_DEVICE)) {
        diag("cudaFree(%p): %s", p,
             find_alloc(p) ? "not the start of a device allocation" : "not a live device allocation");
        return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t size) {
    if (!p) return fail(cudaErrorInvalidValue);
    *p = raw_alloc(size ? size : 1, MEM_PINNED);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaHostAlloc(void **p, size_t size, unsigned int flags) {
    (void)flags;
    return cudaMallocHost(p, size);
}

cudaError_t cudaFreeHost(void *p) {
    if (!p) return cudaSuccess;
    counters.host_syncs++, counters.free_syncs++;
    drain_all();
    if (!raw_free(p, MEM_PINNED)) {
        diag("cudaFreeHost(%p): not a live page-locked allocation", p);
        return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *at, const void *p) {
    memset(at, 0, sizeof *at);
    const Alloc *a = find_alloc(p);
    if (!a) {
        at->type = cudaMemoryTypeUnregistered;
        at->device = -2;
        return cudaSuccess;
    }
    at->type = a->kind == MEM_DEVICE ? cudaMemoryTypeDevice : cudaMemoryTypeHost;
    at->device = 0;
    if (a->kind == MEM_DEVICE) at->devicePointer = (void *)p;
    else at->hostPointer = (void *)p, at->devicePointer = (void *)p;
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind) {
    return copy("cudaMemcpy", dst, src, n, kind, nullptr, false);
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                            cudaStream_t stream) {
    return copy("cudaMemcpyAsync", dst, src, n, kind, stream, true);
}

static cudaError_t memset_common(const char *api, void *dst, int value, size_t n,
                                 cudaStream_t stream, bool async) {
    if (n == 0) return cudaSuccess;
    if (!range_in(dst, n, MEM_DEVICE)) {
        diag("%s(%p, %d, %zu): the range is not inside one device allocation (%s)", api, dst,
             value, n, kind_name(dst));
        return fail(cudaErrorInvalidValue);
    }
    counters.memsets++;
    /* cudaMemset of device memory does not wait on the host either; it is ordered on the
     * legacy default stream */
    push(async ? stream_of(stream) : &default_stream(), [dst, value, n]() { memset(dst, value, n); });
    return cudaSuccess;
}

cudaError_t cudaMemset(void *dst, int value, size_t n) {
    return memset_common("cudaMemset", dst, value, n, nullptr, false);
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t n, cudaStream_t stream) {
    return memset_common("cudaMemsetAsync", dst, value, n, stream, true);
}

cudaError_t cudaStreamCreate(cudaStream_t *s) {
    Stream *st = new Stream;
    all_streams().push_back(st);
    *s = (cudaStream_t)st;
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags) {
    (void)flags;
    return cudaStreamCreate(s);
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
    Stream *st = stream_of(s);
    if (st == &default_stream()) return fail(cudaErrorInvalidResourceHandle);
    drain(st); /* queued work still completes */
    auto &v = all_streams();
    v.erase(std::remove(v.begin(), v.end(), st), v.end());
    delete st;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    counters.host_syncs++, counters.stream_syncs++;
    Stream *st = stream_of(s);
    if (st == &default_stream()) drain_all();
    else drain(st);
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
    counters.host_syncs++, counters.stream_syncs++;
    drain_all();
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = (cudaEvent_t) new Event;
    return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags) {
    (void)flags;
    return cudaEventCreate(e);
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete (Event *)e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    Event *ev = (Event *)e;
    if (!ev) return fail(cudaErrorInvalidResourceHandle);
    Stream *st = stream_of(s);
    ev->stream = st;
    ev->seq = 0;
    ev->seq = push(st, [ev]() { ev->ms = now_ms(); });
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    Event *ev = (Event *)e;
    if (!ev) return fail(cudaErrorInvalidResourceHandle);
    counters.host_syncs++, counters.event_syncs++;
    if (ev->stream) run_until(ev->stream, ev->seq); /* never recorded: returns at once */
    return cudaSuccess;
}

/* A query is a point where a polling host lets the device make progress: the work up to the
 * event runs, so a loop that polls until the event completes ends. */
cudaError_t cudaEventQuery(cudaEvent_t e) {
    Event *ev = (Event *)e;
    if (!ev) return fail(cudaErrorInvalidResourceHandle);
    if (ev->stream && ev->stream->done_seq < ev->seq) {
        run_until(ev->stream, ev->seq);
        return cudaErrorNotReady; /* this time; the next query succeeds */
    }
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    Event *a = (Event *)start, *b = (Event *)end;
    if (!a || !b || !a->stream || !b->stream) return fail(cudaErrorInvalidResourceHandle);
    if (a->stream->done_seq < a->seq || b->stream->done_seq < b->seq) return fail(cudaErrorNotReady);
    *ms = (float)(b->ms - a->ms);
    return cudaSuccess;
}

void cuda_emu_counters(CudaEmuCounters *out) { *out = counters; }

void cuda_emu_counters_print(const CudaEmuCounters *c, const char *label, void *file) {
    fprintf((FILE *)file,
            "%s launches=%llu gemms=%llu host_syncs=%llu stream_syncs=%llu event_syncs=%llu "
            "copy_syncs=%llu free_syncs=%llu h2d_copies=%llu h2d_bytes=%llu "
            "d2h_copies=%llu d2h_bytes=%llu d2d_copies=%llu d2d_bytes=%llu memsets=%llu "
            "threads=%llu\n",
            label, c->launches, c->gemms, c->host_syncs, c->stream_syncs, c->event_syncs,
            c->copy_syncs, c->free_syncs, c->h2d_copies, c->h2d_bytes,
            c->d2h_copies, c->d2h_bytes, c->d2d_copies, c->d2d_bytes, c->memsets, c->threads);
}
} /* extern "C" */

/* CUDA_EMU_COUNTERS=FILE appends the process's counters to FILE at exit. */
namespace {
struct CountersAtExit {
    ~CountersAtExit() {
        const char *path = getenv("CUDA_EMU_COUNTERS");
        if (!path || !*path) return;
        FILE *f = fopen(path, "a");
        if (!f) return;
        cuda_emu_counters_print(&cuda_emu::counters, "total", f);
        fclose(f);
    }
} counters_at_exit;
} // namespace
