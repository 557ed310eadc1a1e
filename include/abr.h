/* abr.h: constants of the streaming problem and the observation every ABR agent decides from.
 * Values from docs/reference/environment.md section 1. */
#ifndef PAMOE_ABR_H
#define PAMOE_ABR_H

#define ABR_LEVELS 6          /* bitrate levels = actions */
#define ABR_CHUNKS 48         /* chunks per video */
#define ABR_CHUNK_MS 4000.0   /* playback time per chunk */
#define ABR_RTT_MS 80.0
#define ABR_PAYLOAD 0.95
#define ABR_BUFFER_CAP_MS 60000.0
#define ABR_DRAIN_MS 500.0
#define ABR_OBS_ROWS 6
#define ABR_OBS_COLS 8
#define ABR_OBS_DIM (ABR_OBS_ROWS * ABR_OBS_COLS) /* 48, flattened row*8 + col */

static const double ABR_BITRATE_KBPS[ABR_LEVELS] = {300, 750, 1200, 1850, 2850, 4300};

/* What an evaluation step returns (the OptiVerse observation dict, environment.md 12);
 * agents decide the quality of the next chunk from the one returned by the last
 * reset/step. */
typedef struct {
    double delay_ms;
    double sleep_time_ms;       /* residual sleep (Pensieve quirk) */
    double buffer_size_ms;
    double rebuffer_ms;
    double chunk_bytes;         /* selected_video_chunk_size_bytes */
    int done;
    int remain_chunk;
    int last_quality;           /* env.last_select_bitrate */
    double next_chunk_bytes[ABR_LEVELS];
} AbrObs;
#endif
