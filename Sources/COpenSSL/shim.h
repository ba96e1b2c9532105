#ifndef STREAMING_WEIGHTS_COPENSSL_SHIM_H
#define STREAMING_WEIGHTS_COPENSSL_SHIM_H

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* OpenSSL spells several calls as macros, which Swift does not import. */

static inline long copenssl_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int copenssl_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

/* Lets a write that had to wait be retried from a buffer at another address. */
static inline void copenssl_SSL_accept_moving_write_buffer(SSL *ssl) {
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/* ERR_GET_REASON is an inline function in OpenSSL 3 and a macro before it. */
static inline int copenssl_error_reason(unsigned long code) {
    return ERR_GET_REASON(code);
}

static inline void copenssl_free(void *pointer) {
    OPENSSL_free(pointer);
}

#endif
