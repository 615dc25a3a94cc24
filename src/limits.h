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
#define CONN_WBUF_SIZE          98304   /* per-connection write buffer (head + small bodies):
                                         * holds an upstream head of UPSTREAM_HEAD_MAX or a
                                         * sealed meta of META_PLAINTEXT_MAX, plus ours */
#define CONN_RESPONSE_HEAD_MAX  CONN_WBUF_SIZE /* bytes of one response head -> 500 */
#define CONN_RESPONSE_FIELDS_MAX 128    /* fields of one response head, the hook's and Date
                                         * included (not the framing fields conn adds:
                                         * Content-Length or Transfer-Encoding, Connection)
                                         * -> 500 */
#define CONN_DRAIN_MAX          (256 * 1024) /* unread request body discarded to keep a
                                             * connection alive; more -> close */
#define CONN_LINGER_MS          1000    /* reading after a closing response, so that
                                         * unread input does not reset it away */
#define CONN_IDLE_YIELD_MS      1000    /* an idle kept-alive connection is closed after
                                         * this long when other connections wait */
#define CONN_MIN_RATE_BPS       1024    /* bytes/s a request body or response must average
                                         * while the worker waits on the peer -> 408 / close */
#define CONN_RATE_WINDOW_MS     10000   /* waiting time over which that average is taken */
#define CONN_PRESSURE_GRACE_MS  1000    /* waiting on the peer before a request is judged
                                         * against the pressure floor */
#define CONN_PRESSURE_RATE_MAX_BPS 65536 /* cap of the pressure floor (bytes/s) */
#define CONN_ERROR_BODY_MAX     512     /* bytes of a JSON error body with its NUL (the
                                         * message is cut) */
#define CONN_ERROR_MEMBERS_MAX  128     /* bytes of the extra JSON members of an error body
                                         * (our own, e.g. "limit"); longer ones are left out */
/* end HTTP */

/* ---- server: routes, CORS, upstream, workers, logs (src/handler.c, builtin.c,
 *      cors.c, upstream.c, prefork.c, log.c) ---- */
#define PUBLIC_NAME_MAX         255     /* bytes of a /public/ file name -> 404 */
#define CORS_REQUEST_HEADERS_MAX 1024   /* bytes of Access-Control-Request-Headers a
                                         * preflight grant echoes; longer: not echoed */
#define CORS_MAX_AGE_S          600     /* preflight cache lifetime announced */
#define UPSTREAM_CONNECT_TIMEOUT_S 10   /* TCP/TLS connect to the upstream -> 502 */
#define UPSTREAM_HEAD_MAX       65536   /* bytes of the upstream's response head -> 502 */
#define UPSTREAM_FIELDS_MAX     100     /* fields of the upstream's response head -> 502 */
#define UPSTREAM_INLINE_BODY_MAX 16384  /* a request body of known length up to this is read
                                         * whole before the upstream is contacted and sent
                                         * with the head in one write; larger ones stream */
#define PREFORK_BACKLOG         511     /* pending connections the kernel queues */
#define PREFORK_BACKOFF_MIN_MS  100     /* first respawn delay after a quick worker death */
#define PREFORK_BACKOFF_MAX_MS  5000    /* respawn delay cap (doubles up to this) */
#define PREFORK_STABLE_MS       10000   /* a worker alive this long resets the backoff */
#define PREFORK_TICK_MS         100     /* the parent reads the scoreboard this often */
#define PREFORK_SPAWN_BATCH_MAX 64      /* workers forked in one tick; the batch starts at 1
                                         * and doubles each tick the shortage lasts */
#define PREFORK_RETIRE_IDLE_MS  5000    /* idle this long above MAX_SPARE_WORKERS -> retired */
#define PREFORK_ACCEPT_RECHECK_MS 1000  /* an idle worker looks at the listen queue at least
                                         * this often (a lost exclusive wake-up) */
#define PREFORK_PRESSURE_STEP_MS 1000   /* the pressure floor doubles after this much
                                         * continuous pressure */
#define LOG_PATH_MAX            255     /* bytes of the path in a request's log line (cut) */
#define LOG_LINE_MAX            4096    /* bytes of one log line; longer strings are cut */
/* end server */

/* ---- health check (src/healthcheck.c) ---- */
#define HEALTHCHECK_TIMEOUT_S   4       /* seconds --healthcheck waits for the answer -> 1 */

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
#define CLIENT_ID_CACHE_SIZE    64      /* signed ids each worker remembers as verified
                                         * (one slot per id, by its first hex digits) */
