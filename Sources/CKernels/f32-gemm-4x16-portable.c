/* The portable set, for a CPU with none of the others: plain C that the compiler vectorises for
   whatever the build targets (SSE2 on a baseline x86-64), a 4x16 tile, and the elementwise
   kernels of vector.h without fused multiply-adds. */

#include "CKernels.h"

#include "vector.h"

enum { MR = 4, NR = 16 };

static void tile(const float *a, long a_stride, long rows, const float *panel, long depth, long panel_stride,
                 float *c, long c_stride, const float *bias, int loads_c, int gelu) {
    float acc[MR][NR];
    for (int r = 0; r < MR; r++) {
        const long valid = r < rows ? r : rows - 1;
        for (int j = 0; j < NR; j++) acc[r][j] = loads_c ? c[valid * c_stride + j] : bias ? bias[j] : 0.0f;
    }
    for (long k = 0; k < depth; k++) {
        for (int r = 0; r < MR; r++) {
            const float s = a[(r < rows ? r : rows - 1) * a_stride + k];
            for (int j = 0; j < NR; j++) acc[r][j] += s * panel[j];
        }
        panel += panel_stride;
    }
    for (int r = 0; r < rows && r < MR; r++) memcpy(c + r * c_stride, acc[r], sizeof acc[r]);
    if (gelu) gelu_rows(c, rows, NR, c_stride);
}

static void widen_float16(const void *source, float *destination, long count) {
    widen_float16_scalar(source, destination, count);
}

static void pack(const void *const *rows, long count, long depth, int dtype, float *packed) {
    pack_panels(rows, count, depth, dtype, packed, NR, widen_float16);
}

static const sw_kernel_set set = {
    .name = "portable",
    .description = "portable C, 4x16 tile",
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

const sw_kernel_set *sw_kernels_portable(void) { return &set; }
