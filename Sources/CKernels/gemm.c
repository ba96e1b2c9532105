#include "CKernels.h"

#include <string.h>

/* The blocking around a set's micro-kernel, GotoBLAS-style: for each block of depth_block along
   K, each panel of B (depth_block x panel_width floats, L1/L2-resident) meets every row block of
   A, and one tile of C lives in registers while the micro-kernel runs down the block. Plain C:
   the work per call of the micro-kernel (row_block x panel_width x depth_block multiply-adds)
   dwarfs an indirect call. */

enum { MAX_TILE = 16 * 64 };

void sw_gemm(const sw_kernel_set *set, const float *a, long a_stride, long rows, const float *packed, long depth,
             long columns, long panel_begin, long panel_end, const float *bias, int gelu, float *c,
             long c_stride) {
    const long row_block = set->row_block;
    const long width = set->panel_width;
    for (long depth_start = 0; depth_start < depth; depth_start += set->depth_block) {
        const long depth_length = depth - depth_start < set->depth_block ? depth - depth_start : set->depth_block;
        const int first = depth_start == 0;
        const int last = depth_start + depth_length == depth;
        for (long panel = panel_begin; panel < panel_end; panel++) {
            const long column = panel * width;
            const long valid = columns - column < width ? columns - column : width;
            const float *block = packed + panel * width * depth + depth_start * width;
            /* A panel whose columns are not all valid: its tiles run on a full-width scratch copy. */
            float scratch[MAX_TILE];
            float padded_bias[64];
            const float *tile_bias = first && bias ? bias + column : NULL;
            if (valid < width && tile_bias) {
                memset(padded_bias, 0, sizeof(float) * (size_t)width);
                memcpy(padded_bias, tile_bias, sizeof(float) * (size_t)valid);
                tile_bias = padded_bias;
            }
            for (long row = 0; row < rows; row += row_block) {
                const long count = rows - row < row_block ? rows - row : row_block;
                float *tile_c = c + row * c_stride + column;
                if (valid == width) {
                    set->tile(a + row * a_stride + depth_start, a_stride, count, block, depth_length, tile_c,
                              c_stride, tile_bias, !first, last && gelu);
                    continue;
                }
                if (!first) {
                    /* Zeros past the valid columns: garbage there could be denormal, and slow. */
                    memset(scratch, 0, sizeof(float) * (size_t)(count * width));
                    for (long r = 0; r < count; r++) {
                        memcpy(scratch + r * width, tile_c + r * c_stride, sizeof(float) * (size_t)valid);
                    }
                }
                set->tile(a + row * a_stride + depth_start, a_stride, count, block, depth_length, scratch, width,
                          tile_bias, !first, last && gelu);
                for (long r = 0; r < count; r++) {
                    memcpy(tile_c + r * c_stride, scratch + r * width, sizeof(float) * (size_t)valid);
                }
            }
        }
    }
}
