/* The AVX-512 BLAKE3 path: 16 inputs (chunks or parent nodes) at once, one per 32-bit lane of
   the zmm registers. State word i of all 16 compressions lives in one register, so the
   quarter-rounds (§3.2 of c2sp.org/BLAKE3) are the scalar ones written with vector operations,
   and AVX-512F's rotate (vprord) does each rotation in one instruction. Each block's 16 x 16
   words are transposed on the way in, the 8 x 16 chaining values on the way out.

   The target leaves out AVX512VL, which sw_cpu_supports does not check: nothing here needs the
   EVEX forms of 128- and 256-bit instructions. */

#if defined(__x86_64__)

#include "blake3-internal.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx2"))), apply_to = function)

enum { LANES = 16 };

static inline __attribute__((always_inline)) void quarter_round(__m512i v[16], int a, int b, int c, int d, __m512i x,
                                                                __m512i y) {
    v[a] = _mm512_add_epi32(_mm512_add_epi32(v[a], v[b]), x);
    v[d] = _mm512_ror_epi32(_mm512_xor_si512(v[d], v[a]), 16);
    v[c] = _mm512_add_epi32(v[c], v[d]);
    v[b] = _mm512_ror_epi32(_mm512_xor_si512(v[b], v[c]), 12);
    v[a] = _mm512_add_epi32(_mm512_add_epi32(v[a], v[b]), y);
    v[d] = _mm512_ror_epi32(_mm512_xor_si512(v[d], v[a]), 8);
    v[c] = _mm512_add_epi32(v[c], v[d]);
    v[b] = _mm512_ror_epi32(_mm512_xor_si512(v[b], v[c]), 7);
}