#define CLIENT_ID_CACHE_SECRET_MAX 1024 /* a longer CLIENT_ID_SECRET(_PREVIOUS): no cache */
#define RELAY_HEADER_MAX        512     /* bytes of one x-mte-relay header -> 569 */
#define METHOD_MAX              31      /* bytes of a request method forwarded: protected
                                         * -> 569; pass-through or outbound -> 501 */
#define RELAY_KEY_FILE_MAX      256     /* bytes of a RELAY_KEY_FILE(_PREVIOUS) -> exit 78 */
/* Pairing limits (src/ratelimit.c, PROTOCOL.md "Pairing limits"): fixed windows. */
#define PAIR_RATE_INSTANCE_WINDOW_S 1   /* window of PAIR_RATE_PER_INSTANCE -> 429 */
#define PAIR_RATE_ADDRESS_WINDOW_S 60   /* window of PAIR_RATE_PER_ADDRESS -> 429 */
#define PAIR_RATE_CLIENT_WINDOW_S 60    /* window of PAIR_RATE_PER_CLIENT -> 429 */
#define XFF_ENTRIES_MAX         32      /* X-Forwarded-For entries looked at, right to left,
                                         * behind TRUSTED_PROXIES */
/* end protocol */

/* ---- store (src/store/) ---- */
#define REPLAY_WINDOW_MAX       65536   /* largest REPLAY_WINDOW accepted by config */
#define STORE_SERVER_ID_MAX     128     /* bytes of SERVER_ID (the key namespace) */
#define STORE_URL_MAX           1024    /* bytes of REDIS_URL */
#define STORE_REDIS_HOST_MAX    255     /* bytes of the host in REDIS_URL */
#define STORE_REDIS_USER_MAX    128     /* bytes of the decoded user name in REDIS_URL */
#define STORE_REDIS_PASS_MAX    512     /* bytes of the decoded password in REDIS_URL */
#define STORE_REDIS_DB_MAX      65535   /* largest database number in REDIS_URL */
#define STORE_CONNECT_TIMEOUT_MS 1000   /* TCP + TLS + AUTH + SELECT, per attempt */
#define STORE_COMMAND_TIMEOUT_MS 1000   /* one Redis command, send to reply */
#define STORE_BACKOFF_MIN_MS    100     /* first reconnect delay after a failure */
#define STORE_BACKOFF_MAX_MS    5000    /* reconnect delay cap (doubles up to this) */
#define STORE_LOCK_TIMEOUT_MS   1000    /* embedded store: wait for the table lock -> 503 */
#define STORE_ERROR_LOG_INTERVAL_MS 10000 /* at most one "command failed" log line per
                                           * process in this interval */
#define STORE_REPLY_MAX         65536   /* bytes of one Redis reply -> error */
#define STORE_REPLY_ELEMENTS_MAX 16     /* elements of one Redis array reply -> error */
#define TLS_CA_FILE_MAX         (4 * 1024 * 1024) /* bytes of the CA bundle file */
#define TLS_CA_CERTS_MAX        1024    /* certificates in the CA bundle */
#define TLS_CERT_DER_MAX        16384   /* bytes of one DER certificate in the bundle */
#define TLS_DN_MAX              1024    /* bytes of one CA subject DN */
#define TLS_SERVER_FILE_MAX     (256 * 1024) /* bytes of TLS_CERT_FILE or TLS_KEY_FILE */
#define TLS_SERVER_CHAIN_MAX    8       /* certificates in TLS_CERT_FILE (leaf first) */
#define TLS_RSA_BITS_MIN        2048    /* bits of an RSA TLS_KEY_FILE: fewer are too weak */
#define TLS_RSA_BITS_MAX        4096    /* ... and more than BearSSL's RSA code handles */
#define STORE_CLUSTER_NODES_MAX 64      /* primaries in a Redis Cluster slot map -> map refused */
#define STORE_CLUSTER_REDIRECTS_MAX 5   /* MOVED/ASK/TRYAGAIN/CLUSTERDOWN/node-failure retries
                                         * of one command; one more -> 503 */
#define STORE_CLUSTER_RETRY_DELAY_MS 50 /* pause before retrying after TRYAGAIN, CLUSTERDOWN
                                         * or a node failure */
