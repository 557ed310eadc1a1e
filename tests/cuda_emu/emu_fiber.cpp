/* emu_fiber.cpp: runs a kernel launch of the CUDA CPU emulator. Blocks run one after another;
 * inside a block every CUDA thread is a fiber (ucontext) that runs until it finishes or
 * reaches a barrier (__syncthreads) or a warp collective (shuffle, vote, __syncwarp). When
 * every thread the barrier waits for has arrived, they all continue: so the barriers are real,
 * and a thread that reads what another thread writes before the barrier that orders them gets
 * the value of the order the emulator chose. Threads and blocks are started in the order
 * CUDA_EMU_ORDER names: forward, reverse, or random:SEED; a kernel whose result depends on that
 * order has a race.
 *
 * Errors the scheduler reports (then aborts): a barrier that some threads of the block never
 * reach (a deadlock on a GPU), a warp collective whose mask names a lane that has exited or
 * waits elsewhere, lanes of one mask calling different collectives.
 *
 * Sanitizers: under ASan each switch is announced (__sanitizer_start/finish_switch_fiber) so
 * that stack checks follow the fibers. In the TSan build (CUDA_EMU_TSAN) every thread of a
 * block is its own TSan fiber, switched without synchronisation, and the only happens-before
 * edges are the ones CUDA gives: launch start -> every thread, a barrier's arrivals -> its
 * departures, every thread -> launch end. TSan then reports two threads of a block that
 * touch the same memory without a barrier between them, whatever the order. This file is not
 * itself instrumented, so the scheduler's own bookkeeping is not reported. */
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "emu_internal.h"
#include "emu_launch.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CUDA_EMU_TSAN
extern "C" {
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
}
#define TSAN_NO_SYNC 1u /* __tsan_switch_to_fiber_no_sync */
#endif

