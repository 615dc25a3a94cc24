/*
 * config.h - settings from the environment and mirrored long flags.
 *
 * Every setting NAME is read from the environment variable NAME and from the
 * flag --name (lower case, '_' -> '-'); a flag wins over the environment.
 * Secrets (CLIENT_ID_SECRET, CLIENT_ID_SECRET_PREVIOUS, REDIS_URL, METRICS_TOKEN)
 * may also come from NAME_FILE (a file's contents, trailing newline removed).
 */
#ifndef MTE_CONFIG_H
#define MTE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "client_addr.h"
#include "limits.h"
#include "ratelimit.h"

#define CONFIG_EXIT_USAGE 78    /* EX_CONFIG: any configuration error */

/* One route pattern: exact path, ":param" segments, optional trailing '*'. */
struct route_pattern {
	char *text;
};

struct route_list {
	struct route_pattern items[CONFIG_LIST_MAX];
	size_t               count;
};

struct str_list {
	char  *items[CONFIG_LIST_MAX];
	size_t count;
};

/* A header added to every response and forwarded upstream (HEADERS). */
struct header_kv {
	char *name;     /* lower case */
	char *value;
};

/* One partner relay of the outbound mode (PROTOCOL.md section 14). */
struct outbound_partner {
	char *prefix;   /* path prefix that chooses it: "/" (every path) or "/a[/b...]" */
	char *origin;   /* scheme://host[:port], lower case, no default port, no '/' */
};

struct config {
	/* required */
	char           *upstream;               /* http(s)://host[:port][/base], no trailing '/' */
	char           *upstream_ca_file;       /* https:// upstream trust; NULL: system CA bundle */
	char           *relay_key_file;         /* RELAY_KEY_FILE, or NULL */
	char           *relay_key_file_previous;
	struct str_list cors_origins;           /* exact origins, no trailing '/' */
	char           *client_id_secret;
	/* optional */
	char           *client_id_secret_previous;   /* NULL when unset */
	char           *server_id;              /* default "mte-relay" */
	char           *redis_url;              /* NULL: embedded store */
	char           *redis_ca_file;          /* NULL: system CA bundle */
	int             redis_cluster;          /* STORE_CLUSTER_AUTO / _YES / _NO */
	unsigned        redis_wait_replicas;    /* 0: no WAIT */
	unsigned        port;                   /* 8080 */
	int             debug;                  /* 0/1 */
	struct route_list pass_through_routes;
	struct route_list mte_routes;           /* empty: every route */
	struct str_list cors_methods;           /* upper case; default GET,POST,PUT,DELETE */
	struct header_kv headers[CONFIG_LIST_MAX];
	size_t          headers_count;
	unsigned        workers;                /* MAX_POOL_SIZE / WORKERS: the ceiling */
	unsigned        min_spare_workers;      /* MIN_SPARE_WORKERS, 4 */
	unsigned        max_spare_workers;      /* MAX_SPARE_WORKERS, 16, >= min */
	unsigned        state_ttl;              /* seconds, 86400 */
	unsigned        replay_window;          /* 1024, 1..REPLAY_WINDOW_MAX */
	unsigned        header_timeout;         /* seconds, 10 */
	unsigned        idle_timeout;           /* seconds, 60 */
	unsigned        upstream_timeout;       /* seconds, 60 */
	unsigned        drain_timeout;          /* seconds, 20 */
	uint64_t        max_body_size;          /* bytes, 0 = unlimited */
	char           *public_dir;             /* NULL: embedded assets only */
	unsigned        max_pairs_per_client;   /* 64 */
	size_t          store_capacity;         /* embedded store: pairs, 65536 */
	unsigned        fresh_pair_ttl;         /* seconds, 600 (the store caps it at state_ttl) */
	struct ratelimit_config pair_rate;      /* PAIR_RATE_PER_*: 1000/s, 1024/min, 64/min */
	struct cidr_set trusted_proxies;        /* TRUSTED_PROXIES; empty: none */
	int             metrics;                /* METRICS=true */
	char           *metrics_token;          /* NULL: open */
	char           *run_as;                 /* user to switch to after bind, NULL */
	char           *bind_addr;              /* BIND, default "::" (IPv4 and IPv6 any) */
	/* outbound mode (PROTOCOL.md section 14) */
	unsigned        outbound_port;          /* OUTBOUND_PORT; 0: the role is off */
	char           *outbound_bind;          /* OUTBOUND_BIND, default 127.0.0.1 */
	char           *outbound_relay;         /* OUTBOUND_RELAY as given (validated) */
	char           *outbound_relays;        /* OUTBOUND_RELAYS as given (validated) */
	struct outbound_partner outbound[OUTBOUND_RELAYS_MAX];  /* from either */
	size_t          outbound_count;
	char           *outbound_token;         /* OUTBOUND_TOKEN, NULL: none */
	unsigned        outbound_pairs;         /* OUTBOUND_PAIRS, 4 */
	int             role_inbound;           /* UPSTREAM set, or no outbound role */
	char           *tls_cert_file;          /* TLS_CERT_FILE; NULL: plain HTTP */
	char           *tls_key_file;           /* TLS_KEY_FILE; set together (the inbound listener) */
	/* actions */
	int             check_only;             /* --check-config */
	int             healthcheck;            /* --healthcheck: probe the running relay */
};

/*
 * Loads the configuration from envp and argv into cfg (which the caller
 * zeroes).  Returns 0 on success.  On any problem, writes one line per
 * problem to err ("config error: NAME ... (flag --name): ...") and returns
 * CONFIG_EXIT_USAGE.  Warnings go to the log as "warn" events.  --help and
 * --version print to out and return -1 (the caller exits 0).
 */
int  config_load(struct config *cfg, int argc, char **argv, char **envp,
         FILE *out, FILE *err);
/* Frees what config_load allocated. */
void config_free(struct config *cfg);

#endif
