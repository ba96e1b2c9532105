/* The NEON set (AArch64, where NEON is always present): a 6x16 tile (24 of the 32 q registers
   accumulate C; four hold B's row, one the broadcast of A), and the elementwise kernels of
   vector.h on 128-bit registers. */

#if defined(__aarch64__)

#include "CKernels.h"

#include <arm_neon.h>

#define SW_HAS_FMA 1
#define SW_HAS_HALF_VECTORS 1
#include "vector.h"

enum { MR = 6, NR = 16 };

/* C[rows, 16] (+)= A[rows, depth] · panel[depth, 16]: per step, four loads of B meet six
   broadcasts of A in 24 FMAs. Rows past `rows` repeat the last valid one, unstored. */
static void tile(const float *a, long a_stride, long rows, const float *panel, long depth, long panel_stride,
                 float *c, long c_stride, const float *bias, int loads_c, int gelu) {
    const float *row_a[MR];
    float32x4_t acc[MR][4];
    float32x4_t initial[4];
    for (int v = 0; v < 4; v++) initial[v] = bias ? vld1q_f32(bias + 4 * v) : vdupq_n_f32(0);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        const long valid = r < rows ? r : rows - 1;
        row_a[r] = a + valid * a_stride;
#pragma clang loop unroll(full)
        for (int v = 0; v < 4; v++) acc[r][v] = loads_c ? vld1q_f32(c + valid * c_stride + 4 * v) : initial[v];
    }
    for (long k = 0; k < depth; k++) {
        const float32x4_t b0 = vld1q_f32(panel);
        const float32x4_t b1 = vld1q_f32(panel + 4);
        const float32x4_t b2 = vld1q_f32(panel + 8);
        const float32x4_t b3 = vld1q_f32(panel + 12);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const float32x4_t s = vdupq_n_f32(row_a[r][k]);
            acc[r][0] = vfmaq_f32(acc[r][0], s, b0);
            acc[r][1] = vfmaq_f32(acc[r][1], s, b1);
            acc[r][2] = vfmaq_f32(acc[r][2], s, b2);
            acc[r][3] = vfmaq_f32(acc[r][3], s, b3);
        }
        panel += panel_stride;
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r < rows) {
            for (int v = 0; v < 4; v++) vst1q_f32(c + r * c_stride + 4 * v, acc[r][v]);
        }
    }
    if (gelu) gelu_rows(c, rows, NR, c_stride);
}

static void widen_float16(const void *source, float *destination, long count) {
    const unsigned char *bytes = source;
    long i = 0;
    for (; i + 4 <= count; i += 4) {
        uint16x4_t halves = vld1_u16((const uint16_t *)(bytes + 2 * i));
        vst1q_f32(destination + i, vcvt_f32_f16(vreinterpret_f16_u16(halves)));
    }
    widen_float16_scalar(bytes + 2 * i, destination + i, count - i);
}

static void pack(const void *const *rows, long count, long depth, int dtype, float *packed) {
    pack_panels(rows, count, depth, dtype, packed, NR, widen_float16);
}

static const sw_kernel_set set = {
    .name = "neon",
    .description = "NEON, 6x16 tile",
    .row_block = MR,
    .panel_width = NR,
    .depth_block = 512,
    .tile = tile,
    .layer_norm = layer_norm,
    .softmax = softmax,
    .widen_float16 = widen_float16,
    .widen_bfloat16 = widen_bfloat16,
    .pack = pack,
    .all_finite = all_finite,
};

const sw_kernel_set *sw_kernels_neon(void) { return &set; }

#else

#include "CKernels.h"

const sw_kernel_set *sw_kernels_neon(void) { return 0; }

#endif
