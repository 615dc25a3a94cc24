/*
 * limits.h - every limit of mte-relay as a named constant.
 *
 * Each constant here is documented in man/mte-relay.1 (section LIMITS) and
 * has a test at limit+1.  Sections are owned by the module named in them.
 */
#ifndef MTE_LIMITS_H
#define MTE_LIMITS_H

/* ---- HTTP/1.1 (src/http.c, src/conn.c) ---- */
#define HTTP_REQUEST_LINE_MAX   8192    /* bytes in the request line, CRLF excluded -> 414 */
#define HTTP_HEADERS_MAX        65536   /* bytes in the whole request head -> 431 */
#define HTTP_HEADER_COUNT_MAX   100     /* header fields in one request -> 431 */
#define HTTP_CHUNK_EXT_MAX      1024    /* bytes of chunk extensions on one chunk line -> 400 */
#define HTTP_TRAILERS_MAX       8192    /* bytes of trailer section after a chunked body -> 431 */
#define CONN_BUF_SIZE           (HTTP_HEADERS_MAX + 4096) /* per-connection read buffer */
#define CONN_WBUF_SIZE          16384   /* per-connection write buffer (head + small bodies) */
#define CONN_RESPONSE_HEAD_MAX  CONN_WBUF_SIZE /* bytes of one response head -> 500 */
#define CONN_RESPONSE_FIELDS_MAX 128    /* fields of one response head, hook's included -> 500 */
#define CONN_DRAIN_MAX          (256 * 1024) /* unread request body discarded to keep a
                                             * connection alive; more -> close */
/* end HTTP */

/* ---- protocol (src/crypto/seal.c, src/relay.c, src/pair.c) ---- */
#define SEAL_CHUNK_MAX          65536   /* plaintext bytes in one chunk (protocol.md) */
#define SEAL_TAG_LEN            16
#define SEAL_WIRE_CHUNK_MAX     (SEAL_CHUNK_MAX + SEAL_TAG_LEN)
#define SEAL_META_MAX           (SEAL_CHUNK_MAX - 1) /* plaintext bytes of a meta item: one final chunk */
#define SEAL_AAD_MAX            (HTTP_REQUEST_LINE_MAX + 256) /* bytes of one message's AAD (the request
                                         * line bounds method + target; the rest is < 256) */
#define META_PLAINTEXT_MAX      32768   /* decrypted meta JSON of one message -> 562 */
#define PAIR_ENTRIES_MAX        16      /* entries in one POST /api/mte-pair -> 400 */
#define PAIR_BODY_MAX           65536   /* bytes of one POST /api/mte-pair body -> 413 */
#define PAIR_ID_MIN             16
#define PAIR_ID_MAX             64
#define PERSONALIZATION_MAX     128
#define CLIENT_ID_HEX_LEN       32      /* 16 random bytes, hex */
#define CLIENT_ID_SIGNED_LEN    (CLIENT_ID_HEX_LEN + 1 + 64)
#define RELAY_HEADER_MAX        512     /* bytes of one x-mte-relay header -> 569 */
/* end protocol */

/* ---- store (src/store*.c) ---- */
#define REPLAY_WINDOW_MAX       65536   /* largest REPLAY_WINDOW accepted by config */
/* end store */

/* ---- config (src/config.c) ---- */
#define CONFIG_LIST_MAX         64      /* entries in one comma-separated list setting */
#define CONFIG_SECRET_FILE_MAX  4096    /* bytes read from a NAME_FILE secret */
#define WORKERS_MAX             256     /* MAX_POOL_SIZE upper bound */
/* end config */

#endif /* MTE_LIMITS_H */
