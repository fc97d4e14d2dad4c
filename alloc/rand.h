/* alloc/rand.h: the project's one PRNG, splitmix64 (Steele, Lea, Flood 2014), and the seed
 * mixer every derived stream is made with.
 *
 * A leaf (includes only <stdint.h>), header-only so that the library (simulated layouts in
 * sim.c, the aging trace in aging.c) and the benchmark (bench/: states, churn, case seeds)
 * draw from the same generator without exporting a symbol: deterministic for a seed, never
 * rand(). Not for anything that needs unpredictability.
 */
#ifndef MMC_RAND_H
#define MMC_RAND_H

#include <stdint.h>

/* The next 64-bit draw of the stream *state (any value is a valid state). */
static inline uint64_t _mmc_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static inline double _mmc_rand_unit(uint64_t *state) { return (double)(_mmc_rand(state) >> 11) * 0x1p-53; }

/* Uniform in [0, n) (0 when n = 0); modulo bias below 2^-40 for n < 2^24, ignored. */
static inline uint64_t _mmc_rand_below(uint64_t *state, uint64_t n) { return n ? _mmc_rand(state) % n : 0; }

/* A seed derived from two values (a base seed and a label): distinct labels, unrelated streams. */
static inline uint64_t _mmc_rand_mix(uint64_t a, uint64_t b)
{
    uint64_t s = a ^ (b * 0xd6e8feb86659fd93ull);
    _mmc_rand(&s);
    return _mmc_rand(&s);
}

#endif
