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

/* Input a hasher holds before hashing it: 16 chunks, a group every path hashes at full width
   (AVX-512's 16 lanes). */
enum { SW_BLAKE3_BUFFER_LENGTH = 16 * 1024 };

/* A hasher. A plain struct: a copy made by assignment is an independent hasher that continues
   from the same point (a download resumed mid-object carries one forward). Its fields belong to
   the functions below. */
typedef struct sw_blake3 {
    /* The index among the chunks of the first chunk in `buffer`: a multiple of 16, as the input
       before it was hashed in whole groups of 16 chunks. */
    uint64_t chunk_counter;
    /* The bytes of `buffer` in use. */
    uint32_t buffer_length;
    /* The chaining values of the complete subtrees left of the buffer, leftmost first. 2^64
       bytes are 2^54 chunks: at most 54 subtrees, and one more not yet joined to them. */
    uint8_t stack_length;
    uint8_t stack[55][32];
    /* Input not hashed yet: the start of a group of 16 chunks, kept until the group is whole and
       more input follows it (the last chunk may be the root). Input that arrives in pieces of
       any size is so hashed in whole groups, at full width, and never a chunk at a time. */
    uint8_t buffer[SW_BLAKE3_BUFFER_LENGTH];
} sw_blake3;

/* Starts `hasher` on an empty input. */
void sw_blake3_init(sw_blake3 *hasher);

/* Appends `length` bytes at `data` (which may be NULL when `length` is 0) to the input. How the
   input is split among calls changes neither the digest nor, much, the speed: whole groups of
   16 chunks are hashed where they lie, and only the bytes around them are copied into the
   hasher's buffer. */
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
