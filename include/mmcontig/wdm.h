/* mmcontig/wdm.h: the Windows kernel's contiguous-memory routines, on Linux user space.
 *
 * Windows names, Windows types with Windows widths (LLP64: ULONG is 32 bits, NTSTATUS is 32
 * bits, PFN_NUMBER and SIZE_T are 64 bits), the MDL with its Windows x64 layout, and the
 * constants of the routines. A driver's source that calls these routines compiles against this
 * header unchanged.
 *
 * The memory behind every routine is a pool of real hugepages: physical addresses are the
 * machine's own, read from /proc/self/pagemap. The memory always stays write-back cached: a
 * cache type or PAGE_NOCACHE / PAGE_WRITECOMBINE is validated and recorded (see
 * mmc_query() in mmcontig.h) but cannot change the memory type from user space.
 *
 * The first call of any routine initialises mmcontig from the environment (MMC_POOL, MMC_PAGE,
 * MMC_ALGO, MMC_ON_MISUSE: see mmcontig.h) unless mmc_init() was called before.
 */
#ifndef MMCONTIG_WDM_H
#define MMCONTIG_WDM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MMC_API
#define MMC_API __attribute__((visibility("default")))
#endif

/* ---- Windows base types (LLP64 widths) ---- */
typedef void VOID;
typedef void *PVOID;
typedef uint8_t UCHAR;
typedef uint8_t BOOLEAN;
typedef int16_t CSHORT;
typedef uint16_t USHORT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef ULONG *PULONG;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef uint64_t ULONG_PTR;
typedef ULONG_PTR SIZE_T;
typedef SIZE_T *PSIZE_T;
typedef LONG NTSTATUS;
typedef ULONG NODE_REQUIREMENT;
typedef ULONG_PTR PFN_NUMBER;
typedef PFN_NUMBER *PPFN_NUMBER;

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

typedef enum _MEMORY_CACHING_TYPE {
    MmNotMapped = -1,
    MmNonCached = 0,
    MmCached = 1,
    MmWriteCombined = 2,
    MmFrameBufferCached = 2,
    MmHardwareCoherentCached = 3,
    MmNonCachedUnordered = 4,
    MmUSWCCached = 5,
    MmMaximumCacheType = 6
} MEMORY_CACHING_TYPE;

struct _EPROCESS;

/* Memory descriptor list, Windows x64 layout (48 bytes); the PFN array follows the header. */
typedef struct _MDL {
    struct _MDL *Next;
    CSHORT Size;             /* header + PFN array bytes; 16 bits, overflows for large MDLs */
    CSHORT MdlFlags;         /* MDL_* below */
    struct _EPROCESS *Process;
    PVOID MappedSystemVa;
    PVOID StartVa;
    ULONG ByteCount;         /* bytes described */
    ULONG ByteOffset;        /* offset of the first byte in the first page */
} MDL, *PMDL;

#define MmGetMdlPfnArray(Mdl) ((PPFN_NUMBER)((PMDL)(Mdl) + 1))
#define MmGetMdlByteCount(Mdl) ((Mdl)->ByteCount)
#define MmGetMdlByteOffset(Mdl) ((Mdl)->ByteOffset)
#define MmGetMdlVirtualAddress(Mdl) ((PVOID)((char *)((Mdl)->StartVa) + (Mdl)->ByteOffset))

/* ---- constants ---- */
#ifndef PAGE_SIZE
#define PAGE_SIZE 0x1000
#endif
#define PAGE_SHIFT 12

#define STATUS_SUCCESS                 ((NTSTATUS)0x00000000L)
#define STATUS_INVALID_PARAMETER       ((NTSTATUS)0xC000000DL)
#define STATUS_NO_MEMORY               ((NTSTATUS)0xC0000017L)
#define STATUS_INSUFFICIENT_RESOURCES  ((NTSTATUS)0xC000009AL)
#define STATUS_NOT_SUPPORTED           ((NTSTATUS)0xC00000BBL)
#define STATUS_INVALID_PARAMETER_1     ((NTSTATUS)0xC00000EFL)
#define STATUS_INVALID_PARAMETER_2     ((NTSTATUS)0xC00000F0L)
#define STATUS_INVALID_PARAMETER_3     ((NTSTATUS)0xC00000F1L)
#define STATUS_INVALID_PARAMETER_4     ((NTSTATUS)0xC00000F2L)
#define STATUS_INVALID_PARAMETER_5     ((NTSTATUS)0xC00000F3L)
#define STATUS_INVALID_PARAMETER_6     ((NTSTATUS)0xC00000F4L)
#define STATUS_INVALID_PARAMETER_7     ((NTSTATUS)0xC00000F5L)
#define STATUS_INVALID_PARAMETER_8     ((NTSTATUS)0xC00000F6L)
#define STATUS_INVALID_PARAMETER_9     ((NTSTATUS)0xC00000F7L)
#define STATUS_INVALID_PARAMETER_10    ((NTSTATUS)0xC00000F8L)
#define STATUS_INVALID_PARAMETER_11    ((NTSTATUS)0xC00000F9L)
#define STATUS_INVALID_PARAMETER_12    ((NTSTATUS)0xC00000FAL)
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)

#define MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY 0x1
#define MM_ANY_NODE_OK 0x80000000

/* MmAllocatePagesForMdlEx flags */
#define MM_DONT_ZERO_ALLOCATION               0x00000001
#define MM_ALLOCATE_FROM_LOCAL_NODE_ONLY      0x00000002
#define MM_ALLOCATE_FULLY_REQUIRED            0x00000004
#define MM_ALLOCATE_NO_WAIT                   0x00000008
#define MM_ALLOCATE_PREFER_CONTIGUOUS         0x00000010
#define MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS 0x00000020
#define MM_ALLOCATE_FAST_LARGE_PAGES          0x00000040
#define MM_ALLOCATE_TRIM_IF_NECESSARY         0x00000080
#define MM_ALLOCATE_AND_HOT_REMOVE            0x00000100

