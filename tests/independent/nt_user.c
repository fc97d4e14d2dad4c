/* tests/independent/nt_user.c: a driver-style program that knows mmcontig only through
 * <mmcontig/wdm.h> and its pkg-config file. It checks NT semantics with its own reading of
 * /proc/self/pagemap: nothing from the project's test helpers or internals.
 */
#define _XOPEN_SOURCE 700 /* pread */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <mmcontig/wdm.h>

static int failures;
#define CHECK(c, what) do { if (!(c)) { printf("FAIL: %s\n", what); failures++; } else printf("ok: %s\n", what); } while (0)

static uint64_t pfn(int fd, const void *va)
{
    uint64_t e = 0;
    (void)*(volatile const char *)va;
    if (pread(fd, &e, 8, (off_t)((uintptr_t)va >> 12 << 3)) != 8)
        return 0;
    return (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
}

int main(void)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    PHYSICAL_ADDRESS zero = {.QuadPart = 0}, any = {.QuadPart = -1}, bound = {.QuadPart = 0x40000};
    SIZE_T n = 0x30001;
    PVOID p = NULL;
    NTSTATUS s = MmAllocateContiguousMemoryEx(&n, zero, any, bound, MM_ANY_NODE_OK, PAGE_READWRITE,
                                              NULL, 'resU', 0, &p);
    CHECK(NT_SUCCESS(s) && n == 0x31000, "Ex: 0x30001 bytes rounded to 0x31000 and written back");
    int contiguous = p != NULL;
    uint64_t first = p ? pfn(fd, p) : 0;
    for (SIZE_T off = 0; p && off < n; off += PAGE_SIZE)
        contiguous &= pfn(fd, (char *)p + off) == first + off / PAGE_SIZE;
    CHECK(contiguous && first, "Ex: block physically contiguous");
    CHECK((first << 12) / 0x40000 == ((first << 12) + n - 1) / 0x40000, "Ex: 256 KiB boundary not crossed");
    CHECK((uint64_t)MmGetPhysicalAddress((char *)p + 5).QuadPart == (first << 12) + 5,
          "MmGetPhysicalAddress agrees with pagemap");
    MmFreeContiguousMemory(p);

    PHYSICAL_ADDRESS low = {.QuadPart = (LONGLONG)(first << 12)}, high = {.QuadPart = (LONGLONG)((first + 4) << 12) - 1};
    PMDL mdl = MmAllocatePagesForMdl(low, high, zero, 8 * PAGE_SIZE);
    CHECK(mdl && MmGetMdlByteCount(mdl) == 4 * PAGE_SIZE && MmGetMdlPfnArray(mdl)[4] == MM_EMPTY_LIST,
          "MDL: 4 frames in the window, partial, MM_EMPTY_LIST after them");
    if (mdl) {
        MmFreePagesFromMdl(mdl);
        CHECK(!(mdl->MdlFlags & MDL_PAGES_LOCKED), "MDL: pages freed, PAGES_LOCKED clear");
        ExFreePool(mdl);
    }
    CHECK(MmAllocateContiguousMemorySpecifyCache(0x2000, zero, any, bound, MmMaximumCacheType) == NULL,
          "SpecifyCache: invalid cache type gives NULL");
    p = NULL;
    s = MmAllocateContiguousMemoryEx(&n, zero, any, zero, 0, PAGE_READONLY, NULL, 'resU', 0, &p);
    CHECK(s == STATUS_INVALID_PARAMETER && p == NULL, "Ex: PAGE_READONLY is STATUS_INVALID_PARAMETER");
    close(fd);
    printf("%s\n", failures ? "independent program: FAILED" : "independent program: ok");
    return failures ? 1 : 0;
}
