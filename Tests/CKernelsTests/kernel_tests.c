/* Every kernel set this CPU runs, against scalar references, from C.

   scripts/test-kernels builds this with the CKernels sources for AArch64 and runs it under
   qemu-aarch64-static, so the NEON set is checked on an x86-64 machine (for correctness only:
   emulated timings mean nothing); built for the host, it checks the x86-64 sets too. The Swift
   tests (KernelTests) check the host's sets through the library. Exits 1 on the first set with a
   failure, printing each one. */

#include "CKernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *set, const char *what, long a, long b, long c, double error) {
    if (!ok) {
        printf("FAIL %s %s (%ld, %ld, %ld): error %g\n", set, what, a, b, c, error);
        failures++;
    }
}

static uint64_t state = 0x9e3779b97f4a7c15u;

static float random_float(float range) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    return ((float)(state >> 40) / (float)(1u << 24) * 2 - 1) * range;
}

static double gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

/* C = A · W^T + bias (then GELU), packed in panels of `packed_width` (the set's own, or a chunk
   set's 32), against double sums. */
static void test_gemm(const sw_kernel_set *set, long rows, long depth, long columns, long packed_width, int with_gelu) {
    const long width = packed_width;
    const long panels = (columns + width - 1) / width;
    float *a = malloc(sizeof(float) * (size_t)(rows * depth + 1)) ;
    float *weight = malloc(sizeof(float) * (size_t)(columns * depth));
    float *bias = malloc(sizeof(float) * (size_t)columns);
    float *packed = calloc((size_t)(panels * width * depth), sizeof(float));
    float *c = malloc(sizeof(float) * (size_t)(rows * columns));
    /* One float in: A is not 16-byte aligned. */
    float *a_rows = a + 1;
    for (long i = 0; i < rows * depth; i++) a_rows[i] = random_float(1);
    for (long i = 0; i < columns * depth; i++) weight[i] = random_float(1);
    for (long i = 0; i < columns; i++) bias[i] = random_float(1);
    for (long n = 0; n < columns; n++) {
        for (long k = 0; k < depth; k++) packed[(n / width) * width * depth + k * width + n % width] = weight[n * depth + k];
    }
    const long set_panels = (columns + set->panel_width - 1) / set->panel_width;
    sw_gemm(set, a_rows, depth, rows, packed, depth, width, columns, 0, set_panels, bias, with_gelu, c, columns);
    double worst = 0;
    for (long m = 0; m < rows; m++) {
        for (long n = 0; n < columns; n++) {
            double sum = bias[n];
            for (long k = 0; k < depth; k++) sum += (double)a_rows[m * depth + k] * weight[n * depth + k];
            if (with_gelu) sum = gelu(sum);
            const double error = fabs(sum - c[m * columns + n]);
            worst = error > worst ? error : worst;
        }
    }
    /* Threads split the panels: the same product in two calls meeting at panel 1 (for a 16-wide set
       reading 32-wide panels, the upper half of the first) is the same bits. */
    if (set_panels > 1) {
        float *split = malloc(sizeof(float) * (size_t)(rows * columns));
        sw_gemm(set, a_rows, depth, rows, packed, depth, width, columns, 0, 1, bias, with_gelu, split, columns);
        sw_gemm(set, a_rows, depth, rows, packed, depth, width, columns, 1, set_panels, bias, with_gelu, split, columns);
        check(memcmp(split, c, sizeof(float) * (size_t)(rows * columns)) == 0, set->name, "gemm split at panel 1", rows,
              depth, columns, 0);
        free(split);
    }
    /* The weights as stored, A packed instead (sw_gemm_stored, a streamed layer's product): the
       same bits, in one call and in two meeting at row_block's first multiple (as threads split). */
    if (width == set->panel_width) {
        const void **a_row_pointers = malloc(sizeof(void *) * (size_t)rows);
        for (long m = 0; m < rows; m++) a_row_pointers[m] = a_rows + m * depth;
        float *a_packed = calloc((size_t)((rows + width - 1) / width * width * depth), sizeof(float));
        set->pack(a_row_pointers, rows, depth, 0, a_packed);
        float *stored = malloc(sizeof(float) * (size_t)(rows * columns));
        sw_gemm_stored(set, a_packed, rows, weight, depth, depth, 0, columns, bias, with_gelu, stored, columns);
        check(memcmp(stored, c, sizeof(float) * (size_t)(rows * columns)) == 0, set->name,
              with_gelu ? "gemm+gelu, weights as stored" : "gemm, weights as stored", rows, depth, columns, 0);
        if (columns > set->row_block) {
            memset(stored, 0, sizeof(float) * (size_t)(rows * columns));
            sw_gemm_stored(set, a_packed, rows, weight, depth, depth, 0, set->row_block, bias, with_gelu, stored,
                           columns);
            sw_gemm_stored(set, a_packed, rows, weight, depth, depth, set->row_block, columns, bias, with_gelu, stored,
                           columns);
            check(memcmp(stored, c, sizeof(float) * (size_t)(rows * columns)) == 0, set->name,
                  "gemm, weights as stored, split", rows, depth, columns, 0);
        }
        free(a_row_pointers);
        free(a_packed);
        free(stored);
    }
    check(worst <= 4e-6 * sqrt((double)depth), set->name,
          width != set->panel_width ? (with_gelu ? "gemm+gelu, 32-wide panels" : "gemm, 32-wide panels")
                                    : (with_gelu ? "gemm+gelu" : "gemm"),
          rows, depth, columns, worst);
    free(a);
    free(weight);
    free(bias);
    free(packed);
    free(c);
}

