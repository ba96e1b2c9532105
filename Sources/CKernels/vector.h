/* The elementwise kernels (layer norm, softmax and its exp, GELU and its erf, the finiteness
   check), written once on 16-lane vectors with clang's vector extensions.

   Each instruction-set file includes this inside `#pragma clang attribute` for its target, so
   the same source becomes AVX-512 (one register per vector), AVX2 (two), NEON (four) or SSE2
   (four) code. SW_FMA is a fused multiply-add where the set has one, else a multiply and an add
   (a fused one would be a library call per lane). Private to this target. */

#ifndef STREAMING_WEIGHTS_CKERNELS_VECTOR_H
#define STREAMING_WEIGHTS_CKERNELS_VECTOR_H

#include <stdint.h>
#include <string.h>

/* 16-lane vectors pass between these functions in registers only: each is static and inlined
   into its caller in the same file, so no calling convention (the ABI -Wpsabi warns of) applies. */
#pragma clang diagnostic ignored "-Wpsabi"
#define SW_INLINE static inline __attribute__((always_inline))

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));

#ifdef SW_HAS_FMA
#define SW_FMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#else
#define SW_FMA(a, b, c) ((a) * (b) + (c))
#endif

SW_INLINE v16f load16(const float *p) {
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

SW_INLINE void store16(float *p, v16f v) { memcpy(p, &v, sizeof v); }

SW_INLINE v16f splat16(float x) { return (v16f){0} + x; }

/* The lanes of `a` where `mask` is all ones, else those of `b`. */
SW_INLINE v16f select16(v16i mask, v16f a, v16f b) { return (v16f)(((v16i)a & mask) | ((v16i)b & ~mask)); }

SW_INLINE float sum16(v16f v) {
    float total = 0;
    for (int i = 0; i < 16; i++) total += v[i];
    return total;
}

SW_INLINE float max16(v16f v) {
    float best = v[0];
    for (int i = 1; i < 16; i++) best = v[i] > best ? v[i] : best;
    return best;
}

/* e^x, relative error under 2e-7 for x in [-87.3, 88.3]; exactly 0 below that (masked attention
   scores get no weight at all), e^88.37 above. Cephes' expf: x = n ln 2 + r, |r| <= ln 2 / 2, e^r
   by a degree-6 polynomial, then n added to the exponent field. */
SW_INLINE v16f exp16(v16f x) {
    const v16f clamped = __builtin_elementwise_min(__builtin_elementwise_max(x, splat16(-87.33654f)), splat16(88.37626f));
    /* Adding 1.5 * 2^23 rounds x * log2(e) to an integer held in the low mantissa bits. */
    const v16f magic = splat16(12582912.0f);
    const v16f shifted = SW_FMA(clamped, splat16(1.44269504f), magic);
    const v16f n = shifted - magic;
    v16f r = SW_FMA(n, splat16(-0.693359375f), clamped);
    r = SW_FMA(n, splat16(2.12194440e-4f), r);
    v16f p = splat16(1.9875691500e-4f);
    p = SW_FMA(p, r, splat16(1.3981999507e-3f));
    p = SW_FMA(p, r, splat16(8.3334519073e-3f));
    p = SW_FMA(p, r, splat16(4.1665795894e-2f));
    p = SW_FMA(p, r, splat16(1.6666665459e-1f));
    p = SW_FMA(p, r, splat16(5.0000001201e-1f));
    const v16f er = SW_FMA(p, r * r, r + 1.0f);
    const v16u scale = ((v16u)shifted + (uint32_t)(127 - 0x4B400000)) << 23;
    return select16(x < -87.33654f, splat16(0), er * (v16f)scale);
}

/* erf(x), absolute error under 1e-6: x P(x^2) / Q(x^2) on [-4, 4] (±1 to float precision
   outside), with the minimax coefficients of Eigen's and XLA's float erf. */
SW_INLINE v16f erf16(v16f x) {
    const v16f clamped = __builtin_elementwise_min(__builtin_elementwise_max(x, splat16(-4.0f)), splat16(4.0f));
    const v16f x2 = clamped * clamped;
    v16f p = splat16(-2.72614225801306e-10f);
    p = SW_FMA(p, x2, splat16(2.77068142495902e-08f));
    p = SW_FMA(p, x2, splat16(-2.10102402082508e-06f));
    p = SW_FMA(p, x2, splat16(-5.69250639462346e-05f));
    p = SW_FMA(p, x2, splat16(-7.34990630326855e-04f));
    p = SW_FMA(p, x2, splat16(-2.95459980854025e-03f));
    p = SW_FMA(p, x2, splat16(-1.60960333262415e-02f));
    p = p * clamped;
    v16f q = splat16(-1.45660718464996e-05f);
    q = SW_FMA(q, x2, splat16(-2.13374055278905e-04f));
    q = SW_FMA(q, x2, splat16(-1.68282697438203e-03f));
    q = SW_FMA(q, x2, splat16(-7.37332916720468e-03f));
    q = SW_FMA(q, x2, splat16(-1.42647390514189e-02f));
    return p / q;
}

/* GELU in its erf form, x (1 + erf(x / sqrt 2)) / 2, as torch.nn.functional.gelu. */
SW_INLINE v16f gelu16(v16f x) { return x * 0.5f * (1.0f + erf16(x * 0.70710678118654752f)); }

/* GELU over `rows` rows of `width` floats (a multiple of 16), rows `stride` apart, in place. */
SW_INLINE void gelu_rows(float *c, long rows, long width, long stride) {
    for (long r = 0; r < rows; r++) {
        for (long j = 0; j < width; j += 16) store16(c + r * stride + j, gelu16(load16(c + r * stride + j)));
    }
}

static void layer_norm(const float *x, const float *residual, long rows, long width, const float *weight,
                       const float *bias, float epsilon, float *out) {
    const long vector_width = width & ~15L;
    for (long r = 0; r < rows; r++) {
        const float *input = x + r * width;
        float *row = out + r * width;
        /* The residual is summed in first, into the output row. */
        if (residual) {
            const float *skip = residual + r * width;
            for (long j = 0; j < vector_width; j += 16) store16(row + j, load16(input + j) + load16(skip + j));
            for (long j = vector_width; j < width; j++) row[j] = input[j] + skip[j];
        } else if (row != input) {
            memmove(row, input, sizeof(float) * (size_t)width);
        }
        v16f sum = splat16(0);
        for (long j = 0; j < vector_width; j += 16) sum += load16(row + j);
        float total = sum16(sum);
        for (long j = vector_width; j < width; j++) total += row[j];
        const float mean = total / (float)width;
        v16f squares = splat16(0);
        for (long j = 0; j < vector_width; j += 16) {
            const v16f centered = load16(row + j) - mean;
            squares = SW_FMA(centered, centered, squares);
        }
        float square_total = sum16(squares);
        for (long j = vector_width; j < width; j++) square_total += (row[j] - mean) * (row[j] - mean);
        const float inverse = 1.0f / __builtin_sqrtf(square_total / (float)width + epsilon);
        for (long j = 0; j < vector_width; j += 16) {
            store16(row + j, SW_FMA((load16(row + j) - mean) * inverse, load16(weight + j), load16(bias + j)));
        }
        for (long j = vector_width; j < width; j++) row[j] = (row[j] - mean) * inverse * weight[j] + bias[j];
    }
}

static void softmax(float *scores, long rows, long width, long stride, float scale, const float *mask,
                    const float *bias, long bias_stride) {
    const long vector_width = width & ~15L;
    const long tail_count = width - vector_width;
    /* The tail (fewer than 16 scores) goes through a padded vector whose extra lanes are -inf. */
    v16f tail_mask = splat16(-__builtin_inff());
    for (long j = 0; j < tail_count; j++) tail_mask[j] = mask ? mask[vector_width + j] : 0.0f;
    for (long r = 0; r < rows; r++) {
        float *row = scores + r * stride;
        v16f maximum = splat16(-__builtin_inff());
        if (bias) {
            /* (s * scale + bias) + mask, in the reference's order, the first sum fused. */
            const float *row_bias = bias + r * bias_stride;
            for (long j = 0; j < vector_width; j += 16) {
                const v16f added = mask ? load16(mask + j) : splat16(0);
                const v16f value = SW_FMA(load16(row + j), splat16(scale), load16(row_bias + j)) + added;
                store16(row + j, value);
                maximum = __builtin_elementwise_max(maximum, value);
            }
        } else {
            for (long j = 0; j < vector_width; j += 16) {
                const v16f added = mask ? load16(mask + j) : splat16(0);
                const v16f value = SW_FMA(load16(row + j), splat16(scale), added);
                store16(row + j, value);
                maximum = __builtin_elementwise_max(maximum, value);
            }
        }
        v16f tail = tail_mask;
        if (tail_count > 0) {
            for (long j = 0; j < tail_count; j++) {
                const float scaled = row[vector_width + j] * scale;
                tail[j] += bias ? scaled + bias[r * bias_stride + vector_width + j] : scaled;
            }
            maximum = __builtin_elementwise_max(maximum, tail);
        }
        const float row_maximum = max16(maximum);
        v16f sum = splat16(0);
        for (long j = 0; j < vector_width; j += 16) {
            const v16f e = exp16(load16(row + j) - row_maximum);
            store16(row + j, e);
            sum += e;
        }
        if (tail_count > 0) {
            tail = exp16(tail - row_maximum);
            sum += tail;
        }
        const float inverse = 1.0f / sum16(sum);
        for (long j = 0; j < vector_width; j += 16) store16(row + j, load16(row + j) * inverse);
        for (long j = 0; j < tail_count; j++) row[vector_width + j] = tail[j] * inverse;
    }
}

/* The float32 value of an IEEE 754 binary16 bit pattern (exact; subnormals included). */
SW_INLINE float float_from_half(uint16_t half) {
    const uint32_t sign = (uint32_t)(half & 0x8000) << 16;
    const uint32_t exponent = (half >> 10) & 0x1f;
    uint32_t mantissa = half & 0x03ff;
    uint32_t bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000 | (mantissa << 13);
    } else if (exponent == 0 && mantissa == 0) {
        bits = sign;
    } else if (exponent == 0) {
        /* A subnormal half is a normal float: shift its leading 1 up to the implicit bit. */
        uint32_t float_exponent = 127 - 14;
        while (!(mantissa & 0x0400)) {
            mantissa <<= 1;
            float_exponent--;
        }
        bits = sign | (float_exponent << 23) | ((mantissa & 0x03ff) << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* Widens float16 values one by one (the tail of a vector loop, or the portable set). */
SW_INLINE void widen_float16_scalar(const unsigned char *bytes, float *destination, long count) {
    for (long i = 0; i < count; i++) {
        uint16_t half;
        memcpy(&half, bytes + 2 * i, sizeof half);
        destination[i] = float_from_half(half);
    }
}

static void widen_bfloat16(const void *source, float *destination, long count) {
    const unsigned char *bytes = source;
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        uint16_t halves[16];
        memcpy(halves, bytes + 2 * i, sizeof halves);
        v16u wide;
        for (int lane = 0; lane < 16; lane++) wide[lane] = halves[lane];
        store16(destination + i, (v16f)(wide << 16));
    }
    for (; i < count; i++) {
        uint16_t half;
        memcpy(&half, bytes + 2 * i, sizeof half);
        const uint32_t bits = (uint32_t)half << 16;
        memcpy(destination + i, &bits, sizeof bits);
    }
}

/* x * 0 is 0 for a finite x and NaN otherwise, and NaN survives a sum. */
static int all_finite(const float *values, long count) {
    v16f accumulator = splat16(0);
    long i = 0;
    for (; i + 16 <= count; i += 16) accumulator += load16(values + i) * 0.0f;
    float tail = 0;
    for (; i < count; i++) tail += values[i] * 0.0f;
    return sum16(accumulator) + tail == 0.0f;
}

/* Packing a Linear weight into panels (see sw_pack_function), 16 x 16 values at a time: 16 rows'
   next 16 values are loaded (widened from float16 or bfloat16 on the way), transposed in
   registers, and stored as 16 depth steps of 16 lanes. */

/* Exchanges bit `s` of the row and column indices between rows i and i + s (rows with bit s clear
   in i): after s = 8, 4, 2 and 1, every value has moved from (row, column) to (column, row). */
#define SW_EXCHANGE(s, i0, i1, i2, i3, i4, i5, i6, i7, i8, i9, i10, i11, i12, i13, i14, i15,                      \
                    j0, j1, j2, j3, j4, j5, j6, j7, j8, j9, j10, j11, j12, j13, j14, j15)                           \
    _Pragma("clang loop unroll(full)") for (int row = 0; row < 16; row++) {                                        \
        if (row & (s)) continue;                                                                                   \
        const v16f low = m[row], high = m[row + (s)];                                                              \
        m[row] = __builtin_shufflevector(low, high, i0, i1, i2, i3, i4, i5, i6, i7, i8, i9, i10, i11, i12, i13,   \
                                         i14, i15);                                                                \
        m[row + (s)] = __builtin_shufflevector(low, high, j0, j1, j2, j3, j4, j5, j6, j7, j8, j9, j10, j11, j12,  \
                                               j13, j14, j15);                                                     \
    }

SW_INLINE void transpose16(v16f m[16]) {
    /* Row i keeps its columns with bit s clear and takes row i + s's columns with bit s clear
       (shifted up by s); row i + s takes row i's columns with bit s set and keeps its own. */
    SW_EXCHANGE(8, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23,
                8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31)
    SW_EXCHANGE(4, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27,
                4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31)
    SW_EXCHANGE(2, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29,
                2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31)
    SW_EXCHANGE(1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30,
                1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31)
}

#undef SW_EXCHANGE

/* Values [k, k + 16) of a row of `dtype` (0 float32, 1 float16, 2 bfloat16) as floats; only the
   first `valid` are read, the rest are 0. Whole float16 blocks convert in registers where the
   set has half-precision conversions (SW_HAS_HALF_VECTORS: F16C, NEON), bfloat16 ones by a
   shift everywhere. */
SW_INLINE v16f load_row16(const unsigned char *row, long k, long valid, int dtype,
                          void (*widen_float16)(const void *, float *, long)) {
    if (valid == 16) {
        if (dtype == 0) return load16((const float *)(const void *)(row + 4 * k));
#ifdef SW_HAS_HALF_VECTORS
        if (dtype == 1) {
            typedef _Float16 v16h __attribute__((vector_size(32)));
            v16h halves;
            memcpy(&halves, row + 2 * k, sizeof halves);
            return __builtin_convertvector(halves, v16f);
        }
#endif
        if (dtype == 2) {
            typedef uint16_t v16s __attribute__((vector_size(32)));
            v16s halves;
            memcpy(&halves, row + 2 * k, sizeof halves);
            return (v16f)(__builtin_convertvector(halves, v16u) << 16);
        }
    }
    float values[16] = {0};
    if (dtype == 0) {
        memcpy(values, row + 4 * k, (size_t)valid * 4);
    } else if (dtype == 1) {
        widen_float16(row + 2 * k, values, valid);
    } else {
        widen_bfloat16(row + 2 * k, values, valid);
    }
    return load16(values);
}

/* 16 rows' values [k, k + 16), all there, of a constant `dtype`, transposed into 16 steps of 16
   lanes `width` floats apart. */
SW_INLINE void pack_block(const void *const *rows, long k, const int dtype, float *out, long width,
                          void (*widen_float16)(const void *, float *, long)) {
    v16f m[16];
#pragma clang loop unroll(full)
    for (int lane = 0; lane < 16; lane++) m[lane] = load_row16(rows[lane], k, 16, dtype, widen_float16);
    transpose16(m);
#pragma clang loop unroll(full)
    for (int step = 0; step < 16; step++) store16(out + step * width, m[step]);
}

/* sw_pack_function for panels `width` wide (a multiple of 16). */
SW_INLINE void pack_panels(const void *const *rows, long count, long depth, int dtype, float *packed, long width,
                           void (*widen_float16)(const void *, float *, long)) {
    const long panels = (count + width - 1) / width;
    for (long panel = 0; panel < panels; panel++) {
        float *out = packed + panel * width * depth;
        for (long group = 0; group < width; group += 16) {
            const long first = panel * width + group;
            for (long k = 0; k < depth; k += 16) {
                const long valid = depth - k < 16 ? depth - k : 16;
                v16f m[16];
                if (valid == 16 && first + 16 <= count) {
                    /* The whole block: the type a constant, every loop unrolled, m in registers. */
                    if (dtype == 0) {
                        pack_block(rows + first, k, 0, out + k * width + group, width, widen_float16);
                    } else if (dtype == 1) {
                        pack_block(rows + first, k, 1, out + k * width + group, width, widen_float16);
                    } else {
                        pack_block(rows + first, k, 2, out + k * width + group, width, widen_float16);
                    }
                    continue;
                }
                for (int lane = 0; lane < 16; lane++) {
                    m[lane] = first + lane < count
                                  ? load_row16(rows[first + lane], k, valid, dtype, widen_float16)
                                  : splat16(0);
                }
                transpose16(m);
                for (long step = 0; step < valid; step++) store16(out + (k + step) * width + group, m[step]);
            }
        }
    }
}

#endif
