/* The NEON BLAKE3 path (AArch64, where NEON is always present): 4 inputs (chunks or parent
   nodes) at once, one per 32-bit lane of the q registers. State word i of all 4 compressions
   lives in one register, so the quarter-rounds (§3.2 of c2sp.org/BLAKE3) are the scalar ones
   written with vector operations. Rotations: by 16 bits a halfword swap, by 8 a byte table
   lookup, by 12 and 7 a shift left and a shift right-and-insert. Each block's words, and the
   chaining values at the end, go through 4 x 4 transposes. */

#if defined(__aarch64__)

#include "blake3-internal.h"

#include <arm_neon.h>

enum { LANES = 4 };

static inline __attribute__((always_inline)) uint32x4_t rotate_right_16(uint32x4_t x) {
    return vreinterpretq_u32_u16(vrev32q_u16(vreinterpretq_u16_u32(x)));
}

static inline __attribute__((always_inline)) uint32x4_t rotate_right_8(uint32x4_t x) {
    static const uint8_t bytes[16] = {1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12};
    return vreinterpretq_u32_u8(vqtbl1q_u8(vreinterpretq_u8_u32(x), vld1q_u8(bytes)));
}

static inline __attribute__((always_inline)) uint32x4_t rotate_right_12(uint32x4_t x) {
    return vsriq_n_u32(vshlq_n_u32(x, 20), x, 12);
}

static inline __attribute__((always_inline)) uint32x4_t rotate_right_7(uint32x4_t x) {
    return vsriq_n_u32(vshlq_n_u32(x, 25), x, 7);
}

static inline __attribute__((always_inline)) void quarter_round(uint32x4_t v[16], int a, int b, int c, int d,
                                                                uint32x4_t x, uint32x4_t y) {
    v[a] = vaddq_u32(vaddq_u32(v[a], v[b]), x);
    v[d] = rotate_right_16(veorq_u32(v[d], v[a]));
    v[c] = vaddq_u32(v[c], v[d]);
    v[b] = rotate_right_12(veorq_u32(v[b], v[c]));
    v[a] = vaddq_u32(vaddq_u32(v[a], v[b]), y);
    v[d] = rotate_right_8(veorq_u32(v[d], v[a]));
    v[c] = vaddq_u32(v[c], v[d]);
    v[b] = rotate_right_7(veorq_u32(v[b], v[c]));
}

