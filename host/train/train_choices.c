/* train_choices.c: the configuration's choices as module settings (train_choices.h). */
#include "train_choices.h"

#include "backend.h"

NetKind train_net_kind(CfgNetKind k) {
    switch (k) {
    case CFG_NET_MLP: return NET_MLP;
    case CFG_NET_MOE: return NET_MOE;
    case CFG_NET_SMOE: return NET_SMOE;
    case CFG_NET_PAMOE: return NET_PAMOE;
    }
    return NET_MLP;
}

int train_route_mode(CfgRouter r) {
    switch (r) {
    case CFG_ROUTER_FAITHFUL: return ROUTE_FAITHFUL;
    case CFG_ROUTER_SWITCH: return ROUTE_SWITCH;
    }
    return ROUTE_FAITHFUL;
}

TraceFilter train_trace_filter(CfgTraceFilter f) {
    switch (f) {
    case CFG_FILTER_HIGH: return TRACE_HIGH;
    case CFG_FILTER_LOW: return TRACE_LOW;
    case CFG_FILTER_HYBRID: return TRACE_HYBRID;
    }
    return TRACE_HYBRID;
}

MetricsRankMode train_rank_mode(CfgRankMode m) {
    switch (m) {
    case CFG_RANK_EXACT: return METRICS_RANK_EXACT;
    case CFG_RANK_TOLERANCE: return METRICS_RANK_TOLERANCE;
    }
    return METRICS_RANK_EXACT;
}

int train_equal_minibatches(CfgMinibatchMode m) {
    switch (m) {
    case CFG_MB_FAITHFUL: return 0;
    case CFG_MB_EQUAL: return 1;
    }
    return 0;
}

int train_value_per_step(CfgValueForward v) {
    switch (v) {
    case CFG_VF_ROLLOUT: return 0;
    case CFG_VF_STEP: return 1;
    }
    return 0;
}

int train_adam_decoupled(CfgOptimizer o) {
    switch (o) {
    case CFG_OPT_ADAM: return 0;
    case CFG_OPT_ADAMW: return 1;
    }
    return 0;
}

int train_noise_selected_only(CfgNoiseExperts e) {
    switch (e) {
    case CFG_NOISE_EXPERTS_ALL: return 0;
    case CFG_NOISE_EXPERTS_SELECTED: return 1;
    }
    return 0;
}

int train_metrics_rows_faithful(CfgMetricsRows r) {
    switch (r) {
    case CFG_ROWS_FAITHFUL: return 1;
    case CFG_ROWS_ROUTED: return 0;
    }
    return 1;
}

int train_noise_enabled(const TrainConfig *c, int k) {
    if ((k == 0 ? c->policy : c->value) != CFG_NET_PAMOE) return 0;
    switch (c->noise_when) {
    case CFG_NOISE_WHEN_NEVER: return 0;
    case CFG_NOISE_WHEN_ALWAYS: return 1;
    case CFG_NOISE_WHEN_FAITHFUL: return c->policy == CFG_NET_PAMOE && c->value == CFG_NET_PAMOE;
    }
    return 0;
}