#define STORE_CLUSTER_REFRESH_MIN_MS 100 /* at most one slot map refresh per process per
                                          * this interval */
#define STORE_CLUSTER_MAP_REPLY_MAX 262144 /* bytes of one CLUSTER SLOTS reply -> map refused */
#define STORE_CLUSTER_MAP_ELEMENTS_MAX 16384 /* elements of one array in a CLUSTER SLOTS reply */
#define STORE_WAIT_TIMEOUT_MS   500     /* REDIS_WAIT_REPLICAS: WAIT's timeout -> 503 */
#define STORE_WAIT_REPLICAS_MAX 16      /* largest REDIS_WAIT_REPLICAS */
#define STORE_PAIR_CACHE_SIZE   256     /* pairs each worker keeps in memory (store_pair_lookup:
                                         * one store round trip per protected request) */
#define STORE_RATE_BUCKET_MAX   48      /* bytes of a rate counter's name (ours: a kind
                                         * and a hash of the address or client id) */
#define STORE_RATE_SLOTS        16384   /* embedded store: rate counters kept (4-way sets;
                                         * a full set drops its oldest window) */
/* end store */

/* ---- config (src/config.c) ---- */
#define CONFIG_LIST_MAX         64      /* entries in one comma-separated list setting */
#define CONFIG_SECRET_FILE_MAX  4096    /* bytes read from a NAME_FILE secret */
#define WORKERS_MAX             1024    /* MAX_POOL_SIZE, MIN_SPARE_WORKERS and
                                         * MAX_SPARE_WORKERS upper bound */
#define CONFIG_VALUE_MAX        16384   /* bytes of one setting's value from env or flag */
#define CONFIG_TIMEOUT_MAX      86400   /* seconds, for every *_TIMEOUT setting */
#define CONFIG_STATE_TTL_MAX    2592000 /* seconds (30 days) of STATE_TTL */
#define CONFIG_PAIRS_PER_CLIENT_MAX 1024 /* MAX_PAIRS_PER_CLIENT upper bound */
#define CONFIG_STORE_CAPACITY_MAX 4194304 /* STORE_CAPACITY upper bound (pairs) */
#define CONFIG_BODY_SIZE_MAX    1099511627776ULL /* MAX_BODY_SIZE upper bound (1 TiB) */
#define CONFIG_PAIR_RATE_MAX    1000000 /* PAIR_RATE_PER_* upper bound (entries per window) */
#define TRUSTED_PROXIES_MAX     CONFIG_LIST_MAX /* CIDR blocks in TRUSTED_PROXIES */
/* end config */

/* ---- metrics (src/metrics.c) ---- */
#define METRICS_BODY_MAX        65536   /* bytes of the GET /metrics text: holds the worst
                                         * case (every series at 2^64-1) */
#define METRICS_STORE_NODES_MAX 16      /* node label values of store_commands_total;
                                         * commands to further nodes count as node="other" */
/* end metrics */


/* ---- outbound mode (PROTOCOL.md section 14) ---- */
#define OUTBOUND_RELAYS_MAX     16      /* partners in OUTBOUND_RELAYS -> exit 78 */
#define OUTBOUND_PAIRS_MAX      64      /* OUTBOUND_PAIRS: pairs kept per partner -> exit 78 */
#define OUTBOUND_PREFIX_MAX     256     /* bytes of one OUTBOUND_RELAYS path prefix -> exit 78 */
#define OUTBOUND_TOKEN_MIN      16      /* bytes of OUTBOUND_TOKEN, at least -> exit 78 */
#define OUTBOUND_ATTEMPTS_MAX   2       /* sends of one request: the first and one retry */
#define OUTBOUND_ANSWER_MAX     16384   /* bytes of the partner's answer to HEAD /api/mte-relay
                                         * or to a pairing: more -> 502 to the caller */
#define STORE_SLOT_GROUP_MAX    32      /* bytes of a slot group name ([0-9a-z:]) */
#define STORE_SLOT_INDEX_MAX    OUTBOUND_PAIRS_MAX  /* slot indexes 0..this in a group */
#define STORE_SLOT_VALUE_MAX    256     /* bytes of one slot's value */
#define STORE_SLOTS_MAX         (OUTBOUND_RELAYS_MAX * (OUTBOUND_PAIRS_MAX + 1))
                                        /* embedded store: slots kept (every partner's id
                                         * and pairs) */

#endif /* MTE_LIMITS_H */
