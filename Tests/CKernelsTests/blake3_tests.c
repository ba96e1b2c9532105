/* BLAKE3 (CBlake3.h) against digests from the reference implementation, on every path this CPU
   runs.

   Usage: blake3_tests VECTORS     checks each path; VECTORS has one "LENGTH HEXDIGEST" line per
                                   input length, written by make_blake3_vectors.py with the
                                   Python blake3 package, so no expected value comes from here.
          blake3_tests --bench     hashes 43 MB, and 1 MiB in the cache, per path and prints GB/s: in
                                   one update, and in updates of 64 KiB, 70,000 B and 256 KiB.

   Inputs are the official test vectors' pattern: byte i is i % 251. Every input is a prefix of
   the longest, so one pass over the longest input, finalized at each length on the way, checks
   all of them fed in pieces (and that finalize leaves the hasher able to continue).

   Build it with every C file of Sources/CKernels, as scripts/test-kernels builds kernel_tests.c;
   cross-compiled for AArch64 and run under qemu-aarch64-static, it checks the NEON path. Exits 1
   when a digest differs. */

#include "CBlake3.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_VECTORS = 1024, BYTE_AT_A_TIME_LIMIT = 65537 };

typedef struct vector {
    size_t length;
    uint8_t digest[32];
} vector;

static vector vectors[MAX_VECTORS];
static size_t vector_count;
static uint8_t *input;
static long checks, failures;

static uint64_t random_state = 0x9e3779b97f4a7c15u;

static uint64_t random_below(uint64_t bound) {
    random_state = random_state * 6364136223846793005u + 1442695040888963407u;
    return (random_state >> 16) % bound;
}

static int parse_hex(const char *text, uint8_t digest[32]) {
    if (strlen(text) != 64) return 0;
    for (int i = 0; i < 32; i++) {
        unsigned int byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1) return 0;
        digest[i] = (uint8_t)byte;
    }
    return 1;
}

/* Reads the vectors, which must be in increasing order of length. */
static int read_vectors(const char *path) {
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    char hex[80];
    size_t length;
    while (vector_count < MAX_VECTORS && fscanf(file, "%zu %79s", &length, hex) == 2) {
        vector *v = &vectors[vector_count];
        if (!parse_hex(hex, v->digest) || (vector_count > 0 && length <= vectors[vector_count - 1].length)) break;
        v->length = length;
        vector_count++;
    }
    const int complete = feof(file) && vector_count > 0;
    fclose(file);
    return complete;
}

static void check(const sw_blake3 *hasher, const vector *expected, const char *how) {
    uint8_t digest[32];
    sw_blake3_finalize(hasher, digest);
    checks++;
    if (memcmp(digest, expected->digest, 32) != 0) {
        printf("FAIL %s: length %zu, %s\n", sw_blake3_implementation(), expected->length, how);
        failures++;
    }
}

/* (a) The whole input in one update. */
static void check_one_update(const vector *expected) {
    sw_blake3 hasher;
    sw_blake3_init(&hasher);
    sw_blake3_update(&hasher, input, expected->length);
    check(&hasher, expected, "one update");
}

/* A copy taken after a random prefix continues on its own: the original, fed something else
   after the copy, does not change it. */
static void check_copy(const vector *expected) {
    const size_t split = (size_t)random_below(expected->length + 1);
    sw_blake3 original;
    sw_blake3_init(&original);
    sw_blake3_update(&original, input, split);
    sw_blake3 copy = original;
    sw_blake3_update(&original, "x", 1);
    sw_blake3_update(&copy, input + split, expected->length - split);
    check(&copy, expected, "copy continued");
}

/* Pieces of random sizes, from a byte to a mebibyte (and empty ones). */
static size_t random_piece(void) {
    static const size_t limits[] = {1, 16, 64, 1024, 4096, 65536, 1 << 20};
    return (size_t)random_below(limits[random_below(sizeof limits / sizeof limits[0])] + 1);
}

static size_t one_byte(void) { return 1; }

/* (b), (c) The longest input up to `limit` bytes fed in pieces of piece() bytes, cut at each
   vector's length, where the digest so far is checked. */
static void check_pieces(size_t (*piece)(void), size_t limit, const char *how) {
    sw_blake3 hasher;
    sw_blake3_init(&hasher);
    size_t fed = 0;
    for (size_t i = 0; i < vector_count && vectors[i].length <= limit; i++) {
        while (fed < vectors[i].length) {
            size_t size = piece();
            if (size > vectors[i].length - fed) size = vectors[i].length - fed;
            sw_blake3_update(&hasher, input + fed, size);
            fed += size;
        }
        check(&hasher, &vectors[i], how);
    }
}

