/* alloc/search/common.c: the out-of-line part of common.h. */
#include "common.h"

void _mmc_search_set_bits(uint64_t *bits, uint64_t first, uint64_t n, bool on)
{
    const uint64_t last = first + n - 1;
    for (uint64_t w = first >> 6; w <= last >> 6; w++) {
        unsigned a = w == first >> 6 ? (unsigned)(first & 63) : 0;
        unsigned e = w == last >> 6 ? (unsigned)(last & 63) : 63;
        uint64_t m = mask_between(a, e);
        bits[w] = on ? bits[w] | m : bits[w] & ~m;
    }
}
