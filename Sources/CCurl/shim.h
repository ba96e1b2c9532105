#ifndef STREAMING_WEIGHTS_CCURL_SHIM_H
#define STREAMING_WEIGHTS_CCURL_SHIM_H

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* libcurl is loaded by the first request, not when a program starts: with what it links (TLS,
   Kerberos, LDAP, SSH, ...) it cost every process milliseconds to load and initialise (`perf stat
   -r 20 chunker --version`, static release builds on the Zen 4 of docs/PERFORMANCE.md: 13.4 ms
   linked with it, 8.1 without; scripts/bench's chunking section reports the start as it is now),
   and most runs (a chunk directory, a weight server) never make an HTTP request. The functions
   used are looked up once; where libcurl is missing, ccurl_load_error says so and no request is
   made. */

typedef struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLcode (*easy_perform)(CURL *);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} ccurl_functions;

typedef struct {
    ccurl_functions functions;
    char error[512];
    pthread_once_t once;
} ccurl_state;

/* The process's one state (a static in a function: Swift imports functions from a header, not
   variables). */
static inline ccurl_state *ccurl_shared(void) {
    static ccurl_state state = {.once = PTHREAD_ONCE_INIT};
    return &state;
}

static void ccurl_load(void) {
    ccurl_state *const state = ccurl_shared();
#if defined(__APPLE__)
    static const char name[] = "libcurl.4.dylib";
#else
    static const char name[] = "libcurl.so.4";
#endif
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(state->error, sizeof state->error, "libcurl could not be loaded (%s): install libcurl4",
                 dlerror());
        return;
    }
    ccurl_functions found;
    struct {
        const char *symbol;
        void **slot;
    } const symbols[] = {
        {"curl_global_init", (void **)&found.global_init},     {"curl_easy_init", (void **)&found.easy_init},
        {"curl_easy_setopt", (void **)&found.easy_setopt},     {"curl_easy_getinfo", (void **)&found.easy_getinfo},
        {"curl_easy_perform", (void **)&found.easy_perform},   {"curl_easy_cleanup", (void **)&found.easy_cleanup},
        {"curl_easy_strerror", (void **)&found.easy_strerror}, {"curl_slist_append", (void **)&found.slist_append},
        {"curl_slist_free_all", (void **)&found.slist_free_all},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        if (!(*symbols[i].slot = dlsym(handle, symbols[i].symbol))) {
            snprintf(state->error, sizeof state->error, "%s has no %s", name, symbols[i].symbol);
            return;
        }
    }
    if (found.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(state->error, sizeof state->error, "libcurl could not be initialised");
        return;
    }
    state->functions = found;
}

/* Loads libcurl if no call has yet: NULL once it is ready, else why it is not. */
static inline const char *ccurl_load_error(void) {
    pthread_once(&ccurl_shared()->once, ccurl_load);
    return ccurl_shared()->functions.easy_init ? NULL : ccurl_shared()->error;
}

/* libcurl's functions, through the library loaded by ccurl_load_error (which must have
   returned NULL first). */
static inline CURL *ccurl_easy_init(void) { return ccurl_shared()->functions.easy_init(); }
static inline CURLcode ccurl_easy_perform(CURL *handle) { return ccurl_shared()->functions.easy_perform(handle); }
static inline void ccurl_easy_cleanup(CURL *handle) { ccurl_shared()->functions.easy_cleanup(handle); }
static inline const char *ccurl_easy_strerror(CURLcode code) { return ccurl_shared()->functions.easy_strerror(code); }
static inline struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *string) {
    return ccurl_shared()->functions.slist_append(list, string);
}
static inline void ccurl_slist_free_all(struct curl_slist *list) { ccurl_shared()->functions.slist_free_all(list); }

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call.
   One typed wrapper per argument kind libcurl documents. */

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return ccurl_shared()->functions.easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return ccurl_shared()->functions.easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return ccurl_shared()->functions.easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return ccurl_shared()->functions.easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return ccurl_shared()->functions.easy_setopt(handle, option, value);
}

typedef size_t (*ccurl_data_callback)(char *buffer, size_t size, size_t count, void *context);
typedef int (*ccurl_progress_callback)(void *context, curl_off_t download_total, curl_off_t download_now,
                                       curl_off_t upload_total, curl_off_t upload_now);

/* For CURLOPT_WRITEFUNCTION, CURLOPT_READFUNCTION and CURLOPT_HEADERFUNCTION. */
static inline CURLcode ccurl_easy_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback callback) {
    return ccurl_shared()->functions.easy_setopt(handle, option, callback);
}

/* For CURLOPT_XFERINFOFUNCTION. */
static inline CURLcode ccurl_easy_setopt_progress_callback(CURL *handle, CURLoption option,
                                                           ccurl_progress_callback callback) {
    return ccurl_shared()->functions.easy_setopt(handle, option, callback);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return ccurl_shared()->functions.easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return ccurl_shared()->functions.easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return ccurl_shared()->functions.easy_getinfo(handle, info, value);
}

#endif
