/* fuzz_agent_spec.c: an `eval --agent` spec (agent_create) on a constant chunk-size table.
 * The input, up to the first NUL or newline, is one spec. An accepted agent has a label and
 * decides a quality in 0..5 for a neutral observation. */
#include "agent.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char spec[256];
    size_t n = 0;
    while (n < size && n < sizeof spec - 1 && data[n] && data[n] != '\n') n++;
    memcpy(spec, data, n);
    spec[n] = 0;
    static double sizes[ABR_LEVELS * (ABR_CHUNKS + 1)];
    for (int q = 0; q < ABR_LEVELS; q++)
        for (int k = 0; k <= ABR_CHUNKS; k++) sizes[q * (ABR_CHUNKS + 1) + k] = 1e5 * (q + 1);
    AgentVideo av = {sizes, ABR_CHUNKS + 1};
    PmError err;
    Agent *a = agent_create(spec, &av, &err);
    if (a) {
        FUZZ_ASSERT(a->label[0] != 0);
        agent_free(a);
    } else {
        FUZZ_ASSERT(err.msg[0] != 0);
    }
    return 0;
}
