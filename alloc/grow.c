/* alloc/grow.c: a partition takes in hugepages while it runs.
 *
 * Owns _mmc_partition_add_hugepages_locked(): hugepages already mapped into the pool's views at
 * their physical place (pool.c) enter the frame database, the engine's index, the table of
 * blocks and the load's frame map. The window is addressed by physical address, so nothing
 * handed out moves; frame indices, which are positions among the pool's hugepages sorted by
 * PFN, are renumbered: every structure that holds one is rebuilt with the new numbers, O(pool
 * frames / 64 + live blocks + load frames), all of it prepared before anything is changed so
 * that a failure (no memory) leaves the partition as it was.
 *
 * (An engine kept over the physical span instead, where a new hugepage would be a give of its
 * frames, needs sparse indexes in every engine; docs/ARCHITECTURE.md says where this stands.)
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static inline uint64_t renumber(const uint64_t *map, unsigned shift, uint64_t i)
{
    return (map[i >> shift] << shift) | (i & ((1ull << shift) - 1));
}

int _mmc_partition_add_hugepages_locked(struct mmc_partition *part, uint64_t nadd,
                                        const uint64_t *add_pfn, const uint8_t *add_node)
{
    struct mmc_frames *f = &part->frames;
    const unsigned shift = f->hp_shift;
    uint64_t *map = malloc(f->nhugepages * sizeof(*map));
    struct mmc_frames nf;
    if (!map)
        return -ENOMEM;
    int rc = _mmc_frames_grow(&nf, f, nadd, add_pfn, add_node, map);
    if (rc < 0) {
        free(map);
        return rc;
    }
    /* the new table of blocks, the new load frame map */
    struct mmc_block *nb = part->blocks_cap ? calloc(part->blocks_cap, sizeof(*nb)) : NULL;
    uint32_t *nslot = part->load.frame_slot ? calloc(nf.nframes, sizeof(*nslot)) : NULL;
    if ((part->blocks_cap && !nb) || (part->load.frame_slot && !nslot)) {
        free(nb), free(nslot), free(map);
        _mmc_frames_destroy(&nf);
        return -ENOMEM;
    }
    /* the engine over the new database, which must sit where the engine will find it */
    struct mmc_frames old = *f;
    void *old_engine = part->engine_state, *engine = NULL;
    *f = nf;
    rc = part->engine->create(f, &engine);
    if (rc < 0) {
        *f = old;
        free(nb), free(nslot), free(map);
        _mmc_frames_destroy(&nf);
        return rc;
    }
    /* commit: nothing below fails */
    part->engine->destroy(old_engine);
    part->engine_state = engine;
    for (uint64_t i = 0; i < part->blocks_cap; i++) {
        if (!part->blocks[i].frames)
            continue;
        struct mmc_block b = part->blocks[i];
        b.first_frame = renumber(map, shift, b.first_frame);
        uint64_t j = _mmc_block_slot(b.first_frame, part->blocks_cap);
        while (nb[j].frames)
            j = (j + 1) & (part->blocks_cap - 1);
        nb[j] = b;
    }
    free(part->blocks);
    part->blocks = nb;
    struct mmc_load *l = &part->load;
    if (nslot) {
        const uint64_t hpf = old.hp_frames;
        for (uint64_t h = 0; h < old.nhugepages; h++)
            memcpy(nslot + map[h] * hpf, l->frame_slot + h * hpf, hpf * sizeof(*nslot));
        free(l->frame_slot);
        l->frame_slot = nslot;
    }
    for (uint32_t s = 0; s < l->nslots; s++)
        if (l->slots[s].live && !l->slots[s].dropped)
            l->slots[s].frame = renumber(map, shift, l->slots[s].frame);
    free(map);
    _mmc_frames_destroy(&old);
    return 0;
}