namespace cuda_emu {

thread_local const ThreadIds *current_ids;

namespace {

#if defined(__SANITIZE_ADDRESS__)
const size_t STACK_BYTES = 1u << 20;
#else
const size_t STACK_BYTES = 256u << 10;
#endif

enum State { NEW, READY, AT_BARRIER, AT_WARP, DONE };

struct EThread;

struct Fiber {
    ucontext_t uc;
    char *stack;
    EThread *thread; /* the CUDA thread it runs now */
    void *asan_fake;
#ifdef CUDA_EMU_TSAN
    void *tsan;
#endif
};

struct EThread {
    ThreadIds ids;
    int linear, lane, warp;
    State state;
    Fiber *fiber;
    WarpOp op;
    unsigned mask;
    uint64_t value, result;
    int arg, width;
};

struct BlockRun {
    const KernelRun *k;
    std::vector<EThread> th;
    std::vector<char> shared; /* dynamic shared memory */
    char *sync;               /* TSan sync addresses: [0] block barrier, [1 + w] warp w */
    char *launch_sync;        /* [0] launch start, [1] launch end */
};

ucontext_t host_uc;
BlockRun *cur_block;
EThread *cur_thread;
Fiber *starting;
#ifdef __SANITIZE_ADDRESS__
void *host_asan_fake;
const void *host_stack_bottom;
size_t host_stack_size;
#endif
#ifdef CUDA_EMU_TSAN
void *host_tsan;
#endif
/* Fibers live as long as the process (never destroyed, so LeakSanitizer sees them reachable
 * after static destructors ran). */
std::vector<Fiber *> &pool = *new std::vector<Fiber *>;       /* idle fibers, shared */
#ifdef CUDA_EMU_TSAN
std::vector<Fiber *> &per_thread = *new std::vector<Fiber *>; /* thread i of every block */
#endif

inline void tsan_acquire(void *a) {
#ifdef CUDA_EMU_TSAN
    __tsan_acquire(a);
#else
    (void)a;
#endif
}
inline void tsan_release(void *a) {
#ifdef CUDA_EMU_TSAN
    __tsan_release(a);
#else
    (void)a;
#endif
}

void to_host() {
    Fiber *f = cur_thread->fiber;
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_start_switch_fiber(&f->asan_fake, host_stack_bottom, host_stack_size);
#endif
#ifdef CUDA_EMU_TSAN
    __tsan_switch_to_fiber(host_tsan, TSAN_NO_SYNC);
#endif
    swapcontext(&f->uc, &host_uc);
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_finish_switch_fiber(f->asan_fake, &host_stack_bottom, &host_stack_size);
#endif
}

void fiber_main() {
    Fiber *f = starting;
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_finish_switch_fiber(nullptr, &host_stack_bottom, &host_stack_size);
#endif
    for (;;) {
        EThread *t = f->thread;
        tsan_acquire(&cur_block->launch_sync[0]);
        cur_block->k->body();
        tsan_release(&cur_block->launch_sync[1]);
        t->state = DONE;
        to_host();
    }
}

Fiber *new_fiber() {
    Fiber *f = new Fiber();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *m = mmap(nullptr, STACK_BYTES + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) fatal("cannot map a fiber stack");
    mprotect(m, page, PROT_NONE); /* a stack overflow faults */
    f->stack = (char *)m + page;
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->stack;
    f->uc.uc_stack.ss_size = STACK_BYTES;
    f->uc.uc_link = nullptr;
    makecontext(&f->uc, fiber_main, 0);
#ifdef __SANITIZE_ADDRESS__
    /* ASan's swapcontext interceptor clears the shadow of the target's whole uc_stack on every
     * switch (for stacks abandoned mid-frame, which these fibers never do); swapcontext itself
     * no longer needs the field once makecontext has run. */
    f->uc.uc_stack.ss_size = 0;
#endif
#ifdef CUDA_EMU_TSAN
    f->tsan = __tsan_create_fiber(0);
#endif
    return f;
}

void resume(EThread *t) {
    bool first = t->state == NEW;
    t->state = READY;
    cur_thread = t;
    current_ids = &t->ids;
    Fiber *f = t->fiber;
    if (first && !f->thread) starting = f; /* a fresh fiber enters fiber_main */
    f->thread = t;
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_start_switch_fiber(&host_asan_fake, f->stack, STACK_BYTES);
#endif
#ifdef CUDA_EMU_TSAN
    __tsan_switch_to_fiber(f->tsan, TSAN_NO_SYNC);
#endif
    swapcontext(&host_uc, &f->uc);
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_finish_switch_fiber(host_asan_fake, nullptr, nullptr);
#endif
    cur_thread = nullptr;
    current_ids = nullptr;
}

void start(EThread *t) {
#ifdef CUDA_EMU_TSAN
    while ((int)per_thread.size() <= t->linear) per_thread.push_back(new_fiber());
    t->fiber = per_thread[t->linear];
#else
    if (pool.empty()) pool.push_back(new_fiber());
    t->fiber = pool.back();
    pool.pop_back();
#endif
    resume(t);
    if (t->state == DONE) {
#ifndef CUDA_EMU_TSAN
        pool.push_back(t->fiber);
#endif
    }
}

const char *state_name(State s) {
    switch (s) {
    case NEW: return "not started";
    case READY: return "running";
    case AT_BARRIER: return "at __syncthreads";
    case AT_WARP: return "at a warp collective";
    case DONE: return "exited";
    }
    return "?";
}

[[noreturn]] void stuck(BlockRun &B, const char *why) {
    const KernelRun &k = *B.k;
    std::string states;
    for (size_t i = 0; i < B.th.size() && i < 64; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, " t%zu:%s", i, state_name(B.th[i].state));
        states += buf;
    }
    fatal("%s:%d (%s): block (%u,%u,%u): %s; threads:%s%s", k.file, k.line, k.func,
          B.th[0].ids.block.x, B.th[0].ids.block.y, B.th[0].ids.block.z, why, states.c_str(),
          B.th.size() > 64 ? " ..." : "");
}

/* The lanes of one warp collective, completed: computes every lane's result. */
bool try_complete_warp(BlockRun &B, int w) {
    int n = (int)B.th.size(), base = w * 32;
    bool released = false;
    for (int l = 0; l < 32 && base + l < n; l++) {
        EThread &t = B.th[base + l];
        if (t.state != AT_WARP) continue;
        unsigned mask = t.mask;
        bool all = true;
        for (int j = 0; j < 32; j++) {
            if (!(mask >> j & 1u)) continue;
            if (base + j >= n) stuck(B, "a warp collective's mask names a lane beyond the block");
            EThread &o = B.th[base + j];
            if (o.state == DONE) stuck(B, "a warp collective's mask names a lane that has exited");
            if (o.state != AT_WARP) {
                all = false;
                break;
            }
            if (o.mask != mask || o.op != t.op || o.width != t.width)
                stuck(B, "lanes of one mask called different warp collectives");
        }
        if (!all) continue;
        for (int j = 0; j < 32; j++) {
            if (!(mask >> j & 1u)) continue;
            EThread &o = B.th[base + j];
            int width = o.width, seg = j & ~(width - 1), src = j;
            switch (o.op) {
            case WARP_SYNC: break;
            case WARP_SHFL: src = seg + (o.arg & (width - 1)); break;
            case WARP_SHFL_UP: src = j - o.arg >= seg ? j - o.arg : j; break;
            case WARP_SHFL_DOWN: src = j + o.arg < seg + width ? j + o.arg : j; break;
            case WARP_SHFL_XOR: src = (j ^ o.arg) < seg + width ? (j ^ o.arg) : j; break;
            case WARP_BALLOT: break;
            }
            if (o.op == WARP_BALLOT) {
                uint64_t bits = 0;
                for (int q = 0; q < 32; q++)
                    if ((mask >> q & 1u) && B.th[base + q].value) bits |= 1ull << q;
                o.result = bits;
            } else if (o.op != WARP_SYNC) {
                if (!(mask >> src & 1u))
                    stuck(B, "a shuffle reads a lane outside its mask (undefined on a GPU)");
                o.result = B.th[base + src].value;
            }
            o.state = READY;
        }
        released = true;
    }
    return released;
}

std::vector<int> make_order(int n, uint64_t &rng) {
    std::vector<int> o((size_t)n);
    for (int i = 0; i < n; i++) o[(size_t)i] = i;
    switch (options().order) {
    case ORDER_FORWARD: break;
    case ORDER_REVERSE:
        for (int i = 0; i < n / 2; i++) std::swap(o[(size_t)i], o[(size_t)(n - 1 - i)]);
        break;
    case ORDER_RANDOM:
        for (int i = n - 1; i > 0; i--) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
            std::swap(o[(size_t)i], o[(size_t)(rng % (uint64_t)(i + 1))]);
        }
        break;
    }
    return o;
}