#define PAGE_NOACCESS          0x01
#define PAGE_READONLY          0x02
#define PAGE_READWRITE         0x04
#define PAGE_WRITECOPY         0x08
#define PAGE_EXECUTE           0x10
#define PAGE_EXECUTE_READ      0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_EXECUTE_WRITECOPY 0x80
#define PAGE_GUARD             0x100
#define PAGE_NOCACHE           0x200
#define PAGE_WRITECOMBINE      0x400

#define MDL_MAPPED_TO_SYSTEM_VA    0x0001
#define MDL_PAGES_LOCKED           0x0002
#define MDL_SOURCE_IS_NONPAGED_POOL 0x0004
#define MDL_ALLOCATED_FIXED_SIZE   0x0008
#define MDL_PARTIAL                0x0010
#define MDL_IO_SPACE               0x0800

#define MM_EMPTY_LIST ((PFN_NUMBER)-1)

/* ---- the routines ----
 * Each follows the Windows contract (see docs/ARCHITECTURE.md, "NT semantics"): NULL or an
 * NTSTATUS on failure, never a partial contiguous block. All are thread-safe. */

/* Contiguous memory below HighestAcceptableAddress, executable, cached. NULL on failure. */
MMC_API PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes,
                                         PHYSICAL_ADDRESS HighestAcceptableAddress);

/* Contiguous memory in [Lowest, Highest] not crossing a multiple of BoundaryAddressMultiple
 * (0: none), of the given cache type (MmCached: executable). NULL on failure. */
MMC_API PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
                                                     PHYSICAL_ADDRESS LowestAcceptableAddress,
                                                     PHYSICAL_ADDRESS HighestAcceptableAddress,
                                                     PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                                     MEMORY_CACHING_TYPE CacheType);

/* As SpecifyCache, only from PreferredNode (or any node with MM_ANY_NODE_OK). */
MMC_API PVOID MmAllocateContiguousMemorySpecifyCacheNode(SIZE_T NumberOfBytes,
                                                         PHYSICAL_ADDRESS LowestAcceptableAddress,
                                                         PHYSICAL_ADDRESS HighestAcceptableAddress,
                                                         PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                                         MEMORY_CACHING_TYPE CacheType,
                                                         NODE_REQUIREMENT PreferredNode);

/* As SpecifyCacheNode, with a page protection instead of a cache type: PAGE_READWRITE (not
 * executable) or PAGE_EXECUTE_READWRITE, optionally with one of PAGE_NOCACHE /
 * PAGE_WRITECOMBINE (not with EXECUTE). */
MMC_API PVOID MmAllocateContiguousNodeMemory(SIZE_T NumberOfBytes,
                                             PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress,
                                             PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                             ULONG Protect, NODE_REQUIREMENT PreferredNode);

/* The general routine: *NumberOfBytes is rounded up to pages and written back; PreferredNode
 * is a preference (other nodes are tried nearest first); PartitionObject is an mmc_partition_t
 * (NULL: the system partition); Tag must be non-zero; Flags 0 or
 * MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY. Returns STATUS_SUCCESS and *BaseAddress,
 * STATUS_INVALID_PARAMETER, or STATUS_INSUFFICIENT_RESOURCES. */
MMC_API NTSTATUS MmAllocateContiguousMemoryEx(PSIZE_T NumberOfBytes,
                                              PHYSICAL_ADDRESS LowestAcceptableAddress,
                                              PHYSICAL_ADDRESS HighestAcceptableAddress,
                                              PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                              NODE_REQUIREMENT PreferredNode, ULONG Protect,
                                              PVOID PartitionObject, ULONG Tag, ULONG Flags,
                                              PVOID *BaseAddress);

/* Free a block by its base address. An interior, unknown or already freed address is misuse:
 * reported and abort() (MMC_ON_MISUSE=warn: reported, counted, ignored). */
MMC_API VOID MmFreeContiguousMemory(PVOID BaseAddress);
/* NumberOfBytes and CacheType are ignored, as on Windows. */
MMC_API VOID MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes,
                                                MEMORY_CACHING_TYPE CacheType);

/* Physical pages, not contiguous, from [Low + k*Skip, High + k*Skip], zeroed. Returns an MDL
 * (free its pages with MmFreePagesFromMdl, then the MDL with ExFreePool), possibly describing
 * fewer bytes than asked, or NULL if no page was found. */
MMC_API PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                                   PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes);
MMC_API PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                                     PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes,
                                     MEMORY_CACHING_TYPE CacheType, ULONG Flags);
/* Frees the pages an MDL describes (not the MDL itself). */
MMC_API VOID MmFreePagesFromMdl(PMDL MemoryDescriptorList);
/* Frees an MDL returned by MmAllocatePagesForMdl(Ex). Any other pointer is misuse. */
MMC_API VOID ExFreePool(PVOID P);

/* Physical address of any mapped address (low 12 bits kept); 0 if no page is behind it. */
MMC_API PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress);
/* Virtual address of a pool frame (in the view its allocation was made with); NULL for a
 * physical address outside every partition's pool. */
MMC_API PVOID MmGetVirtualForPhysical(PHYSICAL_ADDRESS PhysicalAddress);

#ifdef __cplusplus
}
#endif

#endif /* MMCONTIG_WDM_H */