static void test_layer_norm(const sw_kernel_set *set, long rows, long width) {
    float *x = malloc(sizeof(float) * (size_t)(rows * width));
    float *residual = malloc(sizeof(float) * (size_t)(rows * width));
    float *weight = malloc(sizeof(float) * (size_t)width);
    float *bias = malloc(sizeof(float) * (size_t)width);
    float *out = malloc(sizeof(float) * (size_t)(rows * width));
    for (long i = 0; i < rows * width; i++) {
        x[i] = random_float(3);
        residual[i] = random_float(3);
    }
    for (long i = 0; i < width; i++) {
        weight[i] = random_float(1);
        bias[i] = random_float(1);
    }
    set->layer_norm(x, residual, rows, width, weight, bias, 1e-12f, out);
    double worst = 0;
    for (long r = 0; r < rows; r++) {
        double mean = 0, variance = 0;
        for (long j = 0; j < width; j++) mean += (double)x[r * width + j] + residual[r * width + j];
        mean /= (double)width;
        for (long j = 0; j < width; j++) {
            const double centered = (double)x[r * width + j] + residual[r * width + j] - mean;
            variance += centered * centered;
        }
        variance /= (double)width;
        for (long j = 0; j < width; j++) {
            const double value = ((double)x[r * width + j] + residual[r * width + j] - mean) / sqrt(variance + 1e-12) *
                                     weight[j] + bias[j];
            const double error = fabs(value - out[r * width + j]);
            worst = error > worst ? error : worst;
        }
    }
    check(worst <= 2e-5, set->name, "layer_norm", rows, width, 0, worst);
    free(x);
    free(residual);
    free(weight);
    free(bias);
    free(out);
}

