/* faults.c: see faults.h. */
#include "faults.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t g_stop = 0;
static double g_stop_seen = 0; /* when a poll first saw the request (the handler may not read clocks portably) */

/* The first request sets the flag and arms a deadline: a program that has not ended by then
 * (stuck where no loop polls) leaves at once, as the default action would. A second
 * request does the same without waiting. Only async-signal-safe calls here. */
#define STOP_DEADLINE_S 2

static void leave_now(void) {
    static const char msg[] = "\npamoe: stop requested and not done within " "2" " s: leaving now (files written so far are intact; the run file may hold rows past its checkpoint, which --resume drops)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(130);
}

/* The deadline is a POSIX timer on a real-time signal of its own, not alarm(): SIGALRM
 * belongs to whoever embeds the trainer (libFuzzer's per-input timeout is SIGALRM, and a
 * caller may ignore it), and timer_settime is async-signal-safe, so the handler can arm it.
 * Without a timer (timer_create failed) a second request still ends the process. */
#define DEADLINE_SIGNAL (SIGRTMIN + 1) /* SIGRTMIN is a function call in glibc: not a constant */
static timer_t g_deadline;
static int g_have_deadline = 0;

static void arm_deadline(time_t seconds) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = seconds;
    if (g_have_deadline) timer_settime(g_deadline, 0, &its, NULL);
}

static void on_deadline(int sig) {
    (void)sig;
    leave_now();
}

static void on_signal(int sig) {
    (void)sig;
    if (g_stop) leave_now();
    g_stop = 1;
    arm_deadline(STOP_DEADLINE_S);
}

void pm_stop_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_deadline;
    sigaction(DEADLINE_SIGNAL, &sa, NULL);
    if (!g_have_deadline) {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = DEADLINE_SIGNAL;
        g_have_deadline = timer_create(CLOCK_MONOTONIC, &ev, &g_deadline) == 0;
    }
    arm_deadline(0); /* disarmed: a request before a re-install does not carry over */
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_stop = 0;
    g_stop_seen = 0;
}

int pm_stop_requested(void) {
    if (g_stop && g_stop_seen == 0) g_stop_seen = now_seconds();
    return g_stop;
}

double pm_stop_age(void) { return pm_stop_requested() ? now_seconds() - g_stop_seen : 0; }

static struct {
    int parsed, stall;
    char phase[32];
    long n, seen;
} g_fault;

void pm_fault_point(const char *phase) {
    if (!g_fault.parsed) {
        g_fault.parsed = 1;
        const char *s = getenv("PAMOE_FAULT");
        const char *colon = s ? strchr(s, ':') : NULL;
        if (colon && colon - s < (long)sizeof g_fault.phase) {
            snprintf(g_fault.phase, sizeof g_fault.phase, "%.*s", (int)(colon - s), s);
            char *end;
            g_fault.n = strtol(colon + 1, &end, 10);
            g_fault.stall = !strcmp(end, ":stall");
        }
    }
    if (!g_fault.n || strcmp(phase, g_fault.phase)) return;
    if (++g_fault.seen == g_fault.n) {
        if (g_fault.stall) { /* a step stuck where no loop polls: only the stop deadline ends it */
            fprintf(stderr, "pamoe: PAMOE_FAULT=%s:%ld:stall: stalling here\n", phase, g_fault.n);
            for (;;) pause();
        }
        fprintf(stderr, "pamoe: PAMOE_FAULT=%s:%ld: killing myself here\n", phase, g_fault.n);
        kill(getpid(), SIGKILL);
    }
}
