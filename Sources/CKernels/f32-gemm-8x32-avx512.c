/* The AVX-512 set: an 8x32 tile (16 of the 32 zmm registers accumulate C, two hold B's row, one
   the broadcast of A), and the elementwise kernels of vector.h on 512-bit registers. Needs
   AVX-512F, FMA and F16C (every AVX-512 CPU has the last two).

   Why 8x32 and not a tile that fills more registers: 16 independent accumulators already cover
   the FMA latency of two FMA units, BERT's rows (sequence lengths are often multiples of 8) and
   its 32-wide attention heads fill the tile exactly, and 12x32, 10x32, 8x48 and 6x64 were no
   faster, tried by hand on an AVX-512 Xeon within its noise (12x32 wastes a third of its last row
   block at 128 rows; 8x48 would pad every 32-column head product to 48). */

#if defined(__x86_64__)

#include "CKernels.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma,f16c"))), apply_to = function)

#define SW_HAS_FMA 1
#define SW_HAS_HALF_VECTORS 1
#include "vector.h"

enum { MR = 8, NR = 32, SMALL_ROWS = 4 };

/* The hot loop of both tiles: c0[r], c1[r] += row_a[r][k] · panel[k][0..32) for k < depth and r <
   mr (8, or 4 for a short last row block: a constant where it is inlined), loading the panel's
   two vectors once per step and meeting them with mr broadcasts, 2 mr FMAs (four rows' eight
   accumulators still cover the latency of two FMA units).
   With `prefetch` (a constant where it is inlined), the panel is asked for PREFETCH_STEPS steps
   (16 KiB) ahead: it streams from memory on a packed weight's first row block, and with few rows
   (seq 8) that is most of the work. A Zen 5 takes a step in 8 cycles (two 512-bit FMA units), so
   the panel must arrive at 16 bytes a cycle; 16 steps ahead left it waiting. MiniLM seq 8, one
   thread (streaming-weights-bench forward, alternated three times): 1.35-1.53 ms at 16 steps,
   1.18-1.22 at 32, 0.99-1.07 at 64, 0.86-0.95 at 128, 0.97-1.09 at 256; seq 32 3.5-3.7 -> 3.0-3.4;
   seq 128 and 512, and the warm products of `streaming-weights-bench matmul`, within noise. */
enum { PREFETCH_STEPS = 128 };
static inline __attribute__((always_inline)) void multiply_add(const float *const row_a[MR], const float *panel,
                                                               long depth, long panel_stride, int prefetch,
                                                               const int mr, __m512 c0[MR], __m512 c1[MR]) {
    for (long k = 0; k < depth; k++) {
        if (prefetch) {
            _mm_prefetch((const char *)(panel + PREFETCH_STEPS * panel_stride), _MM_HINT_T0);
            _mm_prefetch((const char *)(panel + PREFETCH_STEPS * panel_stride + 16), _MM_HINT_T0);
        }
        const __m512 b0 = _mm512_loadu_ps(panel);
        const __m512 b1 = _mm512_loadu_ps(panel + 16);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            const __m512 s = _mm512_set1_ps(row_a[r][k]);
            c0[r] = _mm512_fmadd_ps(s, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(s, b1, c1[r]);
        }
        panel += panel_stride;
    }
}

/* C[rows, 32] (+)= A[rows, depth] · panel[depth, 32] (multiply_add) for `mr` rows. Rows past
   `rows` repeat the last valid one (their results are not stored), so the loop has no branch. */
static inline __attribute__((always_inline)) void tile_rows(const float *a, long a_stride, long rows,
                                                            const float *panel, long depth, long panel_stride,
                                                            float *c, long c_stride, const float *bias, int loads_c,
                                                            int gelu, const int mr) {
    const float *row_a[MR];
    __m512 c0[MR], c1[MR];
    const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        const long valid = r < rows ? r : rows - 1;
        row_a[r] = a + valid * a_stride;
        if (loads_c) {
            c0[r] = _mm512_loadu_ps(c + valid * c_stride);
            c1[r] = _mm512_loadu_ps(c + valid * c_stride + 16);
        } else {
            c0[r] = bias0;
            c1[r] = bias1;
        }
    }
    multiply_add(row_a, panel, depth, panel_stride, 1, mr, c0, c1);
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        if (r < rows) {
            _mm512_storeu_ps(c + r * c_stride, c0[r]);
            _mm512_storeu_ps(c + r * c_stride + 16, c1[r]);
        }
    }
    if (gelu) gelu_rows(c, rows, NR, c_stride);
}

/* A tile of up to 4 rows (a short sequence's last row block: 10 tokens are 8 + 2 rows) runs the
   4-row loop, in half the time of the full one. */
