#ifndef STREAMING_WEIGHTS_CBLAKE3_H
#define STREAMING_WEIGHTS_CBLAKE3_H

#include <stddef.h>
#include <stdint.h>

/* BLAKE3 (the unkeyed hash, 32-byte digests), to verify model weights as fast as they stream in.

   Written from the specification ("BLAKE3: one function, fast everywhere"; c2sp.org/BLAKE3).
   The input is cut into 1024-byte chunks, hashed independently and joined by a binary tree, so
   whole chunks are hashed several at a time, one per vector lane, by the widest path this CPU
   runs (AVX-512: 16, AVX2: 8, NEON: 4), chosen at run time like the compute kernels. Every path
   gives the same digest. */

#ifdef __cplusplus
extern "C" {
#endif

/* A hasher. A plain struct: a copy made by assignment is an independent hasher that continues
   from the same point (a download resumed mid-object carries one forward). Its fields belong to
   the functions below. */
typedef struct sw_blake3 {
    /* The chunk being hashed: its chaining value so far, its index among the chunks, its last
       block (kept back until more input shows whether it ends the chunk), the bytes in that
       block, and the blocks of the chunk already compressed. */
    uint32_t chunk_chaining_value[8];
    uint64_t chunk_counter;
    uint8_t block[64];
    uint8_t block_length;
    uint8_t blocks_compressed;
    /* The chaining values of the complete subtrees left of that chunk, leftmost first. 2^64
       bytes are 2^54 chunks: at most 54 subtrees, and one more not yet joined to them. */
    uint8_t stack_length;
    uint8_t stack[55][32];
} sw_blake3;

/* Starts `hasher` on an empty input. */
void sw_blake3_init(sw_blake3 *hasher);

/* Appends `length` bytes at `data` (which may be NULL when `length` is 0) to the input. How the
   input is split among calls does not change the digest; large calls are faster, as whole chunks
   are hashed in parallel only within a call. */
void sw_blake3_update(sw_blake3 *hasher, const void *data, size_t length);

/* Writes the 32-byte BLAKE3 digest of the input so far to `digest`. The hasher is not changed:
   more input may follow, and a later digest covers it too. */
void sw_blake3_finalize(const sw_blake3 *hasher, uint8_t digest[32]);

/* The path this process hashes with: "avx512", "avx2", "neon" or "portable". */
const char *sw_blake3_implementation(void);

/* For tests and benchmarks: hashes with the path named `name` from now on, or again with the
   fastest one when `name` is NULL. A path this CPU cannot run, or an unknown name, is ignored. */
void sw_blake3_force(const char *name);

/* 1 when this CPU can run the path named `name`, 0 when it cannot or no path has that name. */
int sw_blake3_supports(const char *name);

#ifdef __cplusplus
}
#endif

#endif
