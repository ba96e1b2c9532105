/* What the BLAKE3 files share: the constants of the specification, and the entry points of the
   per-instruction-set paths, which blake3.c chooses between at run time.

   Section numbers refer to "The BLAKE3 Hashing Framework" (c2sp.org/BLAKE3, also the IETF draft
   draft-aumasson-blake3), which restates the BLAKE3 paper's function. */

#ifndef STREAMING_WEIGHTS_BLAKE3_INTERNAL_H
#define STREAMING_WEIGHTS_BLAKE3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum {
    SW_BLAKE3_BLOCK_LENGTH = 64,
    SW_BLAKE3_CHUNK_LENGTH = 1024,
    SW_BLAKE3_BLOCKS_PER_CHUNK = SW_BLAKE3_CHUNK_LENGTH / SW_BLAKE3_BLOCK_LENGTH,
    SW_BLAKE3_CHAINING_VALUE_LENGTH = 32,
    SW_BLAKE3_ROUNDS = 7,
};

/* How far ahead of each lane's current block the vector paths prefetch, in bytes. They read
   one stream per lane, 1 KiB apart, more than the hardware prefetchers follow. AVX-512 over
   43 MB of chunks (`scripts/test-kernels --bench`, this constant changed): on a Sapphire Rapids
   Xeon 3.0 GB/s without the prefetch, 4.5 at 128 or 256 bytes, 3.7 at 512; on a Zen 4 EPYC 3.5
   without, 4.7 at 128, 4.1 at 256, 3.5 at 384, 3.7 at 512.

   That alone still left each call's first blocks to miss: the x86 paths also prefetch, spread
   over a call's blocks, the whole span after the call's inputs (degree x 1 KiB for chunks,
   degree x 64 bytes for parents), where a caller walking a long input finds its next call's
   inputs. On the Zen 4 EPYC, 43 MB in one update: AVX-512 4.4 GB/s before, 5.6-6.0 after; AVX2
   2.8-3.1 before, 3.5-3.9 after (three alternated runs; in cache, 1 MiB, unchanged at 6.2 and
   3.9). Past the end of the input the hints touch nothing a program owns; a prefetch never faults.
   The NEON path, unmeasured on such a machine, keeps the per-lane prefetch only. */
enum { SW_BLAKE3_PREFETCH_DISTANCE = 128 };

/* §2.4 Compression Function Flags (the keyed and key-derivation flags are not used: this hasher
   only has the unkeyed mode). */
enum {
    SW_BLAKE3_CHUNK_START = 1,
    SW_BLAKE3_CHUNK_END = 2,
    SW_BLAKE3_PARENT = 4,
    SW_BLAKE3_ROOT = 8,
};

/* §2.2 Initial Value: SHA-256's. In the unkeyed mode it is also the key, the chaining value
   every chunk and every parent node starts from (§4.1). */
static const uint32_t sw_blake3_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* The message word each round reads at each position: row 0 is the identity and each row is the
   one before it put through §2.3's permutation (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14,
   15, 8). Reading the block through this table instead of permuting it between rounds lets the
   vector paths keep the message in place; with the rounds unrolled the indices are constants. */
static const uint8_t sw_blake3_schedule[SW_BLAKE3_ROUNDS][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

/* One path: compresses up to `degree` independent inputs at once, one per vector lane (the
   portable path: one at a time). Inputs lie one after another in memory; lanes past `count` are
   computed on a copy of the first input and not stored, so `count` may be anything from 1 to
   `degree`. Chaining values come out as 32 little-endian bytes each, one after another. None of
   these nodes is the root: the root's last compression (ROOT) happens in blake3.c. */
typedef struct sw_blake3_lanes {
    /* "avx512", "avx2", "neon" or "portable". */
    const char *name;
    /* How many inputs one call compresses in parallel. */
    size_t degree;
    /* §4.2: the chaining values of `count` whole 1024-byte chunks, the first with chunk counter
       `first_counter` and the others numbered on from it. */
    void (*hash_chunks)(const uint8_t *chunks, size_t count, uint64_t first_counter, uint8_t *chaining_values);
    /* §4.3.1: the chaining values of `count` parent nodes, each one 64-byte block: the left
       child's chaining value, then the right child's. */
    void (*hash_parents)(const uint8_t *children, size_t count, uint8_t *chaining_values);
} sw_blake3_lanes;

/* The paths compiled for this architecture, or NULL (avx512 and avx2 on x86-64, neon on
   AArch64). The CPU features each one needs are those of the kernel set of the same name. */
const sw_blake3_lanes *sw_blake3_lanes_avx512(void);
const sw_blake3_lanes *sw_blake3_lanes_avx2(void);
const sw_blake3_lanes *sw_blake3_lanes_neon(void);

#endif