uint64_t order_rng() {
    static uint64_t s = options().seed * 0x9E3779B97F4A7C15ull + 1;
    return s;
}

void run_block(BlockRun &B, uint3 bid, uint64_t &rng) {
    const KernelRun &k = *B.k;
    dim3 bd = k.block;
    int n = (int)(bd.x * bd.y * bd.z);
    B.th.assign((size_t)n, EThread());
    for (int i = 0; i < n; i++) {
        EThread &t = B.th[(size_t)i];
        t.ids.thread = uint3{(unsigned)i % bd.x, (unsigned)i / bd.x % bd.y, (unsigned)i / (bd.x * bd.y)};
        t.ids.block = bid;
        t.ids.block_dim = bd;
        t.ids.grid_dim = k.grid;
        t.linear = i;
        t.lane = i % 32;
        t.warp = i / 32;
        t.state = NEW;
    }
    if (k.shmem) B.shared.assign(k.shmem, (char)0xff);
    counters.threads += (unsigned long long)n;
    /* everything the host set up for this block happens before its threads */
    tsan_release(&B.launch_sync[0]);
    std::vector<int> order = make_order(n, rng);
    for (int i : order) start(&B.th[(size_t)i]);
    for (;;) {
        int live = 0, at_bar = 0;
        for (EThread &t : B.th) {
            live += t.state != DONE;
            at_bar += t.state == AT_BARRIER;
        }
        if (!live) break;
        bool released = false;
        /* CUDA requires every thread of the block to reach the barrier; one that has
         * exited never will (undefined behaviour, a hang on some GPUs): reported. */
        if (at_bar && at_bar < n && at_bar == live)
            stuck(B, "__syncthreads is waited on after some threads of the block have exited");
        if (at_bar == live) {
            for (EThread &t : B.th)
                if (t.state == AT_BARRIER) t.state = READY;
            released = true;
        } else {
            for (int w = 0; w * 32 < n; w++) released |= try_complete_warp(B, w);
        }
        if (!released)
            stuck(B, at_bar ? "__syncthreads is not reached by every live thread of the block"
                            : "threads wait at warp collectives that can never complete");
        for (int i : order)
            if (B.th[(size_t)i].state == READY) {
                resume(&B.th[(size_t)i]);
                if (B.th[(size_t)i].state == DONE) {
#ifndef CUDA_EMU_TSAN
                    pool.push_back(B.th[(size_t)i].fiber);
#endif
                }
            }
    }
}
} // namespace