/* With `with_bias`, row r also adds its own row of a bias matrix (stride `width`). */
static void test_softmax(const sw_kernel_set *set, long rows, long width, int with_bias) {
    float *scores = malloc(sizeof(float) * (size_t)(rows * width));
    float *original = malloc(sizeof(float) * (size_t)(rows * width));
    float *bias = malloc(sizeof(float) * (size_t)(rows * width));
    float *mask = malloc(sizeof(float) * (size_t)width);
    for (long i = 0; i < rows * width; i++) {
        original[i] = scores[i] = random_float(20);
        bias[i] = with_bias ? random_float(5) : 0.0f;
    }
    for (long j = 0; j < width; j++) mask[j] = j >= width - 2 && width > 2 ? -3.402823466e38f : 0.0f;
    set->softmax(scores, rows, width, width, 0.125f, mask, with_bias ? bias : NULL, width);
    double worst = 0;
    for (long r = 0; r < rows; r++) {
        double maximum = -INFINITY, total = 0;
        for (long j = 0; j < width; j++) {
            const double value = (double)original[r * width + j] * 0.125 + bias[r * width + j] + mask[j];
            maximum = value > maximum ? value : maximum;
        }
        for (long j = 0; j < width; j++) {
            total += exp((double)original[r * width + j] * 0.125 + bias[r * width + j] + mask[j] - maximum);
        }
        for (long j = 0; j < width; j++) {
            const double value =
                exp((double)original[r * width + j] * 0.125 + bias[r * width + j] + mask[j] - maximum) / total;
            const double error = fabs(value - scores[r * width + j]);
            worst = error > worst ? error : worst;
        }
    }
    check(worst <= 1e-6, set->name, with_bias ? "softmax with a bias" : "softmax", rows, width, 0, worst);
    free(scores);
    free(original);
    free(bias);
    free(mask);
}

/* Every float16 bit pattern, and bfloat16 ones, widened exactly (compared as bits; NaN as NaN). */
static void test_widening(const sw_kernel_set *set) {
    enum { COUNT = 65536 };
    uint16_t *halves = malloc(sizeof(uint16_t) * COUNT + 2);
    float *out = malloc(sizeof(float) * COUNT);
    /* One byte in: the source is not even 2-byte aligned. */
    unsigned char *bytes = (unsigned char *)halves + 1;
    for (uint32_t i = 0; i < COUNT; i++) {
        const uint16_t bits = (uint16_t)i;
        memcpy(bytes + 2 * i, &bits, 2);
    }
    set->widen_float16(bytes, out, COUNT);
    long wrong = 0;
    for (uint32_t i = 0; i < COUNT; i++) {
        const uint32_t sign = (i & 0x8000) << 16, exponent = (i >> 10) & 0x1f, mantissa = i & 0x3ff;
        double expected;
        if (exponent == 0x1f) expected = mantissa ? NAN : INFINITY;
        else if (exponent == 0) expected = ldexp((double)mantissa, -24);
        else expected = ldexp((double)(mantissa | 0x400), (int)exponent - 25);
        if (sign) expected = -expected;
        const float value = out[i];
        if (isnan(expected) ? !isnan(value) : (double)value != expected) wrong++;
    }
    check(wrong == 0, set->name, "widen_float16", wrong, 0, 0, (double)wrong);
    set->widen_bfloat16(bytes, out, COUNT);
    wrong = 0;
    for (uint32_t i = 0; i < COUNT; i++) {
        uint32_t bits;
        memcpy(&bits, out + i, 4);
        if (bits != i << 16) wrong++;
    }
    check(wrong == 0, set->name, "widen_bfloat16", wrong, 0, 0, (double)wrong);
    free(halves);
    free(out);
}

/* Packing against the layout written out by hand: float32 rows (1 byte off alignment), and
   float16 and bfloat16 rows whose widened values are compared through widen_float16 and the
   bfloat16 bit shift. Every value compared exactly, padding lanes included. */
