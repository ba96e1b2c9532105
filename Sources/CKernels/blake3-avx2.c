/* The AVX2 BLAKE3 path: 8 inputs (chunks or parent nodes) at once, one per 32-bit lane of the
   ymm registers. State word i of all 8 compressions lives in one register, so the quarter-rounds
   (§3.2 of c2sp.org/BLAKE3) are the scalar ones written with vector operations. AVX2 has no
   rotate: the rotations by 16 and 8 bits move whole bytes (one byte shuffle), those by 12 and 7
   are two shifts and an or. Each block's words, and the chaining values at the end, go through
   8 x 8 transposes. */

#if defined(__x86_64__)

#include "blake3-internal.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)

enum { LANES = 8 };

static inline __attribute__((always_inline)) __m256i rotate_right_16(__m256i x) {
    const __m256i bytes = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                           2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    return _mm256_shuffle_epi8(x, bytes);
}

static inline __attribute__((always_inline)) __m256i rotate_right_8(__m256i x) {
    const __m256i bytes = _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,
                                           1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
    return _mm256_shuffle_epi8(x, bytes);
}

static inline __attribute__((always_inline)) __m256i rotate_right_12(__m256i x) {
    return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}

static inline __attribute__((always_inline)) __m256i rotate_right_7(__m256i x) {
    return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
}

static inline __attribute__((always_inline)) void quarter_round(__m256i v[16], int a, int b, int c, int d, __m256i x,
                                                                __m256i y) {
    v[a] = _mm256_add_epi32(_mm256_add_epi32(v[a], v[b]), x);
    v[d] = rotate_right_16(_mm256_xor_si256(v[d], v[a]));
    v[c] = _mm256_add_epi32(v[c], v[d]);
    v[b] = rotate_right_12(_mm256_xor_si256(v[b], v[c]));
    v[a] = _mm256_add_epi32(_mm256_add_epi32(v[a], v[b]), y);
    v[d] = rotate_right_8(_mm256_xor_si256(v[d], v[a]));
    v[c] = _mm256_add_epi32(v[c], v[d]);
    v[b] = rotate_right_7(_mm256_xor_si256(v[b], v[c]));
}

