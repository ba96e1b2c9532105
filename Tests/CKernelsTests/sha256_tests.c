/* SHA-256's paths (CSha256.h) against Python's hashlib: every length class, whole, in pieces of
   every size up to 97 bytes, and two messages at a time with every partner; the SHA extensions
   where the CPU has them and plain C everywhere. Usage: sha256-tests VECTORS, where each line of
   VECTORS is a length and the hex digests of bytes i % 251 and of bytes (7 i + 1) % 256 (made by
   scripts/test-kernels): the two messages hashed side by side differ. */

#include "CSha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_VECTORS = 64 };

static size_t lengths[MAX_VECTORS];
static unsigned char expected[2][MAX_VECTORS][32];
static int failures;

static void check(const sw_sha256 *hasher, int pattern, int vector, const char *how) {
    unsigned char digest[32];
    sw_sha256_finalize(hasher, digest);
    if (memcmp(digest, expected[pattern][vector], 32) != 0) {
        failures++;
        fprintf(stderr, "FAIL: %zu bytes, %s\n", lengths[vector], how);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: %s VECTORS\n", argv[0]), 2;
    FILE *file = fopen(argv[1], "r");
    if (!file) return perror(argv[1]), 2;
    int count = 0;
    char hex[2][65];
    while (count < MAX_VECTORS && fscanf(file, "%zu %64s %64s", &lengths[count], hex[0], hex[1]) == 3) {
        for (int p = 0; p < 2; p++) {
            for (int i = 0; i < 32; i++) sscanf(hex[p] + 2 * i, "%2hhx", &expected[p][count][i]);
        }
        count++;
    }
    fclose(file);
    size_t longest = 0;
    for (int v = 0; v < count; v++) longest = lengths[v] > longest ? lengths[v] : longest;
    unsigned char *input = malloc(longest + 1), *other = malloc(longest + 1);
    for (size_t i = 0; i < longest; i++) {
        input[i] = (unsigned char)(i % 251);
        other[i] = (unsigned char)(7 * i + 1);
    }

    int checks = 0, all_failures = 0;
    for (int portable = sw_sha256_supported() ? 0 : 1; portable < 2; portable++) {
        sw_sha256_force_portable(portable);
        for (int v = 0; v < count; v++) {
            sw_sha256 hasher;
            sw_sha256_init(&hasher);
            sw_sha256_update(&hasher, input, lengths[v]);
            check(&hasher, 0, v, portable ? "plain C, whole" : "extensions, whole");
            for (size_t piece = 1; piece <= 97; piece += 8) {
                sw_sha256_init(&hasher);
                for (size_t offset = 0; offset < lengths[v]; offset += piece) {
                    sw_sha256_update(&hasher, input + offset, lengths[v] - offset < piece ? lengths[v] - offset : piece);
                }
                check(&hasher, 0, v, "in pieces");
            }
            checks += 14;
            /* With every partner: the common prefix two at a time (in pieces of 61 bytes, so that
               partial blocks come and go), the rest alone. */
            for (int w = 0; w < count; w++) {
                sw_sha256 first, second;
                sw_sha256_init(&first);
                sw_sha256_init(&second);
                const size_t both = lengths[v] < lengths[w] ? lengths[v] : lengths[w];
                for (size_t offset = 0; offset < both; offset += 61) {
                    const size_t length = both - offset < 61 ? both - offset : 61;
                    sw_sha256_update_two(&first, input + offset, &second, other + offset, length);
                }
                sw_sha256_update(&first, input + both, lengths[v] - both);
                sw_sha256_update(&second, other + both, lengths[w] - both);
                check(&first, 0, v, "two at a time (first)");
                check(&second, 1, w, "two at a time (second)");
                checks += 2;
            }
        }
        printf("sha256 %s: %d checks %s\n", portable ? "portable" : "extensions", checks,
               failures ? "FAILED" : "passed");
        all_failures += failures;
        checks = failures = 0;
    }
    free(input);
    free(other);
    return all_failures != 0;
}
