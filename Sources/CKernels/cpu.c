/* What the CPU can run, read once: cpuid and xgetbv on x86-64 (the instructions, and whether the
   operating system saves the registers they use), the auxiliary vector on Linux AArch64. */

#include "CKernels.h"

#include <stdatomic.h>
#include <string.h>

const sw_kernel_set *sw_kernels_best(void) {
    const sw_kernel_set *sets[] = {sw_kernels_avx512(), sw_kernels_avx2(), sw_kernels_neon()};
    for (unsigned int i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (sw_cpu_supports(sets[i])) return sets[i];
    }
    return sw_kernels_portable();
}

#if defined(__x86_64__)

#include <cpuid.h>
#include <pthread.h>

static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/* Bits of cpuid leaf 1 ECX, leaf 7 EBX, and XCR0. */
enum {
    LEAF1_FMA = 1u << 12,
    LEAF1_OSXSAVE = 1u << 27,
    LEAF1_AVX = 1u << 28,
    LEAF1_F16C = 1u << 29,
    LEAF7_AVX2 = 1u << 5,
    LEAF7_AVX512F = 1u << 16,
    XCR0_SSE_AVX = 0x6,          /* XMM and YMM state */
    XCR0_AVX512 = 0xe0 | 0x6,    /* opmask, ZMM_Hi256, Hi16_ZMM, and the above */
};

static int has_avx2(unsigned int leaf1_ecx, unsigned int leaf7_ebx, unsigned long long xcr0) {
    const unsigned int needed = LEAF1_FMA | LEAF1_OSXSAVE | LEAF1_AVX | LEAF1_F16C;
    return (leaf1_ecx & needed) == needed && (leaf7_ebx & LEAF7_AVX2) && (xcr0 & XCR0_SSE_AVX) == XCR0_SSE_AVX;
}

/* The features read from the CPU: FEATURES_READ once they are, and a bit per kernel set. Read
   once: cpuid leaves a virtual machine for its host, which takes microseconds, and widening a
   float16 embedding row asks (sw_kernels_best). Threads that read it at once store the same
   value. */
enum { FEATURES_READ = 1, FEATURES_AVX2 = 2, FEATURES_AVX512 = 4 };
static _Atomic int features;

static int cpu_features(void) {
    int known = atomic_load_explicit(&features, memory_order_relaxed);
    if (known) return known;
    known = FEATURES_READ;
    unsigned int eax, ebx, ecx, edx;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & LEAF1_OSXSAVE)) {
        const unsigned int leaf1_ecx = ecx;
        if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
            const unsigned int leaf7_ebx = ebx;
            const unsigned long long xcr0 = xgetbv0();
            if (has_avx2(leaf1_ecx, leaf7_ebx, xcr0)) {
                known |= FEATURES_AVX2;
                if ((leaf7_ebx & LEAF7_AVX512F) && (xcr0 & XCR0_AVX512) == XCR0_AVX512) known |= FEATURES_AVX512;
            }
        }
    }
    atomic_store_explicit(&features, known, memory_order_relaxed);
    return known;
}

int sw_cpu_supports(const sw_kernel_set *set) {
    if (!set) return 0;
    if (set == sw_kernels_portable()) return 1;
    if (set == sw_kernels_avx2()) return (cpu_features() & FEATURES_AVX2) != 0;
    if (set == sw_kernels_avx512()) return (cpu_features() & FEATURES_AVX512) != 0;
    return 0;
}

/* The brand string, read once (pthread_once: no caller sees it half written). */
static char brand[49];
static pthread_once_t brand_once = PTHREAD_ONCE_INIT;

static void read_brand(void) {
    unsigned int registers[12];
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x80000004u) return;
    for (unsigned int leaf = 0; leaf < 3; leaf++) {
        __get_cpuid(0x80000002u + leaf, &registers[4 * leaf], &registers[4 * leaf + 1], &registers[4 * leaf + 2],
                    &registers[4 * leaf + 3]);
    }
    char text[49];
    memcpy(text, registers, 48);
    text[48] = 0;
    /* The brand string is padded with spaces on either side. */
    const char *start = text;
    while (*start == ' ') start++;
    size_t length = strlen(start);
    while (length > 0 && start[length - 1] == ' ') length--;
    memcpy(brand, start, length);
    brand[length] = 0;
}

const char *sw_cpu_model(void) {
    pthread_once(&brand_once, read_brand);
    return brand;
}

#elif defined(__aarch64__)

int sw_cpu_supports(const sw_kernel_set *set) {
    /* NEON (Advanced SIMD) is part of every AArch64 CPU that runs Linux or macOS. */
    return set && (set == sw_kernels_neon() || set == sw_kernels_portable());
}

const char *sw_cpu_model(void) { return "AArch64"; }

#else

int sw_cpu_supports(const sw_kernel_set *set) { return set && set == sw_kernels_portable(); }

const char *sw_cpu_model(void) { return ""; }

#endif
