#include "CKernels.h"

#include <string.h>

/* The blocking around a set's micro-kernel, GotoBLAS-style: for each block of depth_block along
   K, each panel of B (depth_block x panel_width floats, L1/L2-resident) meets every row block of
   A, and one tile of C lives in registers while the micro-kernel runs down the block. Plain C:
   the work per call of the micro-kernel (row_block x panel_width x depth_block multiply-adds)
   dwarfs an indirect call. */

enum { MAX_TILE = 16 * 64 };

/* The rows of the tile at `row`: row_block, except near the end, where a set with a short tile
   (small_rows) splits what is left between two short tiles when one full tile and a few rows
   would otherwise be computed as two full ones. The rows computed are the same either way. */
static long tile_rows(const sw_kernel_set *set, long row, long rows) {
    const long left = rows - row;
    const long block = set->row_block;
    if (left <= block) return left;
    if (left < 2 * block && left <= 2 * set->small_rows) return (left + 1) / 2;
    return block;
}

void sw_gemm(const sw_kernel_set *set, const float *a, long a_stride, long rows, const float *packed, long depth,
             long packed_width, long columns, long panel_begin, long panel_end, const float *bias, int gelu,
             float *c, long c_stride) {
    const long width = set->panel_width;
    for (long depth_start = 0; depth_start < depth; depth_start += set->depth_block) {
        const long depth_length = depth - depth_start < set->depth_block ? depth - depth_start : set->depth_block;
        const int first = depth_start == 0;
        const int last = depth_start + depth_length == depth;
        for (long panel = panel_begin; panel < panel_end; panel++) {
            const long column = panel * width;
            const long valid = columns - column < width ? columns - column : width;
            /* Panel `panel` of the set's width lies in packed panel column / packed_width. */
            const float *block = packed + column / packed_width * packed_width * depth + column % packed_width +
                                 depth_start * packed_width;
            /* A panel whose columns are not all valid: its tiles run on a full-width scratch copy. */
            float scratch[MAX_TILE];
            float padded_bias[64];
            const float *tile_bias = first && bias ? bias + column : NULL;
            if (valid < width && tile_bias) {
                memset(padded_bias, 0, sizeof(float) * (size_t)width);
                memcpy(padded_bias, tile_bias, sizeof(float) * (size_t)valid);
                tile_bias = padded_bias;
            }
            for (long row = 0, count; row < rows; row += count) {
                count = tile_rows(set, row, rows);
                float *tile_c = c + row * c_stride + column;
                if (valid == width) {
                    set->tile(a + row * a_stride + depth_start, a_stride, count, block, depth_length, packed_width,
                              tile_c, c_stride, tile_bias, !first, last && gelu);
                    continue;
                }
                if (!first) {
                    /* Zeros past the valid columns: garbage there could be denormal, and slow. */
                    memset(scratch, 0, sizeof(float) * (size_t)(count * width));
                    for (long r = 0; r < count; r++) {
                        memcpy(scratch + r * width, tile_c + r * c_stride, sizeof(float) * (size_t)valid);
                    }
                }
                set->tile(a + row * a_stride + depth_start, a_stride, count, block, depth_length, packed_width,
                          scratch, width, tile_bias, !first, last && gelu);
                for (long r = 0; r < count; r++) {
                    memcpy(tile_c + r * c_stride, scratch + r * width, sizeof(float) * (size_t)valid);
                }
            }
        }
    }
}

/* sw_gemm with the roles of the operands turned: the weights stay as stored and A is packed.
   Each tile is C's transpose for `row_block` weight rows (output columns) by a panel of A's
   rows. A set with a turned micro-kernel (tile_transposed) stores it into C itself, the whole
   depth at once; otherwise the tiles of the same micro-kernel go through a scratch block,
   starting from the bias (or zero) as sw_gemm's do, and are transposed into C. Either way every
   result is the bias plus the products in order of depth, as in sw_gemm (whose depth blocks
   only pass partial sums through memory, exactly): the same bits.

   Loop order: one block of weight rows at a time (read from memory once), against every panel
   of A (which stays in L2). A's panels are taken `GROUP` at a time so the scratch fits on the
   stack. */
enum { GROUP = 8 };

/* Four floats, any alignment: clang's vector extension, which SSE2 and NEON both carry. */
typedef float float4 __attribute__((ext_vector_type(4), aligned(4)));

