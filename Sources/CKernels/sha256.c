/* SHA-256 with the x86 SHA extensions, one message or two side by side (CSha256.h).

   Written from FIPS 180-4 and Intel's description of the SHA extensions. The eight working
   variables live in two registers, ABEF and CDGH (A in the highest 32 bits); sha256rnds2 runs two
   rounds on CDGH, with ABEF and two message words plus constants in the low half of a third
   register, and returns the new ABEF (the old one is the new CDGH). The message schedule
   W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] is computed four words at a time:
   sha256msg1 adds the s0 terms, an alignr supplies W[t-7..t-4], sha256msg2 adds the s1 terms.

   Each rnds2 waits for the one before, and a block is 32 of them in a chain; the two-message
   path interleaves the blocks of two messages, which the core runs in about the time of one
   (`streaming-weights-bench hash`: sha256_two_messages_gb_per_s). Elsewhere, and on CPUs without
   the extensions, the blocks go through FIPS 180-4's loop as written (slow: PairedSHA256 uses
   OpenSSL there). */

#include "CSha256.h"

#include <string.h>

static const uint32_t initial_state[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t round_constants[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define SW_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* One block, as FIPS 180-4 section 6.2.2 writes it: where the SHA extensions are missing. */
static void blocks_portable(uint32_t state[8], const uint8_t *data, size_t count) {
    for (; count > 0; count--, data += 64) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++) {
            w[t] = (uint32_t)data[4 * t] << 24 | (uint32_t)data[4 * t + 1] << 16 | (uint32_t)data[4 * t + 2] << 8 |
                   (uint32_t)data[4 * t + 3];
        }
        for (int t = 16; t < 64; t++) {
            const uint32_t s0 = SW_ROTR(w[t - 15], 7) ^ SW_ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const uint32_t s1 = SW_ROTR(w[t - 2], 17) ^ SW_ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            const uint32_t t1 = h + (SW_ROTR(e, 6) ^ SW_ROTR(e, 11) ^ SW_ROTR(e, 25)) + ((e & f) ^ (~e & g)) +
                                round_constants[t] + w[t];
            const uint32_t t2 = (SW_ROTR(a, 2) ^ SW_ROTR(a, 13) ^ SW_ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a, state[1] += b, state[2] += c, state[3] += d;
        state[4] += e, state[5] += f, state[6] += g, state[7] += h;
    }
}

/* -1 until the CPU is asked; 0 forced off by sw_sha256_force_portable. */
static int use_extensions = -1;

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>

int sw_sha256_supported(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned int ssse3 = 1u << 9, sse41 = 1u << 19;
    if ((ecx & (ssse3 | sse41)) != (ssse3 | sse41)) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx >> 29) & 1;
}

#pragma clang attribute push(__attribute__((target("sha,sse4.1,ssse3"))), apply_to = function)

typedef struct {
    __m128i abef, cdgh;
} lane;

static inline __attribute__((always_inline)) lane load_state(const uint32_t state[8]) {
    const __m128i badc = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0xB1);
    const __m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(state + 4)), 0x1B);
    return (lane){_mm_alignr_epi8(badc, hgfe, 8), _mm_blend_epi16(hgfe, badc, 0xF0)};
}

static inline __attribute__((always_inline)) void store_state(uint32_t state[8], lane l) {
    const __m128i feba = _mm_shuffle_epi32(l.abef, 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(l.cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)state, _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

/* Rounds 4g .. 4g + 3 of `l` with the schedule words w[g % 4], and the schedule's next step. */
#define SW_SHA256_GROUP(l, w, g)                                                                            \
    do {                                                                                                    \
        const __m128i wk = _mm_add_epi32(w[(g) % 4], _mm_load_si128((const __m128i *)(round_constants + 4 * (g)))); \
        l.cdgh = _mm_sha256rnds2_epu32(l.cdgh, l.abef, wk);                                                 \
        if ((g) >= 3 && (g) <= 14) {                                                                        \
            const __m128i w7 = _mm_alignr_epi8(w[(g) % 4], w[((g) + 3) % 4], 4);                            \
            w[((g) + 1) % 4] = _mm_sha256msg2_epu32(_mm_add_epi32(w[((g) + 1) % 4], w7), w[(g) % 4]);       \
        }                                                                                                   \
        l.abef = _mm_sha256rnds2_epu32(l.abef, l.cdgh, _mm_shuffle_epi32(wk, 0x0E));                        \
        if ((g) >= 1 && (g) <= 12) w[((g) + 3) % 4] = _mm_sha256msg1_epu32(w[((g) + 3) % 4], w[(g) % 4]);   \
    } while (0)

static inline __attribute__((always_inline)) void load_words(__m128i w[4], const uint8_t *block) {
    /* Big-endian words. */
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), swap);
}

static void blocks_one_ni(uint32_t state[8], const uint8_t *data, size_t count) {
    lane a = load_state(state);
    for (; count > 0; count--, data += 64) {
        const lane saved = a;
        __m128i w[4];
        load_words(w, data);
#pragma clang loop unroll(full)
        for (int g = 0; g < 16; g++) SW_SHA256_GROUP(a, w, g);
        a.abef = _mm_add_epi32(a.abef, saved.abef);
        a.cdgh = _mm_add_epi32(a.cdgh, saved.cdgh);
    }
    store_state(state, a);
}