static void tile(const float *a, long a_stride, long rows, const float *panel, long depth, long panel_stride,
                 float *c, long c_stride, const float *bias, int loads_c, int gelu) {
    if (rows > SMALL_ROWS) {
        tile_rows(a, a_stride, rows, panel, depth, panel_stride, c, c_stride, bias, loads_c, gelu, MR);
    } else {
        tile_rows(a, a_stride, rows, panel, depth, panel_stride, c, c_stride, bias, loads_c, gelu, SMALL_ROWS);
    }
}

/* The tile turned (sw_tile_transposed_function): weight rows broadcast against the 32
   activations of a panel (multiply_add; the panel is in cache), each accumulator starting from its row's bias. The 8 x
   32 result is transposed in registers, 8 x 16 at a time: unpacks of 32- and 64-bit elements
   within 128-bit lanes, then a permute across lanes, leave each register holding two
   activations' 8 outputs, stored with masks (32 bytes per activation row, only the valid rows
   and features). */
static void tile_transposed(const float *a, long a_stride, long rows, const float *panel, long depth,
                            long panel_rows, float *c, long c_stride, const float *bias, int gelu) {
    const float *row_a[MR];
    __m512 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        const long valid = r < rows ? r : rows - 1;
        row_a[r] = a + valid * a_stride;
        c0[r] = c1[r] = _mm512_set1_ps(bias ? bias[valid] : 0.0f);
    }
    multiply_add(row_a, panel, depth, NR, 0, MR, c0, c1);
    const __mmask16 low = (__mmask16)((1u << rows) - 1), high = (__mmask16)(low << 8);
    /* Activation 4L + m's 8 outputs are lane L of w[m] then of w[4 + m] (below): one permute
       puts L = 0 in the low half and L = 1 in the high one, another L = 2 and 3. */
    const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int half = 0; half < 2; half++) {
        __m512 *v = half ? c1 : c0;
        if (gelu) {
#pragma clang loop unroll(full)
            for (int r = 0; r < MR; r++) v[r] = gelu16(v[r]);
        }
        /* u[2i], u[2i + 1], per 128-bit lane L: rows 2i, 2i + 1 of activations 4L, 4L + 1, and
           of 4L + 2, 4L + 3. */
        __m512 u[MR], w[MR];
#pragma clang loop unroll(full)
        for (int i = 0; i < MR / 2; i++) {
            u[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
            u[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
        }
        /* w[m] (m < 4), per lane L: rows 0-3 of activation 4L + m; w[4 + m]: rows 4-7. */
#pragma clang loop unroll(full)
        for (int g = 0; g < 2; g++) {
            const __m512d x0 = _mm512_castps_pd(u[4 * g]), x1 = _mm512_castps_pd(u[4 * g + 1]);
            const __m512d y0 = _mm512_castps_pd(u[4 * g + 2]), y1 = _mm512_castps_pd(u[4 * g + 3]);
            w[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(x0, y0));
            w[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x0, y0));
            w[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(x1, y1));
            w[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(x1, y1));
        }
#pragma clang loop unroll(full)
        for (int m = 0; m < 4; m++) {
            const __m512 outputs[2] = {_mm512_permutex2var_ps(w[m], first, w[4 + m]),
                                       _mm512_permutex2var_ps(w[m], second, w[4 + m])};
#pragma clang loop unroll(full)
            for (int q = 0; q < 2; q++) {
                const long even = 16 * half + 8 * q + m, odd = even + 4;
                if (even < panel_rows) _mm512_mask_storeu_ps(c + even * c_stride, low, outputs[q]);
                if (odd < panel_rows) _mm512_mask_storeu_ps(c + odd * c_stride - 8, high, outputs[q]);
            }
        }
    }
}

static void widen_float16(const void *source, float *destination, long count) {
    const unsigned char *bytes = source;
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        _mm512_storeu_ps(destination + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(bytes + 2 * i))));
    }
    widen_float16_scalar(bytes + 2 * i, destination + i, count - i);
}

static void pack(const void *const *rows, long count, long depth, int dtype, float *packed) {
    pack_panels(rows, count, depth, dtype, packed, NR, widen_float16);
}

#pragma clang attribute pop

static const sw_kernel_set set = {
    .name = "avx512",
    .description = "AVX-512F + FMA, 8x32 tile",
    .row_block = MR,
    .small_rows = SMALL_ROWS,
    .panel_width = NR,
    .depth_block = 768,
    .tile = tile,
    .tile_transposed = tile_transposed,
    .layer_norm = layer_norm,
    .softmax = softmax,
    .widen_float16 = widen_float16,
    .widen_bfloat16 = widen_bfloat16,
    .pack = pack,
    .all_finite = all_finite,
};

const sw_kernel_set *sw_kernels_avx512(void) { return &set; }

#else

#include "CKernels.h"

const sw_kernel_set *sw_kernels_avx512(void) { return 0; }

#endif
