#ifndef STREAMING_WEIGHTS_CKERNELS_H
#define STREAMING_WEIGHTS_CKERNELS_H

#include <stdint.h>

#include "CBlake3.h"
#include "CSha256.h"

/* The compute kernels, one set per instruction set, chosen at run time.

   Swift has no per-function target features: without a CPU flag on the command line it lowers
   SIMD16<Float> to SSE2 and multiply-adds to a library call per lane. C does have them
   (__attribute__((target(...)))), so each set lives in files of its own here, compiled for its
   instruction set whatever flags the package is built with, and the CPU's features, read once
   at run time, decide which set runs. Every function of a set computes the same thing as the
   portable set's; a test compares each with a scalar reference. */

#ifdef __cplusplus
extern "C" {
#endif

/* One micro-kernel call: C[rows, width] (+)= A[rows, depth] · panel[depth, width] for one tile.

   - a: the first row of A, rows `a_stride` floats apart;
   - rows: 1 ... row_block valid rows (the others are not read or written);
   - panel: `depth` rows of `panel_width` floats, rows `panel_stride` floats apart (the packed B;
     see PackedPanels: panel_width apart, or wider when the panel lies in a wider one);
   - c: the tile's first row, rows `c_stride` floats apart, all panel_width columns writable;
   - bias: panel_width floats added when the tile starts from zero (loads_c == 0), or NULL;
   - loads_c: add to C's values instead of starting from the bias (later depth blocks);
   - gelu: apply GELU (erf form) to the results before storing. */
typedef void (*sw_tile_function)(const float *a, long a_stride, long rows, const float *panel, long depth,
                                 long panel_stride, float *c, long c_stride, const float *bias, int loads_c,
                                 int gelu);

/* The same tile turned, for sw_gemm_stored: A's rows are weight rows (output features), the
   panel holds activations, and the tile is stored as C's transpose, straight into C. For
   r < rows and j < panel_rows: c[j * c_stride + r] = bias[r] (or 0 when bias is NULL) plus
   a[r * a_stride + k] * panel[k * panel_width + j] over k in order, then GELU when `gelu`. The
   whole depth in one call, so no partial sums pass through memory. Optional: a set without it
   leaves sw_gemm_stored to turn its tiles through a scratch block. */
typedef void (*sw_tile_transposed_function)(const float *a, long a_stride, long rows, const float *panel, long depth,
                                            long panel_rows, float *c, long c_stride, const float *bias, int gelu);

/* out[r] = LayerNorm(x[r] + residual[r]) * weight + bias over `rows` rows of `width` (biased
   variance, epsilon inside the square root, as torch.nn.LayerNorm). `residual` may be NULL;
   `out` may be `x` or `residual`. */
typedef void (*sw_layer_norm_function)(const float *x, const float *residual, long rows, long width,
                                       const float *weight, const float *bias, float epsilon, float *out);

/* Each of `rows` rows of `width` scores s (rows `stride` apart) becomes softmax(s * scale + mask),
   or softmax(s * scale + bias[r] + mask) with a bias: `mask` has `width` values added to every
   row (0, or the most negative float), or is NULL; row r's bias is the `width` values at
   bias + r * bias_stride (a stride of -1 slides along one vector: a bias that depends only on
   column minus row, MPNet's relative positions), or there is none when `bias` is NULL. */
typedef void (*sw_softmax_function)(float *scores, long rows, long width, long stride, float scale,
                                    const float *mask, const float *bias, long bias_stride);

/* `count` little-endian float16 or bfloat16 values (2 bytes each, any alignment) widened to float32. */
typedef void (*sw_widen_function)(const void *source, float *destination, long count);

/* Packs a Linear weight for the gemm: `count` rows (B's columns, the output features) of `depth`
   values each, rows[n] pointing at row n's values stored as `dtype` (0 float32, 1 float16, 2
   bfloat16; little-endian, any alignment), become panels of panel_width columns, each `depth`
   rows of panel_width floats (column n at panel n / panel_width, lane n % panel_width; lanes past
   `count` are 0). `packed` holds ceil(count / panel_width) * panel_width * depth floats. Narrow
   values are widened on the way: no float32 copy of the weight is made. */
typedef void (*sw_pack_function)(const void *const *rows, long count, long depth, int dtype, float *packed);

/* 1 when every one of `count` floats is finite, 0 when one is NaN or infinite. */
typedef int (*sw_all_finite_function)(const float *values, long count);

/* A kernel set: the functions, and the tile shape the packed B must have. */
typedef struct sw_kernel_set {
    /* "avx512", "avx2", "neon" or "portable". */
    const char *name;
    /* The instruction set, for messages: "AVX-512F + FMA, 8x32 tile". */
    const char *description;
    /* Rows of A per tile, and columns of B per packed panel (the tile's width). */
    long row_block;
    /* 0, or a row count up to which `tile` runs a shorter loop as fast per row as the full one:
       sw_gemm then ends a matrix whose last block would be mostly repeated rows (6 + 2 rows) in
       two short blocks (4 + 4) instead. */
    long small_rows;
    long panel_width;
    /* Depth of B per block in the gemm driver: a block of one panel stays in L1/L2. */
    long depth_block;
    sw_tile_function tile;
    /* NULL in sets that have none. */
    sw_tile_transposed_function tile_transposed;
    sw_layer_norm_function layer_norm;
    sw_softmax_function softmax;
    sw_widen_function widen_float16;
    sw_widen_function widen_bfloat16;
    sw_pack_function pack;
    sw_all_finite_function all_finite;
} sw_kernel_set;

/* The sets compiled for this architecture, or NULL (avx512 and avx2 on x86-64, neon on AArch64;
   portable everywhere). Whether the CPU can run one is sw_cpu_supports's answer. */
const sw_kernel_set *sw_kernels_avx512(void);
const sw_kernel_set *sw_kernels_avx2(void);
const sw_kernel_set *sw_kernels_neon(void);
const sw_kernel_set *sw_kernels_portable(void);

/* 1 when this CPU (and operating system: the registers' state is saved) can run `set`. */
int sw_cpu_supports(const sw_kernel_set *set);

/* The fastest set this CPU runs (whatever STREAMING_WEIGHTS_KERNELS says: for work whose result
   is the same in every set, such as widening float16). */
const sw_kernel_set *sw_kernels_best(void);

/* The CPU's model name (x86-64: the brand string; elsewhere what the system says), or "". */
const char *sw_cpu_model(void);

/* C[rows, columns] = A[rows, depth] · B + bias, then GELU when `gelu`, for the panels
   [panel_begin, panel_end) of B (columns panel_width * panel_begin on): B packed in panels of
   `packed_width` columns, each `depth` rows deep (lanes past `columns` zero), packed_width a
   multiple of set->panel_width: the set's own (set->panel_width), or a chunk set's pre-packed
   32 (docs/FORMAT.md), whose panels a 16-wide set reads in halves. Threads give each call
   disjoint panels (of set->panel_width columns). */
void sw_gemm(const sw_kernel_set *set, const float *a, long a_stride, long rows, const float *packed, long depth,
             long packed_width, long columns, long panel_begin, long panel_end, const float *bias, int gelu,
             float *c, long c_stride);

/* The same product as sw_gemm, bit for bit, with B as stored instead of packed and A packed
   instead: B's column n (a Linear weight's row n, the output feature n) is `depth` floats at
   weights + n * weight_stride; A's `rows` rows are packed as set->pack packs a weight's rows
   (panels of panel_width rows, `depth` deep, lanes past `rows` zero). Computes C's columns
   [column_begin, column_end): threads give each call disjoint ranges, multiples of row_block
   apart. For weights that arrive to be used once (a streamed layer): the panels of A cost
   rows x depth floats per product, packing B would cost columns x depth. */
void sw_gemm_stored(const sw_kernel_set *set, const float *a_packed, long rows, const float *weights,
                    long weight_stride, long depth, long column_begin, long column_end, const float *bias, int gelu,
                    float *c, long c_stride);

#ifdef __cplusplus
}
#endif

#endif