static void test_path(const char *path) {
    sw_blake3_force(path);
    if (strcmp(sw_blake3_implementation(), path) != 0) {
        printf("FAIL %s was forced, %s runs\n", path, sw_blake3_implementation());
        failures++;
        return;
    }
    const long checks_before = checks, failures_before = failures;
    for (size_t i = 0; i < vector_count; i++) {
        check_one_update(&vectors[i]);
        check_copy(&vectors[i]);
    }
    check_pieces(random_piece, SIZE_MAX, "random pieces");
    check_pieces(one_byte, BYTE_AT_A_TIME_LIMIT, "one byte at a time");
    printf("%s: %ld checks %s\n", path, checks - checks_before, failures == failures_before ? "passed" : "FAILED");
}

/* The paths' names, widest first. */
static const char *const paths[] = {"avx512", "avx2", "neon", "portable"};
enum { PATH_COUNT = sizeof paths / sizeof paths[0] };

/* Forcing a path this CPU cannot run, or no path, changes nothing. */
static void test_forcing(void) {
    sw_blake3_force(NULL);
    const char *fastest = sw_blake3_implementation();
    for (int i = 0; i < PATH_COUNT; i++) {
        if (sw_blake3_supports(paths[i])) continue;
        sw_blake3_force(paths[i]);
        if (strcmp(sw_blake3_implementation(), fastest) != 0) {
            printf("FAIL forcing %s, which this CPU cannot run, switched to it\n", paths[i]);
            failures++;
        }
    }
    if (sw_blake3_supports("sha256") || sw_blake3_supports(NULL) || !sw_blake3_supports("portable")) {
        printf("FAIL sw_blake3_supports\n");
        failures++;
    }
    printf("automatic path: %s\n", fastest);
}

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* Best of 5, in GB/s, hashing `length` bytes in updates of `piece` bytes. */
static double throughput(size_t length, size_t piece) {
    double best = 1e30;
    uint8_t digest[32];
    for (int run = 0; run < 5; run++) {
        const double start = seconds();
        sw_blake3 hasher;
        sw_blake3_init(&hasher);
        for (size_t offset = 0; offset < length; offset += piece) {
            sw_blake3_update(&hasher, input + offset, length - offset < piece ? length - offset : piece);
        }
        sw_blake3_finalize(&hasher, digest);
        const double elapsed = seconds() - start;
        if (elapsed < best) best = elapsed;
    }
    return (double)length / best / 1e9;
}

/* 70,000 bytes: pieces that do not fall on chunk boundaries, as a socket's reads; 256 KiB: the
   pieces the weight client hashes. `length` bytes (43 MB: from memory), then the first MiB
   (from the cache) hashed 40 times over. */
static void benchmark(size_t length) {
    const size_t pieces[] = {0, 65536, 70000, 262144};
    printf("%-9s %-7s %16s %16s %16s %16s\n", "path", "input", "one update GB/s", "64 KiB updates",
           "70,000 B updates", "256 KiB updates");
    for (int i = 0; i < PATH_COUNT; i++) {
        if (!sw_blake3_supports(paths[i])) continue;
        sw_blake3_force(paths[i]);
        for (int cached = 0; cached < 2; cached++) {
            const size_t bytes = cached ? (size_t)1 << 20 : length;
            printf("%-9s %-7s", paths[i], cached ? "1 MiB" : "43 MB");
            for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
                double best = 0;
                for (int repeat = 0; repeat < (cached ? 40 : 1); repeat++) {
                    const double rate = throughput(bytes, pieces[p] ? pieces[p] : bytes);
                    if (rate > best) best = rate;
                }
                printf(" %16.2f", best);
            }
            printf("\n");
        }
    }
}

static uint8_t *pattern(size_t length) {
    uint8_t *bytes = malloc(length ? length : 1);
    if (!bytes) return NULL;
    for (size_t i = 0; i < length; i++) bytes[i] = (uint8_t)(i % 251);
    return bytes;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS | --bench\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--bench") == 0) {
        const size_t length = 43 * 1000 * 1000;
        input = pattern(length);
        if (!input) return 2;
        benchmark(length);
        return 0;
    }
    if (!read_vectors(argv[1])) {
        fprintf(stderr, "cannot read the vectors in %s (at most 1024 \"LENGTH HEXDIGEST\" lines, lengths increasing)\n", argv[1]);
        return 2;
    }
    input = pattern(vectors[vector_count - 1].length);
    if (!input) return 2;
    test_forcing();
    for (int i = 0; i < PATH_COUNT; i++) {
        if (sw_blake3_supports(paths[i])) test_path(paths[i]);
    }
    return failures == 0 ? 0 : 1;
}