void syncthreads() {
    EThread *t = cur_thread;
    if (!t) fatal("__syncthreads called outside a kernel");
    tsan_release(&cur_block->sync[0]);
    t->state = AT_BARRIER;
    to_host();
    tsan_acquire(&cur_block->sync[0]);
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width) {
    EThread *t = cur_thread;
    if (!t) fatal("a warp collective called outside a kernel");
    if (width < 1 || width > 32 || (width & (width - 1)))
        fatal("%s:%d: warp collective width %d is not a power of two in 1..32", cur_block->k->file,
              cur_block->k->line, width);
    if (!(mask >> t->lane & 1u))
        fatal("%s:%d: lane %d calls a warp collective whose mask 0x%08x leaves it out",
              cur_block->k->file, cur_block->k->line, t->lane, mask);
    t->op = op;
    t->mask = mask;
    t->value = value;
    t->arg = arg;
    t->width = width;
    t->state = AT_WARP;
    tsan_release(&cur_block->sync[1 + t->warp]);
    to_host();
    tsan_acquire(&cur_block->sync[1 + t->warp]);
    return t->result;
}

void *dynamic_shared() {
    if (!cur_block) fatal("extern __shared__ memory used outside a kernel");
    return cur_block->shared.empty() ? nullptr : cur_block->shared.data();
}

void run_kernel(const KernelRun &k) {
#ifdef CUDA_EMU_TSAN
    if (!host_tsan) host_tsan = __tsan_get_current_fiber();
#endif
    BlockRun B;
    B.k = &k;
    int nwarps = (int)((k.block.x * k.block.y * k.block.z + 31) / 32);
    /* Fresh sync addresses per launch (freed after it), so no happens-before edge leaks from
     * one launch or block to the next through them. */
    B.launch_sync = new char[2];
    static uint64_t rng = order_rng();
    BlockRun *saved = cur_block;
    cur_block = &B;
    std::vector<int> border = make_order((int)(k.grid.x * k.grid.y * k.grid.z), rng);
    for (int b : border) {
        uint3 bid{(unsigned)b % k.grid.x, (unsigned)b / k.grid.x % k.grid.y,
                  (unsigned)b / (k.grid.x * k.grid.y)};
        B.sync = new char[(size_t)(1 + nwarps)];
        run_block(B, bid, rng);
        delete[] B.sync;
    }
    tsan_acquire(&B.launch_sync[1]);
    delete[] B.launch_sync;
    cur_block = saved;
}
} // namespace cuda_emu
