/* BLAKE3: the portable compression function, the hasher (input buffer and chaining-value
   stack), and the choice of the path that hashes whole chunks in parallel.

   Section numbers refer to "The BLAKE3 Hashing Framework" (c2sp.org/BLAKE3). The tree (§4.3) is
   built incrementally: complete subtrees to the left of the buffered input wait on a stack, one
   chaining value each, and join into parents only once input is known to follow them, because
   the last parent formed may be the root, whose compression sets ROOT. Input is hashed in
   aligned power-of-two subtrees of whole groups of 16 chunks, chunks and parents alike a
   vector's width at a time (hash_subtree); only the input's last chunk is compressed a block at
   a time, at finalize. */

#include "CBlake3.h"
#include "CKernels.h"
#include "blake3-internal.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* Subtrees hashed at once are at most this many chunks: enough that the partly filled vectors
   at the top of each subtree cost little, small enough that its chaining values (12 KiB) fit
   on the stack. */
enum { MAX_SUBTREE_CHUNKS = 256 };

/* §2.1: words are little-endian. */
static uint32_t load_word(const uint8_t *bytes) {
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

static void store_chaining_value(uint8_t bytes[32], const uint32_t words[8]) {
    for (int i = 0; i < 8; i++) {
        for (int byte = 0; byte < 4; byte++) bytes[4 * i + byte] = (uint8_t)(words[i] >> (8 * byte));
    }
}

static uint32_t rotate_right(uint32_t word, int bits) { return word >> bits | word << (32 - bits); }

/* §3.2 Quarter-Round Function G: mixes message words x and y into v[a], v[b], v[c], v[d]. */
static void quarter_round(uint32_t v[16], int a, int b, int c, int d, uint32_t x, uint32_t y) {
    v[a] = v[a] + v[b] + x;
    v[d] = rotate_right(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotate_right(v[b] ^ v[c], 12);
    v[a] = v[a] + v[b] + y;
    v[d] = rotate_right(v[d] ^ v[a], 8);
    v[c] = v[c] + v[d];
    v[b] = rotate_right(v[b] ^ v[c], 7);
}

/* §3.3 Compression Function Processing, keeping the first 8 output words (v[i] ^ v[i + 8]): the
   new chaining value, and the digest at the root. */
static void compress(uint32_t chaining_value[8], const uint8_t block[64], uint32_t block_length, uint64_t counter,
                     uint32_t flags) {
    uint32_t m[16];
    for (int i = 0; i < 16; i++) m[i] = load_word(block + 4 * i);
    uint32_t v[16] = {
        chaining_value[0], chaining_value[1], chaining_value[2], chaining_value[3],
        chaining_value[4], chaining_value[5], chaining_value[6], chaining_value[7],
        sw_blake3_iv[0],   sw_blake3_iv[1],   sw_blake3_iv[2],   sw_blake3_iv[3],
        (uint32_t)counter, (uint32_t)(counter >> 32), block_length, flags,
    };
    for (int round = 0; round < SW_BLAKE3_ROUNDS; round++) {
        const uint8_t *s = sw_blake3_schedule[round];
        /* The columns, then the diagonals. */
        quarter_round(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        quarter_round(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        quarter_round(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        quarter_round(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        quarter_round(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        quarter_round(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        quarter_round(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        quarter_round(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) chaining_value[i] = v[i] ^ v[i + 8];
}

/* A node up to its last compression: whether that one sets ROOT is known only once the
   hasher knows nothing joins the node, so finalize and the stack hold nodes in this form. */
typedef struct node {
    uint32_t chaining_value[8];
    uint8_t block[64];
    uint64_t counter;
    uint32_t block_length;
    uint32_t flags;
} node;

static void node_chaining_value(const node *pending, uint32_t extra_flags, uint8_t out[32]) {
    uint32_t words[8];
    memcpy(words, pending->chaining_value, sizeof words);
    compress(words, pending->block, pending->block_length, pending->counter, pending->flags | extra_flags);
    store_chaining_value(out, words);
}

/* §4.3.1 Parent Nodes Inputs: the key (the IV), the children's chaining values, counter 0. */
static node parent_node(const uint8_t left[32], const uint8_t right[32]) {
    node parent = {.counter = 0, .block_length = SW_BLAKE3_BLOCK_LENGTH, .flags = SW_BLAKE3_PARENT};
    memcpy(parent.chaining_value, sw_blake3_iv, sizeof parent.chaining_value);
    memcpy(parent.block, left, 32);
    memcpy(parent.block + 32, right, 32);
    return parent;
}

/* §4.2 Chunk Processing, up to the last block: the chunk of `length` bytes (0 to 1024) at
   `bytes`, numbered `counter`, with every block but the last compressed; the last, zero-padded,
   gets CHUNK_END (and CHUNK_START when it is also the first). Only the input's last chunk is
   hashed so, one block at a time: the others are hashed in groups by a path. */
static node last_chunk_node(const uint8_t *bytes, size_t length, uint64_t counter) {
    const size_t blocks = length == 0 ? 1 : (length + SW_BLAKE3_BLOCK_LENGTH - 1) / SW_BLAKE3_BLOCK_LENGTH;
    const size_t last_length = length - (blocks - 1) * SW_BLAKE3_BLOCK_LENGTH;
    node chunk = {.counter = counter, .block_length = (uint32_t)last_length, .flags = SW_BLAKE3_CHUNK_END};
    memcpy(chunk.chaining_value, sw_blake3_iv, sizeof chunk.chaining_value);
    for (size_t block = 0; block + 1 < blocks; block++) {
        compress(chunk.chaining_value, bytes + block * SW_BLAKE3_BLOCK_LENGTH, SW_BLAKE3_BLOCK_LENGTH, counter,
                 block == 0 ? SW_BLAKE3_CHUNK_START : 0);
    }
    if (blocks == 1) chunk.flags |= SW_BLAKE3_CHUNK_START;
    memcpy(chunk.block, bytes + (blocks - 1) * SW_BLAKE3_BLOCK_LENGTH, last_length);
    memset(chunk.block + last_length, 0, SW_BLAKE3_BLOCK_LENGTH - last_length);
    return chunk;
}

/* The portable path: one input at a time through compress. */

static void portable_hash_chunks(const uint8_t *chunks, size_t count, uint64_t first_counter, uint8_t *chaining_values) {
    for (size_t i = 0; i < count; i++) {
        uint32_t words[8];
        memcpy(words, sw_blake3_iv, sizeof words);
        for (int block = 0; block < SW_BLAKE3_BLOCKS_PER_CHUNK; block++) {
            uint32_t flags = 0;
            if (block == 0) flags |= SW_BLAKE3_CHUNK_START;
            if (block == SW_BLAKE3_BLOCKS_PER_CHUNK - 1) flags |= SW_BLAKE3_CHUNK_END;
            compress(words, chunks + i * SW_BLAKE3_CHUNK_LENGTH + block * SW_BLAKE3_BLOCK_LENGTH,
                     SW_BLAKE3_BLOCK_LENGTH, first_counter + i, flags);
        }
        store_chaining_value(chaining_values + 32 * i, words);
    }
}

static void portable_hash_parents(const uint8_t *children, size_t count, uint8_t *chaining_values) {
    for (size_t i = 0; i < count; i++) {
        const node parent = parent_node(children + 64 * i, children + 64 * i + 32);
        node_chaining_value(&parent, 0, chaining_values + 32 * i);
    }
}

static const sw_blake3_lanes portable = {
    .name = "portable",
    .degree = 1,
    .hash_chunks = portable_hash_chunks,
    .hash_parents = portable_hash_parents,
};

/* Choosing the path. */

enum { PATH_COUNT = 4 };

/* Path `index` (fastest first) if it is compiled for this architecture and this CPU runs it,
   else NULL. Each path needs the features of the kernel set of the same name (AVX-512F, AVX2,
   NEON), which sw_cpu_supports reads. */
static const sw_blake3_lanes *runnable_path(int index) {
    const sw_blake3_lanes *paths[PATH_COUNT] = {sw_blake3_lanes_avx512(), sw_blake3_lanes_avx2(),
                                                sw_blake3_lanes_neon(), &portable};
    const sw_kernel_set *sets[PATH_COUNT] = {sw_kernels_avx512(), sw_kernels_avx2(), sw_kernels_neon(),
                                             sw_kernels_portable()};
    return paths[index] && sw_cpu_supports(sets[index]) ? paths[index] : NULL;
}

static const sw_blake3_lanes *runnable_path_named(const char *name) {
    for (int i = 0; i < PATH_COUNT; i++) {
        const sw_blake3_lanes *path = runnable_path(i);
        if (path && strcmp(path->name, name) == 0) return path;
    }
    return NULL;
}

/* Read by every thread that hashes, written by sw_blake3_force and the first detection (which
   may run on two threads at once: both store the same answer). */
static _Atomic(const sw_blake3_lanes *) forced_path;
static _Atomic(const sw_blake3_lanes *) fastest_path;

static const sw_blake3_lanes *current_path(void) {
    const sw_blake3_lanes *path = atomic_load_explicit(&forced_path, memory_order_relaxed);
    if (path) return path;
    path = atomic_load_explicit(&fastest_path, memory_order_relaxed);
    if (path) return path;
    for (int i = 0; !path; i++) path = runnable_path(i);
    atomic_store_explicit(&fastest_path, path, memory_order_relaxed);
    return path;
}

const char *sw_blake3_implementation(void) { return current_path()->name; }

void sw_blake3_force(const char *name) {
    if (!name) {
        atomic_store_explicit(&forced_path, NULL, memory_order_relaxed);
        return;
    }
    const sw_blake3_lanes *path = runnable_path_named(name);
    if (path) atomic_store_explicit(&forced_path, path, memory_order_relaxed);
}

int sw_blake3_supports(const char *name) { return name && runnable_path_named(name) != NULL; }

/* The tree (§4.3). */

/* Joins the subtrees on the stack into parents as far as the tree's shape allows, once input is
   known to follow them: to one subtree per set bit of the number of chunks they cover (§4.3.2:
   left subtrees are complete, a power of two chunks). Until then the last one pushed waits
   unjoined, as it may be a child of the root. */
static void join_subtrees(sw_blake3 *hasher) {
    while (hasher->stack_length > __builtin_popcountll(hasher->chunk_counter)) {
        const int left = hasher->stack_length - 2;
        const node parent = parent_node(hasher->stack[left], hasher->stack[left + 1]);
        node_chaining_value(&parent, 0, hasher->stack[left]);
        hasher->stack_length--;
    }
}

/* Pushes the chaining value of the subtree of `chunks` chunks that starts at chunk
   `chunk_counter`, which follows the subtrees on the stack, and moves the count past it. */
static void push_subtree(sw_blake3 *hasher, const uint8_t chaining_value[32], uint64_t chunks) {
    join_subtrees(hasher);
    memcpy(hasher->stack[hasher->stack_length++], chaining_value, 32);
    hasher->chunk_counter += chunks;
}

/* The chunks of the next subtree `update` can hash on its own from `length` bytes at chunk
   `counter`, or 0: a power of two that divides `counter`, so the subtree is one of the tree's
   (§4.3.2), of whole chunks, and short of the whole input when it starts at chunk 0 (else it
   may be the root). */
static size_t next_subtree_chunks(uint64_t counter, size_t length) {
    size_t whole = length / SW_BLAKE3_CHUNK_LENGTH;
    if (counter == 0 && whole > 0 && length % SW_BLAKE3_CHUNK_LENGTH == 0) whole--;
    if (whole == 0) return 0;
    size_t chunks = MAX_SUBTREE_CHUNKS;
    while (chunks > whole || (counter % chunks) != 0) chunks /= 2;
    return chunks;
}

/* The chaining value of the complete subtree of `chunks` (a power of two, at most
   MAX_SUBTREE_CHUNKS) chunks at `input`, the first numbered `counter`: its chunks, then each
   level of parents, `path->degree` nodes per call. */
static void hash_subtree(const sw_blake3_lanes *path, const uint8_t *input, size_t chunks, uint64_t counter,
                         uint8_t chaining_value[32]) {
    uint8_t level[MAX_SUBTREE_CHUNKS * 32];
    uint8_t parents[MAX_SUBTREE_CHUNKS / 2 * 32];
    for (size_t i = 0; i < chunks; i += path->degree) {
        const size_t count = chunks - i < path->degree ? chunks - i : path->degree;
        path->hash_chunks(input + i * SW_BLAKE3_CHUNK_LENGTH, count, counter + i, level + 32 * i);
    }
    uint8_t *children = level, *next = parents;
    for (size_t nodes = chunks / 2; nodes > 0; nodes /= 2) {
        for (size_t i = 0; i < nodes; i += path->degree) {
            const size_t count = nodes - i < path->degree ? nodes - i : path->degree;
            path->hash_parents(children + 64 * i, count, next + 32 * i);
        }
        uint8_t *hashed = next;
        next = children;
        children = hashed;
    }
    memcpy(chaining_value, children, 32);
}

void sw_blake3_init(sw_blake3 *hasher) {
    /* Every byte set, so copies of the hasher compare equal byte for byte. */
    memset(hasher, 0, sizeof *hasher);
}

/* Hashes the `chunks` whole chunks at `input` (a subtree's: see next_subtree_chunks) into the
   tree. */
static void hash_group(sw_blake3 *hasher, const sw_blake3_lanes *path, const uint8_t *input, size_t chunks) {
    uint8_t chaining_value[32];
    hash_subtree(path, input, chunks, hasher->chunk_counter, chaining_value);
    push_subtree(hasher, chaining_value, chunks);
}

enum { BUFFER_CHUNKS = SW_BLAKE3_BUFFER_LENGTH / SW_BLAKE3_CHUNK_LENGTH };

/* The buffer starts a group of BUFFER_CHUNKS chunks (the counter stays a multiple of it, as
   every subtree hashed is at least that large); once whole, and once input follows it, it is
   hashed as one. In between, subtrees of whole groups are hashed from the input where it lies,
   and what remains (at most one group) waits in the buffer. */
void sw_blake3_update(sw_blake3 *hasher, const void *data, size_t length) {
    if (length == 0) return;
    const uint8_t *input = data;
    const sw_blake3_lanes *path = current_path();
    if (hasher->buffer_length > 0) {
        size_t taken = SW_BLAKE3_BUFFER_LENGTH - hasher->buffer_length;
        if (taken > length) taken = length;
        memcpy(hasher->buffer + hasher->buffer_length, input, taken);
        hasher->buffer_length += (uint32_t)taken;
        input += taken;
        length -= taken;
        /* Without more input the buffer may hold the last chunk, even the root: it waits for
           finalize. */
        if (length == 0) return;
        hash_group(hasher, path, hasher->buffer, BUFFER_CHUNKS);
        hasher->buffer_length = 0;
    }
    for (size_t chunks; (chunks = next_subtree_chunks(hasher->chunk_counter, length)) >= BUFFER_CHUNKS;) {
        hash_group(hasher, path, input, chunks);
        input += chunks * SW_BLAKE3_CHUNK_LENGTH;
        length -= chunks * SW_BLAKE3_CHUNK_LENGTH;
    }
    /* Less than a group, or exactly one that may be the whole input. */
    memcpy(hasher->buffer, input, length);
    hasher->buffer_length = (uint32_t)length;
}

/* The root is the right edge of the tree folded from the right: the last node, then a parent
   with each subtree to its left (§4.3.2). The last node is the buffer's last chunk, after its
   other chunks join the tree, or, when an update ended on a subtree, the parent of the last two
   (there are two: a subtree at chunk 0 never takes the whole input). Only the last compression
   sets ROOT (§2.4). An empty input is one empty chunk (§4.2). */
void sw_blake3_finalize(const sw_blake3 *hasher, uint8_t digest[32]) {
    /* A copy of the tree (the buffer is only read): the hasher stays as it is, ready for more
       input. */
    sw_blake3 state;
    memcpy(&state, hasher, offsetof(sw_blake3, buffer));
    node root;
    const size_t buffered = state.buffer_length;
    if (buffered > 0 || state.stack_length == 0) {
        const size_t chunks = buffered == 0 ? 1 : (buffered + SW_BLAKE3_CHUNK_LENGTH - 1) / SW_BLAKE3_CHUNK_LENGTH;
        const sw_blake3_lanes *path = current_path();
        uint8_t chaining_values[BUFFER_CHUNKS * 32];
        for (size_t i = 0; i + 1 < chunks; i += path->degree) {
            const size_t count = chunks - 1 - i < path->degree ? chunks - 1 - i : path->degree;
            path->hash_chunks(hasher->buffer + i * SW_BLAKE3_CHUNK_LENGTH, count, state.chunk_counter + i,
                              chaining_values + 32 * i);
        }
        for (size_t i = 0; i + 1 < chunks; i++) push_subtree(&state, chaining_values + 32 * i, 1);
        join_subtrees(&state);
        const size_t last = (chunks - 1) * SW_BLAKE3_CHUNK_LENGTH;
        root = last_chunk_node(hasher->buffer + last, buffered - last, state.chunk_counter);
    } else {
        state.stack_length -= 2;
        root = parent_node(state.stack[state.stack_length], state.stack[state.stack_length + 1]);
    }
    while (state.stack_length > 0) {
        uint8_t right[32];
        node_chaining_value(&root, 0, right);
        root = parent_node(state.stack[--state.stack_length], right);
    }
    node_chaining_value(&root, SW_BLAKE3_ROOT, digest);
}
