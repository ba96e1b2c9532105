/* The AVX2 set: a 6x16 tile, as BLIS and OpenBLAS use on Haswell and Zen (12 of the 16 ymm
   registers accumulate C; two hold B's row, one the broadcast of A), and the elementwise kernels
   of vector.h on 256-bit registers. Needs AVX2, FMA and F16C. */

#if defined(__x86_64__)

#include "CKernels.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#define SW_HAS_FMA 1
#define SW_HAS_HALF_VECTORS 1
#include "vector.h"

enum { MR = 6, NR = 16, SMALL_ROWS = 4 };

/* C[rows, 16] (+)= A[rows, depth] · panel[depth, 16] for `mr` (6 or 4, a constant where it is
   inlined) rows: per step, two loads of B meet `mr` broadcasts of A in 2 mr FMAs. Rows past
   `rows` repeat the last valid one, unstored. Four rows' eight accumulators still cover the
   latency of two FMA units, so a short last row block runs at full speed (small_rows). The panel
   is asked for 64 steps (4 KiB) ahead: with few rows (seq 8) a packed weight streams from memory
   at 16 bytes a cycle, and 16 steps ahead left each step waiting on it (MiniLM seq 8, one
   thread: 3.6 -> 3.3 ms; seq 128 unchanged). */
static inline __attribute__((always_inline)) void tile_rows(const float *a, long a_stride, long rows,
                                                            const float *panel, long depth, long panel_stride,
                                                            float *c, long c_stride, const float *bias, int loads_c,
                                                            int gelu, const int mr) {
    const float *row_a[MR];
    __m256 c0[MR], c1[MR];
    const __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        const long valid = r < rows ? r : rows - 1;
        row_a[r] = a + valid * a_stride;
        if (loads_c) {
            c0[r] = _mm256_loadu_ps(c + valid * c_stride);
            c1[r] = _mm256_loadu_ps(c + valid * c_stride + 8);
        } else {
            c0[r] = bias0;
            c1[r] = bias1;
        }
    }
    for (long k = 0; k < depth; k++) {
        _mm_prefetch((const char *)(panel + 64 * panel_stride), _MM_HINT_T0);
        const __m256 b0 = _mm256_loadu_ps(panel);
        const __m256 b1 = _mm256_loadu_ps(panel + 8);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            const __m256 s = _mm256_broadcast_ss(row_a[r] + k);
            c0[r] = _mm256_fmadd_ps(s, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(s, b1, c1[r]);
        }
        panel += panel_stride;
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        if (r < rows) {
            _mm256_storeu_ps(c + r * c_stride, c0[r]);
            _mm256_storeu_ps(c + r * c_stride + 8, c1[r]);
        }
    }
    if (gelu) gelu_rows(c, rows, NR, c_stride);
}

static void tile(const float *a, long a_stride, long rows, const float *panel, long depth, long panel_stride,
                 float *c, long c_stride, const float *bias, int loads_c, int gelu) {
    if (rows > SMALL_ROWS) {
        tile_rows(a, a_stride, rows, panel, depth, panel_stride, c, c_stride, bias, loads_c, gelu, MR);
    } else {
        tile_rows(a, a_stride, rows, panel, depth, panel_stride, c, c_stride, bias, loads_c, gelu, SMALL_ROWS);
    }
}

/* The tile turned (sw_tile_transposed_function): six weight rows broadcast against the 16
   activations of a panel (in cache), each accumulator starting from its row's bias, the whole
   depth in one chain per output as in `tile`. Each half of the 6 x 16 result (8 activations) is
   transposed in registers as an 8 x 8 block whose last two rows are zero (unpacks within 128-bit
   lanes, shuffles, then swaps of lanes), leaving one register per activation holding its six
   outputs, stored with a mask (the valid rows only, for the valid activations). */
static void tile_transposed(const float *a, long a_stride, long rows, const float *panel, long depth,
                            long panel_rows, float *c, long c_stride, const float *bias, int gelu) {
    const float *row_a[MR];
    __m256 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        const long valid = r < rows ? r : rows - 1;
        row_a[r] = a + valid * a_stride;
        c0[r] = c1[r] = _mm256_set1_ps(bias ? bias[valid] : 0.0f);
    }
    for (long k = 0; k < depth; k++) {
        const __m256 b0 = _mm256_loadu_ps(panel);
        const __m256 b1 = _mm256_loadu_ps(panel + 8);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const __m256 s = _mm256_broadcast_ss(row_a[r] + k);
            c0[r] = _mm256_fmadd_ps(s, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(s, b1, c1[r]);
        }
        panel += NR;
    }
    if (gelu) {
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            float values[NR];
            _mm256_storeu_ps(values, c0[r]);
            _mm256_storeu_ps(values + 8, c1[r]);
            store16(values, gelu16(load16(values)));
            c0[r] = _mm256_loadu_ps(values);
            c1[r] = _mm256_loadu_ps(values + 8);
        }
    }
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int half = 0; half < 2; half++) {
        const __m256 *v = half ? c1 : c0;
        const __m256 zero = _mm256_setzero_ps();
        /* t: rows 2i and 2i + 1 interleaved, per lane; s: four rows of one activation per lane. */
        const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
        const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
        const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
        const __m256 t6 = _mm256_unpacklo_ps(zero, zero), t7 = t6;
        const __m256 s[8] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                             _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE),
                             _mm256_shuffle_ps(t4, t6, 0x44), _mm256_shuffle_ps(t4, t6, 0xEE),
                             _mm256_shuffle_ps(t5, t7, 0x44), _mm256_shuffle_ps(t5, t7, 0xEE)};
        /* Activation i (< 4) is the low lanes of s[i] and s[4 + i]; activation 4 + i their high lanes. */
#pragma clang loop unroll(full)
        for (int i = 0; i < 4; i++) {
            const long low = 8 * half + i, high = low + 4;
            const __m256 first = _mm256_permute2f128_ps(s[i], s[4 + i], 0x20);
            const __m256 second = _mm256_permute2f128_ps(s[i], s[4 + i], 0x31);
            if (low < panel_rows) _mm256_maskstore_ps(c + low * c_stride, mask, first);
            if (high < panel_rows) _mm256_maskstore_ps(c + high * c_stride, mask, second);
        }
    }
}

static void widen_float16(const void *source, float *destination, long count) {
    const unsigned char *bytes = source;
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        _mm256_storeu_ps(destination + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(bytes + 2 * i))));
    }
    widen_float16_scalar(bytes + 2 * i, destination + i, count - i);
}

static void pack(const void *const *rows, long count, long depth, int dtype, float *packed) {
    pack_panels(rows, count, depth, dtype, packed, NR, widen_float16);
}

#pragma clang attribute pop

static const sw_kernel_set set = {
    .name = "avx2",
    .description = "AVX2 + FMA, 6x16 tile",
    .row_block = MR,
    .small_rows = SMALL_ROWS,
    .panel_width = NR,
    .depth_block = 512,
    .tile = tile,
    .tile_transposed = tile_transposed,
    .layer_norm = layer_norm,
    .softmax = softmax,
    .widen_float16 = widen_float16,
    .widen_bfloat16 = widen_bfloat16,
    .pack = pack,
    .all_finite = all_finite,
};

const sw_kernel_set *sw_kernels_avx2(void) { return &set; }

#else

#include "CKernels.h"

const sw_kernel_set *sw_kernels_avx2(void) { return 0; }

#endif
