/* train_choices.h: where the configuration's choices (config.h CfgXxx) become the settings
 * of the modules that act on them. Every mapping is a switch without `default:`, so a new
 * choice added to config.h fails to compile (-Wswitch) until it is handled here. */
#ifndef PAMOE_TRAIN_CHOICES_H
#define PAMOE_TRAIN_CHOICES_H
#include "config.h"
#include "metrics.h"
#include "net.h"
#include "trace.h"

NetKind train_net_kind(CfgNetKind k);
int train_route_mode(CfgRouter r); /* ROUTE_FAITHFUL | ROUTE_SWITCH */
TraceFilter train_trace_filter(CfgTraceFilter f);
MetricsRankMode train_rank_mode(CfgRankMode m);
int train_equal_minibatches(CfgMinibatchMode m);  /* 1: exactly num_minibatches minibatches */
int train_value_per_step(CfgValueForward v);      /* 1: one value forward per env step */
int train_adam_decoupled(CfgOptimizer o);         /* 1: AdamW's decoupled decay */
int train_noise_selected_only(CfgNoiseExperts e); /* 1: only experts that took part */
int train_metrics_rows_faithful(CfgMetricsRows r);/* 1: stale rows of unselected experts (defect 20) */
/* Expert noise runs for net k (0 policy, 1 value) under noise.noise_when (defect 3). */
int train_noise_enabled(const TrainConfig *c, int k);
#endif