/* The same blocks of two messages, their rounds interleaved. */
static void blocks_two_ni(uint32_t first_state[8], const uint8_t *first, uint32_t second_state[8],
                          const uint8_t *second, size_t count) {
    lane a = load_state(first_state), b = load_state(second_state);
    for (; count > 0; count--, first += 64, second += 64) {
        const lane saved_a = a, saved_b = b;
        __m128i wa[4], wb[4];
        load_words(wa, first);
        load_words(wb, second);
#pragma clang loop unroll(full)
        for (int g = 0; g < 16; g++) {
            SW_SHA256_GROUP(a, wa, g);
            SW_SHA256_GROUP(b, wb, g);
        }
        a.abef = _mm_add_epi32(a.abef, saved_a.abef);
        a.cdgh = _mm_add_epi32(a.cdgh, saved_a.cdgh);
        b.abef = _mm_add_epi32(b.abef, saved_b.abef);
        b.cdgh = _mm_add_epi32(b.cdgh, saved_b.cdgh);
    }
    store_state(first_state, a);
    store_state(second_state, b);
}

#pragma clang attribute pop

#else

int sw_sha256_supported(void) { return 0; }

#endif

void sw_sha256_force_portable(int portable) {
    __atomic_store_n(&use_extensions, portable ? 0 : sw_sha256_supported(), __ATOMIC_RELAXED);
}

int sw_sha256_extensions_in_use(void) {
    int use = __atomic_load_n(&use_extensions, __ATOMIC_RELAXED);
    if (use < 0) {
        use = sw_sha256_supported();
        __atomic_store_n(&use_extensions, use, __ATOMIC_RELAXED);
    }
    return use;
}

static void blocks_one(uint32_t state[8], const uint8_t *data, size_t count) {
#if defined(__x86_64__)
    if (sw_sha256_extensions_in_use()) return blocks_one_ni(state, data, count);
#endif
    blocks_portable(state, data, count);
}

static void blocks_two(uint32_t first_state[8], const uint8_t *first, uint32_t second_state[8], const uint8_t *second,
                       size_t count) {
#if defined(__x86_64__)
    if (sw_sha256_extensions_in_use()) return blocks_two_ni(first_state, first, second_state, second, count);
#endif
    blocks_portable(first_state, first, count);
    blocks_portable(second_state, second, count);
}

void sw_sha256_init(sw_sha256 *hasher) {
    memcpy(hasher->state, initial_state, sizeof initial_state);
    hasher->length = 0;
    hasher->buffered = 0;
}

/* Completes a partial block from `data` (compressing it once full); returns the bytes taken. */
static size_t fill_buffer(sw_sha256 *hasher, const uint8_t *data, size_t length) {
    if (hasher->buffered == 0) return 0;
    const size_t take = length < 64 - hasher->buffered ? length : 64 - hasher->buffered;
    memcpy(hasher->buffer + hasher->buffered, data, take);
    hasher->buffered += (uint32_t)take;
    if (hasher->buffered == 64) {
        blocks_one(hasher->state, hasher->buffer, 1);
        hasher->buffered = 0;
    }
    return take;
}

/* Keeps the last `length` (< 64) bytes for the next call. */
static void keep_tail(sw_sha256 *hasher, const uint8_t *data, size_t length) {
    memcpy(hasher->buffer + hasher->buffered, data, length);
    hasher->buffered += (uint32_t)length;
}

void sw_sha256_update(sw_sha256 *hasher, const void *data, size_t length) {
    const uint8_t *bytes = data;
    hasher->length += length;
    const size_t taken = fill_buffer(hasher, bytes, length);
    bytes += taken;
    length -= taken;
    if (length == 0) return;
    blocks_one(hasher->state, bytes, length / 64);
    keep_tail(hasher, bytes + length / 64 * 64, length % 64);
}

void sw_sha256_update_two(sw_sha256 *first, const void *first_data, sw_sha256 *second, const void *second_data,
                          size_t length) {
    const uint8_t *a = first_data, *b = second_data;
    first->length += length;
    second->length += length;
    const size_t taken_a = fill_buffer(first, a, length), taken_b = fill_buffer(second, b, length);
    const size_t left_a = length - taken_a, left_b = length - taken_b;
    a += taken_a;
    b += taken_b;
    /* One hasher's partial block, completed above, can leave it a block behind the other. */
    const size_t blocks_a = left_a / 64, blocks_b = left_b / 64;
    const size_t both = blocks_a < blocks_b ? blocks_a : blocks_b;
    blocks_two(first->state, a, second->state, b, both);
    blocks_one(first->state, a + both * 64, blocks_a - both);
    blocks_one(second->state, b + both * 64, blocks_b - both);
    keep_tail(first, a + blocks_a * 64, left_a % 64);
    keep_tail(second, b + blocks_b * 64, left_b % 64);
}

void sw_sha256_finalize(const sw_sha256 *hasher, uint8_t digest[32]) {
    sw_sha256 last = *hasher;
    uint8_t padding[128] = {0x80};
    /* 0x80, zeros to 56 bytes past a block boundary, then the length in bits, big-endian. */
    const size_t pad = (last.buffered < 56 ? 56 : 120) - last.buffered;
    const uint64_t bits = hasher->length * 8;
    for (int i = 0; i < 8; i++) padding[pad + i] = (uint8_t)(bits >> (56 - 8 * i));
    sw_sha256_update(&last, padding, pad + 8);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(last.state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(last.state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(last.state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)last.state[i];
    }
}