/* §3.3 for 4 blocks: h becomes the 4 new chaining values. */
static inline __attribute__((always_inline)) void compress(uint32x4_t h[8], const uint32x4_t m[16],
                                                           uint32x4_t counter_low, uint32x4_t counter_high,
                                                           uint32_t flags) {
    uint32x4_t v[16] = {
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
        vdupq_n_u32(sw_blake3_iv[0]), vdupq_n_u32(sw_blake3_iv[1]),
        vdupq_n_u32(sw_blake3_iv[2]), vdupq_n_u32(sw_blake3_iv[3]),
        counter_low, counter_high, vdupq_n_u32(SW_BLAKE3_BLOCK_LENGTH), vdupq_n_u32(flags),
    };
#pragma clang loop unroll(full)
    for (int round = 0; round < SW_BLAKE3_ROUNDS; round++) {
        const uint8_t *s = sw_blake3_schedule[round];
        quarter_round(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        quarter_round(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        quarter_round(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        quarter_round(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        quarter_round(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        quarter_round(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        quarter_round(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        quarter_round(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) h[i] = veorq_u32(v[i], v[i + 8]);
}

/* out[column] = element `column` of rows 0 ... 3. */
static inline __attribute__((always_inline)) void transpose(const uint32x4_t rows[4], uint32x4_t out[4]) {
    const uint64x2_t even01 = vreinterpretq_u64_u32(vtrn1q_u32(rows[0], rows[1]));
    const uint64x2_t odd01 = vreinterpretq_u64_u32(vtrn2q_u32(rows[0], rows[1]));
    const uint64x2_t even23 = vreinterpretq_u64_u32(vtrn1q_u32(rows[2], rows[3]));
    const uint64x2_t odd23 = vreinterpretq_u64_u32(vtrn2q_u32(rows[2], rows[3]));
    out[0] = vreinterpretq_u32_u64(vtrn1q_u64(even01, even23));
    out[1] = vreinterpretq_u32_u64(vtrn1q_u64(odd01, odd23));
    out[2] = vreinterpretq_u32_u64(vtrn2q_u64(even01, even23));
    out[3] = vreinterpretq_u32_u64(vtrn2q_u64(odd01, odd23));
}

/* Block `offset` bytes into each lane's input, as m[word] = that word of the 4 lanes, with each
   lane's bytes SW_BLAKE3_PREFETCH_DISTANCE ahead prefetched (see blake3-internal.h). */
static inline __attribute__((always_inline)) void load_message(const uint8_t *const inputs[LANES], size_t offset,
                                                               uint32x4_t m[16]) {
#pragma clang loop unroll(full)
    for (int lane = 0; lane < LANES; lane++) __builtin_prefetch(inputs[lane] + offset + SW_BLAKE3_PREFETCH_DISTANCE);
#pragma clang loop unroll(full)
    for (int quarter = 0; quarter < 4; quarter++) {
        uint32x4_t rows[LANES];
#pragma clang loop unroll(full)
        for (int lane = 0; lane < LANES; lane++) rows[lane] = vreinterpretq_u32_u8(vld1q_u8(inputs[lane] + offset + 16 * quarter));
        transpose(rows, m + 4 * quarter);
    }
}

/* `count` inputs of `blocks` blocks each, one after another: every block gets `flags`, the
   first also `first_flags`, the last also `last_flags`; lane i's counter is counter + i * step. */
static inline __attribute__((always_inline)) void hash_lanes(const uint8_t *input, size_t count, size_t blocks,
                                                             uint64_t counter, uint64_t step, uint32_t flags,
                                                             uint32_t first_flags, uint32_t last_flags, uint8_t *out) {
    const uint8_t *inputs[LANES];
    uint32_t low[LANES], high[LANES];
    for (size_t lane = 0; lane < LANES; lane++) {
        inputs[lane] = input + (lane < count ? lane : 0) * blocks * SW_BLAKE3_BLOCK_LENGTH;
        const uint64_t lane_counter = counter + lane * step;
        low[lane] = (uint32_t)lane_counter;
        high[lane] = (uint32_t)(lane_counter >> 32);
    }
    const uint32x4_t counter_low = vld1q_u32(low);
    const uint32x4_t counter_high = vld1q_u32(high);
    uint32x4_t h[8];
    for (int i = 0; i < 8; i++) h[i] = vdupq_n_u32(sw_blake3_iv[i]);
    for (size_t block = 0; block < blocks; block++) {
        uint32x4_t m[16];
        load_message(inputs, block * SW_BLAKE3_BLOCK_LENGTH, m);
        uint32_t block_flags = flags;
        if (block == 0) block_flags |= first_flags;
        if (block == blocks - 1) block_flags |= last_flags;
        compress(h, m, counter_low, counter_high, block_flags);
    }
    /* Transposed, h[0 ... 3] hold words 0-3 of lane i in register i, h[4 ... 7] words 4-7. */
    uint32x4_t first[LANES], second[LANES];
    transpose(h, first);
    transpose(h + 4, second);
    for (size_t lane = 0; lane < count; lane++) {
        vst1q_u8(out + 32 * lane, vreinterpretq_u8_u32(first[lane]));
        vst1q_u8(out + 32 * lane + 16, vreinterpretq_u8_u32(second[lane]));
    }
}

static void hash_chunks(const uint8_t *chunks, size_t count, uint64_t first_counter, uint8_t *chaining_values) {
    hash_lanes(chunks, count, SW_BLAKE3_BLOCKS_PER_CHUNK, first_counter, 1, 0, SW_BLAKE3_CHUNK_START,
               SW_BLAKE3_CHUNK_END, chaining_values);
}

static void hash_parents(const uint8_t *children, size_t count, uint8_t *chaining_values) {
    hash_lanes(children, count, 1, 0, 0, SW_BLAKE3_PARENT, 0, 0, chaining_values);
}

static const sw_blake3_lanes lanes = {
    .name = "neon",
    .degree = LANES,
    .hash_chunks = hash_chunks,
    .hash_parents = hash_parents,
};

const sw_blake3_lanes *sw_blake3_lanes_neon(void) { return &lanes; }

#else

#include "blake3-internal.h"

const sw_blake3_lanes *sw_blake3_lanes_neon(void) { return 0; }

#endif
