/*
 * tls.h - HTTPS on the relay's own listener (TLS_CERT_FILE, TLS_KEY_FILE):
 * the certificate chain and private key, checked when loaded, and the
 * BearSSL server engine as conn's transport (struct conn_transport).  Also
 * the small TLS client --healthcheck uses against its own port.
 *
 * Policy: TLS 1.2 only (BearSSL has no 1.3), ECDHE key exchange with AEAD
 * suites only (AES-GCM, ChaCha20-Poly1305), server preference order, no
 * renegotiation, no session resumption (each worker is a separate process).
 *
 * Key material: the parent loads it before forking (and before dropping
 * privileges), workers inherit the parent's copy; nothing here reads a file
 * in a worker.  Freed credentials are wiped.
 */
#ifndef MTE_TLS_H
#define MTE_TLS_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include "conn.h"

struct tls_creds;

/*
 * Loads the PEM certificate chain at cert_path (leaf first; at most
 * TLS_SERVER_CHAIN_MAX certificates of at most TLS_CERT_DER_MAX bytes each,
 * the file at most TLS_SERVER_FILE_MAX bytes; other PEM objects ignored)
 * and the PEM private key at key_path (RSA or EC: "RSA PRIVATE KEY",
 * "EC PRIVATE KEY" or unencrypted PKCS#8 "PRIVATE KEY"; same file limit).
 * Checks that the leaf's public key is the key's, that the leaf is valid at
 * now (notBefore <= now <= notAfter) and that BearSSL can use the key (RSA
 * up to 4096 bits; EC on P-256, P-384 or P-521).
 * Returns the credentials, or NULL with *var set to the setting at fault
 * ("TLS_CERT_FILE" or "TLS_KEY_FILE") and a message in err that names the
 * path but never key bytes.
 */
struct tls_creds *tls_creds_load(const char *cert_path, const char *key_path,
    time_t now, const char **var, char *err, size_t errlen);

/* Wipes and frees (NULL: nothing). */
void tls_creds_free(struct tls_creds *cr);

/* What was loaded, for the log: "RSA 2048" or "EC P-256" (kind), the
 * leaf's serial number in lower-case hex (serial), its notAfter as
 * YYYY-MM-DDTHH:MM:SSZ (not_after) and the chain length.  Each buffer gets
 * at least 64 bytes. */
void tls_creds_describe(const struct tls_creds *cr, char *kind, char *serial,
    char *not_after, size_t *chain_len);

/*
 * In a worker: the transport serving TLS with cr (which must outlive the
 * worker's connections; the worker's inherited copy does).  Returns the
 * transport and sets *arg to pass as conn_config.transport_arg.  One per
 * process (static storage, about 34 KB).  A connection that ends before its
 * handshake completed, after the peer sent something, counts as
 * mte_relay_tls_handshake_failures_total.
 */
const struct conn_transport *tls_server_transport(const struct tls_creds *cr, void **arg);

/*
 * --healthcheck over TLS: on the connected non-blocking socket fd, a TLS 1.2
 * handshake, then req[0..reqlen) is sent and up to cap bytes of the answer
 * are read into out (stops after need bytes), all before deadline_ms
 * (clock_ms()).  The server's certificate chain is not verified (see
 * healthcheck.c for why).  Returns the bytes read (>= 0), or -1 with a
 * reason in *why.
 */
long tls_probe(int fd, const char *req, size_t reqlen, char *out, size_t cap,
    size_t need, long long deadline_ms, const char **why);

#endif