/* §3.3 for 8 blocks: h becomes the 8 new chaining values. */
static inline __attribute__((always_inline)) void compress(__m256i h[8], const __m256i m[16], __m256i counter_low,
                                                           __m256i counter_high, uint32_t flags) {
    __m256i v[16] = {
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
        _mm256_set1_epi32((int)sw_blake3_iv[0]), _mm256_set1_epi32((int)sw_blake3_iv[1]),
        _mm256_set1_epi32((int)sw_blake3_iv[2]), _mm256_set1_epi32((int)sw_blake3_iv[3]),
        counter_low, counter_high, _mm256_set1_epi32(SW_BLAKE3_BLOCK_LENGTH), _mm256_set1_epi32((int)flags),
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
    for (int i = 0; i < 8; i++) h[i] = _mm256_xor_si256(v[i], v[i + 8]);
}

/* out[column] = element `column` of rows 0 ... 7: 4 x 4 transposes within each 128-bit half,
   then the halves exchanged. */
static inline __attribute__((always_inline)) void transpose(const __m256i rows[8], __m256i out[8]) {
    __m256i quads[2][4];
#pragma clang loop unroll(full)
    for (int group = 0; group < 2; group++) {
        const __m256i *r = rows + 4 * group;
        const __m256i low01 = _mm256_unpacklo_epi32(r[0], r[1]);
        const __m256i high01 = _mm256_unpackhi_epi32(r[0], r[1]);
        const __m256i low23 = _mm256_unpacklo_epi32(r[2], r[3]);
        const __m256i high23 = _mm256_unpackhi_epi32(r[2], r[3]);
        /* Half L of quads[group][c]: element 4L + c of rows 4 group ... 4 group + 3. */
        quads[group][0] = _mm256_unpacklo_epi64(low01, low23);
        quads[group][1] = _mm256_unpackhi_epi64(low01, low23);
        quads[group][2] = _mm256_unpacklo_epi64(high01, high23);
        quads[group][3] = _mm256_unpackhi_epi64(high01, high23);
    }
#pragma clang loop unroll(full)
    for (int c = 0; c < 4; c++) {
        out[c] = _mm256_permute2x128_si256(quads[0][c], quads[1][c], 0x20);
        out[4 + c] = _mm256_permute2x128_si256(quads[0][c], quads[1][c], 0x31);
    }
}

/* Block `offset` bytes into each lane's input, as m[word] = that word of the 8 lanes. Prefetched:
   each lane's bytes SW_BLAKE3_PREFETCH_DISTANCE ahead, and the `offset * LANES`-th 1/16 of
   `next`, the inputs of the caller's next call (see blake3-internal.h). */
static inline __attribute__((always_inline)) void load_message(const uint8_t *const inputs[LANES], size_t offset,
                                                               __m256i m[16], const uint8_t *next) {
    __m256i first[LANES], second[LANES];
#pragma clang loop unroll(full)
    for (int line = 0; line < LANES; line++) _mm_prefetch((const char *)(next + offset * LANES + 64 * line), _MM_HINT_T0);
#pragma clang loop unroll(full)
    for (int lane = 0; lane < LANES; lane++) {
        _mm_prefetch((const char *)(inputs[lane] + offset + SW_BLAKE3_PREFETCH_DISTANCE), _MM_HINT_T0);
        first[lane] = _mm256_loadu_si256((const __m256i *)(inputs[lane] + offset));
        second[lane] = _mm256_loadu_si256((const __m256i *)(inputs[lane] + offset + 32));
    }
    transpose(first, m);
    transpose(second, m + 8);
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
    const __m256i counter_low = _mm256_loadu_si256((const __m256i *)low);
    const __m256i counter_high = _mm256_loadu_si256((const __m256i *)high);
    __m256i h[8];
    for (int i = 0; i < 8; i++) h[i] = _mm256_set1_epi32((int)sw_blake3_iv[i]);
    /* Where the next call's inputs lie when the caller walks a long input (see blake3-internal.h). */
    const uint8_t *const next = input + LANES * blocks * SW_BLAKE3_BLOCK_LENGTH;
    for (size_t block = 0; block < blocks; block++) {
        __m256i m[16];
        load_message(inputs, block * SW_BLAKE3_BLOCK_LENGTH, m, next);
        uint32_t block_flags = flags;
        if (block == 0) block_flags |= first_flags;
        if (block == blocks - 1) block_flags |= last_flags;
        compress(h, m, counter_low, counter_high, block_flags);
    }
    /* Transposed, h holds lane i's chaining value in register i. */
    __m256i chaining_values[LANES];
    transpose(h, chaining_values);
    for (size_t lane = 0; lane < count; lane++) {
        _mm256_storeu_si256((__m256i *)(out + 32 * lane), chaining_values[lane]);
    }
}

static void hash_chunks(const uint8_t *chunks, size_t count, uint64_t first_counter, uint8_t *chaining_values) {
    hash_lanes(chunks, count, SW_BLAKE3_BLOCKS_PER_CHUNK, first_counter, 1, 0, SW_BLAKE3_CHUNK_START,
               SW_BLAKE3_CHUNK_END, chaining_values);
}

static void hash_parents(const uint8_t *children, size_t count, uint8_t *chaining_values) {
    hash_lanes(children, count, 1, 0, 0, SW_BLAKE3_PARENT, 0, 0, chaining_values);
}

#pragma clang attribute pop

static const sw_blake3_lanes lanes = {
    .name = "avx2",
    .degree = LANES,
    .hash_chunks = hash_chunks,
    .hash_parents = hash_parents,
};

const sw_blake3_lanes *sw_blake3_lanes_avx2(void) { return &lanes; }

#else

#include "blake3-internal.h"

const sw_blake3_lanes *sw_blake3_lanes_avx2(void) { return 0; }

#endif