/* §3.3 for 16 blocks: h becomes the 16 new chaining values. */
static inline __attribute__((always_inline)) void compress(__m512i h[8], const __m512i m[16], __m512i counter_low,
                                                           __m512i counter_high, uint32_t flags) {
    __m512i v[16] = {
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
        _mm512_set1_epi32((int)sw_blake3_iv[0]), _mm512_set1_epi32((int)sw_blake3_iv[1]),
        _mm512_set1_epi32((int)sw_blake3_iv[2]), _mm512_set1_epi32((int)sw_blake3_iv[3]),
        counter_low, counter_high, _mm512_set1_epi32(SW_BLAKE3_BLOCK_LENGTH), _mm512_set1_epi32((int)flags),
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
    for (int i = 0; i < 8; i++) h[i] = _mm512_xor_si512(v[i], v[i + 8]);
}

/* Four rows in, and within each 128-bit lane L, out[c] = word 4L + c of rows 0, 1, 2, 3. */
static inline __attribute__((always_inline)) void transpose_within_lanes(const __m512i rows[4], __m512i out[4]) {
    const __m512i low01 = _mm512_unpacklo_epi32(rows[0], rows[1]);
    const __m512i high01 = _mm512_unpackhi_epi32(rows[0], rows[1]);
    const __m512i low23 = _mm512_unpacklo_epi32(rows[2], rows[3]);
    const __m512i high23 = _mm512_unpackhi_epi32(rows[2], rows[3]);
    out[0] = _mm512_unpacklo_epi64(low01, low23);
    out[1] = _mm512_unpackhi_epi64(low01, low23);
    out[2] = _mm512_unpacklo_epi64(high01, high23);
    out[3] = _mm512_unpackhi_epi64(high01, high23);
}

/* Block `offset` bytes into each lane's input, as m[word] = that word of the 16 lanes: 4 x 4
   transposes within 128-bit lanes, then of the 128-bit lanes across registers. Prefetched: each
   lane's bytes SW_BLAKE3_PREFETCH_DISTANCE ahead, and the `offset * LANES`-th 1/16 of `next`, the
   inputs of the caller's next call (see blake3-internal.h). */
static inline __attribute__((always_inline)) void load_message(const uint8_t *const inputs[LANES], size_t offset,
                                                               __m512i m[16], const uint8_t *next) {
    __m512i rows[LANES], quads[4][4];
#pragma clang loop unroll(full)
    for (int line = 0; line < LANES; line++) _mm_prefetch((const char *)(next + offset * LANES + 64 * line), _MM_HINT_T0);
#pragma clang loop unroll(full)
    for (int lane = 0; lane < LANES; lane++) {
        _mm_prefetch((const char *)(inputs[lane] + offset + SW_BLAKE3_PREFETCH_DISTANCE), _MM_HINT_T0);
        rows[lane] = _mm512_loadu_si512(inputs[lane] + offset);
    }
#pragma clang loop unroll(full)
    for (int group = 0; group < 4; group++) transpose_within_lanes(rows + 4 * group, quads[group]);
#pragma clang loop unroll(full)
    for (int c = 0; c < 4; c++) {
        /* quads[group][c], 128-bit lane L: word 4L + c of lanes 4 group ... 4 group + 3. */
        const __m512i even01 = _mm512_shuffle_i32x4(quads[0][c], quads[1][c], 0x88);
        const __m512i odd01 = _mm512_shuffle_i32x4(quads[0][c], quads[1][c], 0xdd);
        const __m512i even23 = _mm512_shuffle_i32x4(quads[2][c], quads[3][c], 0x88);
        const __m512i odd23 = _mm512_shuffle_i32x4(quads[2][c], quads[3][c], 0xdd);
        m[c] = _mm512_shuffle_i32x4(even01, even23, 0x88);
        m[4 + c] = _mm512_shuffle_i32x4(odd01, odd23, 0x88);
        m[8 + c] = _mm512_shuffle_i32x4(even01, even23, 0xdd);
        m[12 + c] = _mm512_shuffle_i32x4(odd01, odd23, 0xdd);
    }
}

/* The chaining values of the first `count` lanes, 32 bytes each, one after another. */
static inline __attribute__((always_inline)) void store_chaining_values(const __m512i h[8], size_t count,
                                                                        uint8_t *out) {
    __m512i low[4], high[4];
    transpose_within_lanes(h, low);
    transpose_within_lanes(h + 4, high);
    /* low[c] and high[c], 128-bit lane L: words 0-3 and 4-7 of lane 4L + c. */
    const __m512i first_half = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i second_half = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
#pragma clang loop unroll(full)
    for (int c = 0; c < 4; c++) {
        const __m512i lanes_0_4 = _mm512_permutex2var_epi64(low[c], first_half, high[c]);
        const __m512i lanes_8_12 = _mm512_permutex2var_epi64(low[c], second_half, high[c]);
        const __m256i values[4] = {
            _mm512_castsi512_si256(lanes_0_4), _mm512_extracti64x4_epi64(lanes_0_4, 1),
            _mm512_castsi512_si256(lanes_8_12), _mm512_extracti64x4_epi64(lanes_8_12, 1),
        };
#pragma clang loop unroll(full)
        for (int quarter = 0; quarter < 4; quarter++) {
            const size_t lane = (size_t)(4 * quarter + c);
            if (lane < count) _mm256_storeu_si256((__m256i *)(out + 32 * lane), values[quarter]);
        }
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
    const __m512i counter_low = _mm512_loadu_si512(low);
    const __m512i counter_high = _mm512_loadu_si512(high);
    __m512i h[8];
    for (int i = 0; i < 8; i++) h[i] = _mm512_set1_epi32((int)sw_blake3_iv[i]);
    /* Where the next call's inputs lie when the caller walks a long input (see blake3-internal.h). */
    const uint8_t *const next = input + LANES * blocks * SW_BLAKE3_BLOCK_LENGTH;
    for (size_t block = 0; block < blocks; block++) {
        __m512i m[16];
        load_message(inputs, block * SW_BLAKE3_BLOCK_LENGTH, m, next);
        uint32_t block_flags = flags;
        if (block == 0) block_flags |= first_flags;
        if (block == blocks - 1) block_flags |= last_flags;
        compress(h, m, counter_low, counter_high, block_flags);
    }
    store_chaining_values(h, count, out);
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
    .name = "avx512",
    .degree = LANES,
    .hash_chunks = hash_chunks,
    .hash_parents = hash_parents,
};

const sw_blake3_lanes *sw_blake3_lanes_avx512(void) { return &lanes; }

#else

#include "blake3-internal.h"

const sw_blake3_lanes *sw_blake3_lanes_avx512(void) { return 0; }

#endif