/* out[j * out_stride + i] = in[i * in_stride + j] for i < rows, j < columns: 4 x 4 blocks
   transposed in registers, the edges one by one. */
static void transpose_into(const float *in, long in_stride, long rows, long columns, float *out, long out_stride) {
    long i = 0;
    for (; i + 4 <= rows; i += 4) {
        long j = 0;
        for (; j + 4 <= columns; j += 4) {
            const float4 a = *(const float4 *)(in + i * in_stride + j);
            const float4 b = *(const float4 *)(in + (i + 1) * in_stride + j);
            const float4 c = *(const float4 *)(in + (i + 2) * in_stride + j);
            const float4 d = *(const float4 *)(in + (i + 3) * in_stride + j);
            const float4 ab_low = __builtin_shufflevector(a, b, 0, 4, 1, 5);
            const float4 ab_high = __builtin_shufflevector(a, b, 2, 6, 3, 7);
            const float4 cd_low = __builtin_shufflevector(c, d, 0, 4, 1, 5);
            const float4 cd_high = __builtin_shufflevector(c, d, 2, 6, 3, 7);
            *(float4 *)(out + j * out_stride + i) = __builtin_shufflevector(ab_low, cd_low, 0, 1, 4, 5);
            *(float4 *)(out + (j + 1) * out_stride + i) = __builtin_shufflevector(ab_low, cd_low, 2, 3, 6, 7);
            *(float4 *)(out + (j + 2) * out_stride + i) = __builtin_shufflevector(ab_high, cd_high, 0, 1, 4, 5);
            *(float4 *)(out + (j + 3) * out_stride + i) = __builtin_shufflevector(ab_high, cd_high, 2, 3, 6, 7);
        }
        for (; j < columns; j++) {
            for (long k = i; k < i + 4; k++) out[j * out_stride + k] = in[k * in_stride + j];
        }
    }
    for (; i < rows; i++) {
        for (long j = 0; j < columns; j++) out[j * out_stride + i] = in[i * in_stride + j];
    }
}

void sw_gemm_stored(const sw_kernel_set *set, const float *a_packed, long rows, const float *weights,
                    long weight_stride, long depth, long column_begin, long column_end, const float *bias, int gelu,
                    float *c, long c_stride) {
    const long row_block = set->row_block;
    const long width = set->panel_width;
    const long panels = (rows + width - 1) / width;
    if (set->tile_transposed) {
        for (long column = column_begin; column < column_end; column += row_block) {
            const long count = column_end - column < row_block ? column_end - column : row_block;
            for (long panel = 0; panel < panels; panel++) {
                const long first_row = panel * width;
                set->tile_transposed(weights + column * weight_stride, weight_stride, count,
                                     a_packed + panel * width * depth, depth,
                                     rows - first_row < width ? rows - first_row : width,
                                     c + first_row * c_stride + column, c_stride, bias ? bias + column : NULL, gelu);
            }
        }
        return;
    }
    float scratch[16 * GROUP * 64];
    for (long group = 0; group < panels; group += GROUP) {
        const long group_panels = panels - group < GROUP ? panels - group : GROUP;
        const long scratch_stride = group_panels * width;
        const long first_row = group * width;
        const long group_rows = rows - first_row < scratch_stride ? rows - first_row : scratch_stride;
        for (long column = column_begin; column < column_end; column += row_block) {
            const long count = column_end - column < row_block ? column_end - column : row_block;
            for (long r = 0; r < count; r++) {
                const float start = bias ? bias[column + r] : 0.0f;
                for (long j = 0; j < scratch_stride; j++) scratch[r * scratch_stride + j] = start;
            }
            for (long depth_start = 0; depth_start < depth; depth_start += set->depth_block) {
                const long depth_length =
                    depth - depth_start < set->depth_block ? depth - depth_start : set->depth_block;
                const int last = depth_start + depth_length == depth;
                for (long panel = 0; panel < group_panels; panel++) {
                    const float *block = a_packed + (group + panel) * width * depth + depth_start * width;
                    set->tile(weights + column * weight_stride + depth_start, weight_stride, count, block, depth_length,
                              width, scratch + panel * width, scratch_stride, NULL, 1, last && gelu);
                }
            }
            transpose_into(scratch, scratch_stride, count, group_rows, c + first_row * c_stride + column, c_stride);
        }
    }
}