static void test_pack(const sw_kernel_set *set, long count, long depth) {
    const long width = set->panel_width, panels = (count + width - 1) / width;
    const size_t floats = (size_t)(panels * width * depth);
    unsigned char *storage = malloc((size_t)(count * depth) * 4 + 1);
    unsigned char *base = storage + 1;
    const void **rows = malloc(sizeof(void *) * (size_t)(count ? count : 1));
    float *packed = malloc(floats * sizeof(float) + 4);
    float *expected = malloc(floats * sizeof(float) + 4);
    float *widened = malloc(sizeof(float) * (size_t)(depth ? depth : 1));
    for (int dtype = 0; dtype < 3; dtype++) {
        const long size = dtype == 0 ? 4 : 2;
        for (long i = 0; i < count * depth; i++) {
            if (dtype == 0) {
                const float value = random_float(10);
                memcpy(base + 4 * i, &value, 4);
            } else {
                /* Finite halves only: a random exponent below 31, and any sign and mantissa. */
                uint16_t bits = (uint16_t)(rand() & 0xffff);
                if (dtype == 1 && ((bits >> 10) & 0x1f) == 0x1f) bits &= 0xbfff;
                memcpy(base + 2 * i, &bits, 2);
            }
        }
        for (long n = 0; n < count; n++) rows[n] = base + n * depth * size;
        for (size_t i = 0; i < floats; i++) expected[i] = 0;
        for (long n = 0; n < count; n++) {
            if (dtype == 0) memcpy(widened, rows[n], (size_t)depth * 4);
            else if (dtype == 1) sw_kernels_portable()->widen_float16(rows[n], widened, depth);
            else sw_kernels_portable()->widen_bfloat16(rows[n], widened, depth);
            for (long k = 0; k < depth; k++) expected[(n / width) * width * depth + k * width + n % width] = widened[k];
        }
        for (size_t i = 0; i < floats; i++) packed[i] = NAN;
        set->pack(rows, count, depth, dtype, packed);
        long wrong = 0;
        for (size_t i = 0; i < floats; i++) {
            if (memcmp(&packed[i], &expected[i], 4) != 0) wrong++;
        }
        check(wrong == 0, set->name, dtype == 0 ? "pack float32" : dtype == 1 ? "pack float16" : "pack bfloat16", count,
              depth, 0, (double)wrong);
    }
    free(storage);
    free(rows);
    free(packed);
    free(expected);
    free(widened);
}

static void test_all_finite(const sw_kernel_set *set) {
    float values[100];
    for (long count = 0; count <= 100; count += 17) {
        for (long i = 0; i < count; i++) values[i] = random_float(1e30f);
        check(set->all_finite(values, count) == 1, set->name, "all_finite", count, 0, 0, 1);
        for (long i = 0; i < count; i += 7) {
            const float saved = values[i];
            values[i] = NAN;
            check(set->all_finite(values, count) == 0, set->name, "all_finite NaN", count, i, 0, 1);
            values[i] = -INFINITY;
            check(set->all_finite(values, count) == 0, set->name, "all_finite -inf", count, i, 0, 1);
            values[i] = saved;
        }
    }
}

int main(void) {
    const sw_kernel_set *sets[] = {sw_kernels_avx512(), sw_kernels_avx2(), sw_kernels_neon(), sw_kernels_portable()};
    static const long shapes[][3] = {{1, 1, 1},      {8, 32, 32},  {7, 33, 31},   {9, 300, 65},  {17, 513, 96},
                                     {3, 16, 100},   {13, 1537, 47}, {25, 7, 100}, {6, 12, 16},   {12, 768, 32},
                                     {128, 384, 384}, {10, 40, 48},  {14, 64, 16},  {11, 20, 33}, {10, 1000, 40}};
    int tested = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        const sw_kernel_set *set = sets[s];
        if (!set || !sw_cpu_supports(set)) continue;
        const int before = failures;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            for (int with_gelu = 0; with_gelu < 2; with_gelu++) {
                test_gemm(set, shapes[i][0], shapes[i][1], shapes[i][2], set->panel_width, with_gelu);
                test_gemm(set, shapes[i][0], shapes[i][1], shapes[i][2], 32, with_gelu);
            }
        }
        for (long width = 1; width <= 130; width += 43) test_layer_norm(set, 5, width);
        for (long width = 1; width <= 130; width += 43) {
            test_softmax(set, 4, width, 0);
            test_softmax(set, 4, width, 1);
        }
        test_widening(set);
        static const long pack_shapes[][2] = {{1, 1}, {16, 16}, {17, 15}, {31, 33}, {32, 384}, {100, 7}, {1536, 384}};
        for (size_t i = 0; i < sizeof pack_shapes / sizeof pack_shapes[0]; i++) {
            test_pack(set, pack_shapes[i][0], pack_shapes[i][1]);
        }
        test_all_finite(set);
        printf("%s (%s): %s\n", set->name, set->description, failures == before ? "every check passed" : "FAILED");
        tested++;
    }
    printf("cpu: %s\n", sw_cpu_model());
    return failures == 0 && tested > 0 ? 0 : 1;
}
