/* alloc/search/common.c: the out-of-line part of common.h. */
#include <string.h>

#include "common.h"

void _mmc_search_set_bits(uint64_t *bits, uint64_t first, uint64_t n, bool on)
{
    if (!n)
        return;
    const uint64_t last = first + n - 1, w0 = first >> 6, w1 = last >> 6;
    if (w0 == w1) {
        uint64_t m = mask_between((unsigned)(first & 63), (unsigned)(last & 63));
        bits[w0] = on ? bits[w0] | m : bits[w0] & ~m;
        return;
    }
    const uint64_t m0 = mask_between((unsigned)(first & 63), 63), m1 = mask_between(0, (unsigned)(last & 63));
    bits[w0] = on ? bits[w0] | m0 : bits[w0] & ~m0;
    bits[w1] = on ? bits[w1] | m1 : bits[w1] & ~m1;
    if (w1 > w0 + 1) /* whole words: one memset */
        memset(bits + w0 + 1, on ? 0xff : 0, (w1 - w0 - 1) * sizeof(uint64_t));
}
