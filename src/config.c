/*
 * config.c - settings from the environment and mirrored long flags.
 *
 * One table (settings[]) describes every setting: its variable, flag, kind,
 * default, limits, help text and where it lands in struct config.  Parsing,
 * validation, defaults and --help are all driven by that table, so a setting
 * is described exactly once.
 *
 * Values are resolved in two layers: the flag layer (argv) beats the
 * environment layer (envp).  Within one layer a setting may be given only
 * once: NAME together with NAME_FILE (secrets) or with its alias is an error.
 * Every problem is reported before returning, one line each; secret values
 * are never echoed.
 */
#include "config.h"
#include "crypto/wipe.h"
#include "decimal.h"
#include "forward.h"
#include "hex.h"
#include "json.h"
#include "log.h"
#include "route.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#ifndef MTE_RELAY_VERSION
#define MTE_RELAY_VERSION "unknown"
#endif

#define SERVER_ID_DEFAULT "mte-relay"
#define SECRET_WARN_LEN   32    /* shorter secrets get a warning */
#define GOT_SHOW_MAX      80    /* bytes of a bad value echoed in an error */

enum kind {
	K_UPSTREAM,     /* http(s) URL with host, optional base path */
	K_REDIS_URL,    /* redis:// or rediss:// URL with host */
	K_ORIGINS,      /* list of scheme://host[:port] */
	K_SECRET,       /* non-empty string */
	K_SERVER_ID,    /* short identifier */
	K_FILE,         /* readable regular file */
	K_DIR,          /* existing directory */
	K_USER,         /* existing user name */
	K_ADDR,         /* IPv4 or IPv6 address literal */
	K_UINT,         /* unsigned, range-checked */
	K_COUNT,        /* size_t, range-checked */
	K_BYTES,        /* uint64_t with optional K/M/G suffix */
	K_BOOL,         /* int 0/1 */
	K_CLUSTER,      /* int STORE_CLUSTER_AUTO / _YES / _NO */
	K_ROUTES,       /* struct route_list */
	K_METHODS,      /* struct str_list of methods */
	K_HEADERS,      /* JSON object -> headers[] */
	K_CIDRS,        /* list of CIDR blocks -> struct cidr_set */
	K_PARTNER,      /* one origin -> outbound[0] with prefix "/" */
	K_PARTNERS,     /* list of prefix=origin -> outbound[] */
};

/* Setting attributes. */
#define A_REQUIRED   1u     /* no default; must be set */
#define A_SECRET     2u     /* never echoed; also NAME_FILE / --name-file */
#define A_INBOUND    4u     /* required when the inbound role is on (UPSTREAM set,
                             * or no outbound role) */

struct setting {
	const char        *name;       /* environment variable */
	const char        *flag;       /* long flag without "--" */
	const char        *alias;      /* second variable name, or NULL */
	const char        *alias_flag; /* its flag */
	enum kind          kind;
	unsigned           attrs;
	const char        *def;        /* default as text (parsed like a value), or NULL */
	unsigned long long min, max;   /* numbers */
	size_t             offset;     /* into struct config */
	const char        *help;       /* one line; also ends "is required" errors */
};

#define OFF(field) offsetof(struct config, field)

static const struct setting settings[] = {
	{ "UPSTREAM", "upstream", NULL, NULL, K_UPSTREAM, A_INBOUND, NULL, 0, 0,
	  OFF(upstream),
	  "the URL that decoded requests are proxied to" },
	{ "UPSTREAM_CA_FILE", "upstream-ca-file", NULL, NULL, K_FILE, 0, NULL, 0, 0,
	  OFF(upstream_ca_file),
	  "PEM CA bundle that verifies an https:// UPSTREAM; unset: the system CAs" },
	{ "CORS_ORIGINS", "cors-origins", NULL, NULL, K_ORIGINS, A_INBOUND, NULL, 0, 0,
	  OFF(cors_origins),
	  "the browser origins allowed to call the relay, comma-separated scheme://host[:port] (\"*\" is not allowed)" },
	{ "CLIENT_ID_SECRET", "client-id-secret", NULL, NULL, K_SECRET, A_INBOUND | A_SECRET, NULL, 0, 0,
	  OFF(client_id_secret),
	  "the key that signs client ids (x-mte-relay header); 32 or more random characters" },
	{ "CLIENT_ID_SECRET_PREVIOUS", "client-id-secret-previous", NULL, NULL, K_SECRET, A_SECRET, NULL, 0, 0,
	  OFF(client_id_secret_previous),
	  "the previous CLIENT_ID_SECRET, still accepted while secrets rotate" },
	{ "RELAY_KEY_FILE", "relay-key-file", NULL, NULL, K_FILE, 0, NULL, 0, 0,
	  OFF(relay_key_file),
	  "the relay's static X-Wing key (mte-relay --generate-relay-key FILE), for clients that pin it; unset: none" },
	{ "RELAY_KEY_FILE_PREVIOUS", "relay-key-file-previous", NULL, NULL, K_FILE, 0, NULL, 0, 0,
	  OFF(relay_key_file_previous),
	  "the previous RELAY_KEY_FILE, still accepted while relay keys rotate" },
	{ "SERVER_ID", "server-id", NULL, NULL, K_SERVER_ID, 0, SERVER_ID_DEFAULT, 1, STORE_SERVER_ID_MAX,
	  OFF(server_id),
	  "namespaces this relay's keys in the store; the same value on every instance sharing a Redis" },
	{ "REDIS_URL", "redis-url", NULL, NULL, K_REDIS_URL, A_SECRET, NULL, 0, 0,
	  OFF(redis_url),
	  "the shared store, redis://[user:password@]host[:port][/db] or rediss:// (TLS); unset: embedded per-instance store" },
	{ "REDIS_CA_FILE", "redis-ca-file", NULL, NULL, K_FILE, 0, NULL, 0, 0,
	  OFF(redis_ca_file),
	  "PEM CA bundle that verifies a rediss:// server; unset: the system CAs" },
	{ "REDIS_CLUSTER", "redis-cluster", NULL, NULL, K_CLUSTER, 0, "auto", 0, 0,
	  OFF(redis_cluster),
	  "Redis Cluster mode: auto (detected at connect), yes or no" },
	{ "REDIS_WAIT_REPLICAS", "redis-wait-replicas", NULL, NULL, K_UINT, 0, "0", 0, STORE_WAIT_REPLICAS_MAX,
	  OFF(redis_wait_replicas),
	  "replicas that must confirm each replay window update (WAIT) before a request is forwarded; 0: no wait" },
	{ "PORT", "port", NULL, NULL, K_UINT, 0, "8080", 1, 65535,
	  OFF(port),
	  "TCP port to listen on" },
	{ "BIND", "bind", NULL, NULL, K_ADDR, 0, "::", 0, 0,
	  OFF(bind_addr),
	  "IP address to listen on; \"::\" means every IPv6 and IPv4 address" },
	{ "TLS_CERT_FILE", "tls-cert-file", NULL, NULL, K_FILE, 0, NULL, 0, 0,
	  OFF(tls_cert_file),
	  "PEM certificate chain (leaf first) for HTTPS on the listener, with TLS_KEY_FILE; SIGHUP reloads both; unset: plain HTTP" },
	{ "TLS_KEY_FILE", "tls-key-file", NULL, NULL, K_FILE, 0, NULL, 0, 0,
	  OFF(tls_key_file),
	  "PEM private key (RSA or EC, unencrypted) of TLS_CERT_FILE" },
	{ "DEBUG", "debug", NULL, NULL, K_BOOL, 0, "false", 0, 0,
	  OFF(debug),
	  "log more detail (never secrets or decrypted content)" },
	{ "PASS_THROUGH_ROUTES", "pass-through-routes", NULL, NULL, K_ROUTES, 0, NULL, 0, 0,
	  OFF(pass_through_routes),
	  "route patterns proxied to UPSTREAM unprotected, comma-separated: /path, /users/:id, /static/*" },
	{ "MTE_ROUTES", "mte-routes", NULL, NULL, K_ROUTES, 0, NULL, 0, 0,
	  OFF(mte_routes),
	  "route patterns allowed for protected requests (decrypted URL); unset: every route" },
	{ "CORS_METHODS", "cors-methods", NULL, NULL, K_METHODS, 0, "GET,POST,PUT,DELETE", 0, 0,
	  OFF(cors_methods),
	  "methods allowed cross-origin, comma-separated; OPTIONS and HEAD are always added" },
	{ "HEADERS", "headers", NULL, NULL, K_HEADERS, 0, NULL, 0, 0,
	  OFF(headers),
	  "JSON object of headers added to every response and forwarded upstream, like {\"x-frame-options\":\"DENY\"}" },
	{ "MAX_POOL_SIZE", "max-pool-size", "WORKERS", "workers", K_UINT, 0, "256", 2, WORKERS_MAX,
	  OFF(workers),
	  "most worker processes (the pool grows and shrinks below it); one connection each" },
	{ "MIN_SPARE_WORKERS", "min-spare-workers", NULL, NULL, K_UINT, 0, "4", 1, WORKERS_MAX,
	  OFF(min_spare_workers),
	  "idle workers kept ready: fewer and the pool grows (up to MAX_POOL_SIZE)" },
	{ "MAX_SPARE_WORKERS", "max-spare-workers", NULL, NULL, K_UINT, 0, "16", 1, WORKERS_MAX,
	  OFF(max_spare_workers),
	  "idle workers kept at most: more, idle for 5 s, are retired; at least MIN_SPARE_WORKERS" },
	{ "STATE_TTL", "state-ttl", NULL, NULL, K_UINT, 0, "86400", 60, CONFIG_STATE_TTL_MAX,
	  OFF(state_ttl),
	  "seconds an unused pair is kept in the store (refreshed on use)" },
	{ "REPLAY_WINDOW", "replay-window", NULL, NULL, K_UINT, 0, "1024", 1, REPLAY_WINDOW_MAX,
	  OFF(replay_window),
	  "sequence numbers remembered per pair to detect replays" },
	{ "HEADER_TIMEOUT", "header-timeout", NULL, NULL, K_UINT, 0, "10", 1, CONFIG_TIMEOUT_MAX,
	  OFF(header_timeout),
	  "seconds a client may take to send a request head" },
	{ "IDLE_TIMEOUT", "idle-timeout", NULL, NULL, K_UINT, 0, "60", 1, CONFIG_TIMEOUT_MAX,
	  OFF(idle_timeout),
	  "seconds a keep-alive connection may stay idle" },
	{ "UPSTREAM_TIMEOUT", "upstream-timeout", NULL, NULL, K_UINT, 0, "60", 1, CONFIG_TIMEOUT_MAX,
	  OFF(upstream_timeout),
	  "seconds to wait for the upstream" },
	{ "DRAIN_TIMEOUT", "drain-timeout", NULL, NULL, K_UINT, 0, "20", 1, CONFIG_TIMEOUT_MAX,
	  OFF(drain_timeout),
	  "seconds in-flight requests may take to finish after SIGTERM or SIGINT" },
	{ "MAX_BODY_SIZE", "max-body-size", NULL, NULL, K_BYTES, 0, "0", 0, CONFIG_BODY_SIZE_MAX,
	  OFF(max_body_size),
	  "largest request body in bytes, or with a K, M or G suffix (powers of 1024); 0: unlimited, streamed" },
	{ "PUBLIC_DIR", "public-dir", NULL, NULL, K_DIR, 0, NULL, 0, 0,
	  OFF(public_dir),
	  "directory served under /public/, overriding or adding to the embedded files" },
	{ "MAX_PAIRS_PER_CLIENT", "max-pairs-per-client", NULL, NULL, K_UINT, 0, "64", 1, CONFIG_PAIRS_PER_CLIENT_MAX,
	  OFF(max_pairs_per_client),
	  "pairs one client id may hold in the store" },
	{ "STORE_CAPACITY", "store-capacity", NULL, NULL, K_COUNT, 0, "65536", 1, CONFIG_STORE_CAPACITY_MAX,
	  OFF(store_capacity),
	  "pairs the embedded store holds (not used with REDIS_URL)" },
	{ "FRESH_PAIR_TTL", "fresh-pair-ttl", NULL, NULL, K_UINT, 0, "600", 1, CONFIG_STATE_TTL_MAX,
	  OFF(fresh_pair_ttl),
	  "seconds a pair that never carried a request is kept (at most STATE_TTL)" },
	{ "PAIR_RATE_PER_INSTANCE", "pair-rate-per-instance", NULL, NULL, K_UINT, 0, "1000", 0, CONFIG_PAIR_RATE_MAX,
	  OFF(pair_rate.per_instance),
	  "pairing entries this instance performs per second, all clients together (429 beyond); 0: no limit" },
	{ "PAIR_RATE_PER_ADDRESS", "pair-rate-per-address", NULL, NULL, K_UINT, 0, "1024", 0, CONFIG_PAIR_RATE_MAX,
	  OFF(pair_rate.per_address),
	  "pairing entries per minute per client address (IPv4, or IPv6 /64), across instances (429 beyond); 0: no limit" },
	{ "PAIR_RATE_PER_CLIENT", "pair-rate-per-client", NULL, NULL, K_UINT, 0, "64", 0, CONFIG_PAIR_RATE_MAX,
	  OFF(pair_rate.per_client),
	  "pairing entries per minute per client id, across instances (429 beyond); 0: no limit" },
	{ "TRUSTED_PROXIES", "trusted-proxies", NULL, NULL, K_CIDRS, 0, NULL, 0, 0,
	  OFF(trusted_proxies),
	  "load balancers whose X-Forwarded-For names the client address, comma-separated CIDR blocks like 10.0.0.0/8" },
	{ "METRICS", "metrics", NULL, NULL, K_BOOL, 0, "false", 0, 0,
	  OFF(metrics),
	  "serve Prometheus metrics at GET /metrics" },
	{ "METRICS_TOKEN", "metrics-token", NULL, NULL, K_SECRET, A_SECRET, NULL, 0, 0,
	  OFF(metrics_token),
	  "bearer token that GET /metrics requires; unset: no token" },
	{ "OUTBOUND_PORT", "outbound-port", NULL, NULL, K_UINT, 0, NULL, 1, 65535,
	  OFF(outbound_port),
	  "port of the outbound listener (server to server); unset: the outbound role is off" },
	{ "OUTBOUND_BIND", "outbound-bind", NULL, NULL, K_ADDR, 0, "127.0.0.1", 0, 0,
	  OFF(outbound_bind),
	  "address of the outbound listener; keep it on loopback or a private network" },
	{ "OUTBOUND_RELAY", "outbound-relay", NULL, NULL, K_PARTNER, 0, NULL, 0, 0,
	  OFF(outbound_relay),
	  "the partner relay every outbound request goes to, an origin scheme://host[:port]" },
	{ "OUTBOUND_RELAYS", "outbound-relays", NULL, NULL, K_PARTNERS, 0, NULL, 0, 0,
	  OFF(outbound_relays),
	  "partner relays chosen by path prefix, like /pay=https://gw.example,/kyc=https://kyc.example" },
	{ "OUTBOUND_TOKEN", "outbound-token", NULL, NULL, K_SECRET, A_SECRET, NULL, 0, 0,
	  OFF(outbound_token),
	  "bearer token callers of the outbound listener must send; unset: none" },
	{ "OUTBOUND_PAIRS", "outbound-pairs", NULL, NULL, K_UINT, 0, "4", 1, OUTBOUND_PAIRS_MAX,
	  OFF(outbound_pairs),
	  "pairs kept with each partner relay, shared by all workers through the store" },
	{ "RUN_AS", "run-as", NULL, NULL, K_USER, 0, NULL, 0, 0,
	  OFF(run_as),
	  "user to switch to after binding, when started as root" },
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

/* What one layer (environment or flags) says about one setting. */
struct given {
	const char *direct;     /* NAME / --name */
	const char *alias;      /* alias NAME / --alias */
	const char *file;       /* NAME_FILE / --name-file (a path) */
};

/* The value finally used for one setting and where it came from. */
struct value {
	const char *text;       /* NULL: not set */
	const char *var;        /* variable named in messages */
	const char *flag;       /* flag named in messages (without "--") */
	int         from_file;  /* var/flag get "_FILE"/"-file" appended */
	char       *owned;      /* file contents (text points here) */
};

struct ctx {
	struct config *cfg;
	FILE          *err;
	int            errors;
};

/* ---- small helpers ---- */

static int
is_tchar(unsigned char c)
{
	/* RFC 9110 token characters */
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int
is_sub_delim(unsigned char c)
{
	return c != 0 && strchr("!$&'()*+,;=", c) != NULL;
}

/* 1 when the '%' at p[i] starts a %XX escape (hex digits of either case)
 * within p[0..n). */
static int
is_escape_at(const char *p, size_t i, size_t n)
{
	return i + 2 < n && hex_value((unsigned char)p[i + 1]) >= 0
	    && hex_value((unsigned char)p[i + 2]) >= 0;
}

static int
ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* Writes s[0..n) to f as the inside of a quoted string, escaped and cut. */
static void
put_quoted(FILE *f, const char *s, size_t n)
{
	size_t i, shown = n > GOT_SHOW_MAX ? GOT_SHOW_MAX : n;

	fputc('"', f);
	for (i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	if (shown < n)
		fputs("...", f);
	fputc('"', f);
}

/*
 * Reports one problem as one line:
 *   config error: VAR <what> (flag --flag)[, got "<got>"][: <why>]
 * got is suppressed for secrets.  what/why may be NULL.
 */
static void
report_n(struct ctx *c, const struct setting *s, const struct value *v,
    const char *got, size_t got_len, const char *why, const char *what_fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void
report_n(struct ctx *c, const struct setting *s, const struct value *v,
    const char *got, size_t got_len, const char *why, const char *what_fmt, ...)
{
	const char *var = v != NULL && v->var != NULL ? v->var : s->name;
	const char *flag = v != NULL && v->flag != NULL ? v->flag : s->flag;
	int file = v != NULL && v->from_file;
	va_list ap;

	c->errors++;
	fprintf(c->err, "config error: %s%s ", var, file ? "_FILE" : "");
	va_start(ap, what_fmt);
	vfprintf(c->err, what_fmt, ap);
	va_end(ap);
	fprintf(c->err, " (flag --%s%s)", flag, file ? "-file" : "");
	if (got != NULL && !(s->attrs & A_SECRET)) {
		fputs(", got ", c->err);
		put_quoted(c->err, got, got_len);
	}
	if (why != NULL)
		fprintf(c->err, ": %s", why);
	fputc('\n', c->err);
}

static size_t
len_or_0(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

#define REPORT(c, s, v, got, why, ...) \
	report_n((c), (s), (v), (got), len_or_0(got), (why), __VA_ARGS__)

/* Validates host[:port] in s[0..n) and writes it lower-cased to out
 * (default_port, when not 0, is dropped).  Returns NULL or a reason. */
static const char *
check_authority(const char *s, size_t n, unsigned default_port, char *out, size_t *out_len)
{
	size_t host_end, i, o = 0;
	const char *port = NULL;
	size_t port_len = 0;
	uint64_t pv = 0;

	if (memchr(s, '@', n) != NULL)
		return "user:password@ is not supported in this URL";
	if (n == 0)
		return "it has no host";
	if (s[0] == '[') {
		char buf[INET6_ADDRSTRLEN + 1];
		struct in6_addr a6;
		const char *close = memchr(s, ']', n);
		if (close == NULL)
			return "an IPv6 address needs a closing ']'";
		host_end = (size_t)(close - s) + 1;
		if (host_end - 2 == 0 || host_end - 2 >= sizeof buf)
			return "the IPv6 address is not valid";
		memcpy(buf, s + 1, host_end - 2);
		buf[host_end - 2] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return "the IPv6 address is not valid";
	} else {
		for (host_end = 0; host_end < n && s[host_end] != ':'; host_end++)
			if (!is_unreserved((unsigned char)s[host_end]))
				return "the host may hold only letters, digits, '.', '-', '_' and '~'";
		if (host_end == 0)
			return "it has no host";
	}
	if (host_end < n) {
		if (s[host_end] != ':')
			return "unexpected characters after the host";
		port = s + host_end + 1;
		port_len = n - host_end - 1;
		if (decimal_parse(port, port_len, 65535, &pv) != 0 || pv == 0)
			return "the port must be a number from 1 to 65535";
	}
	for (i = 0; i < host_end; i++)
		out[o++] = (char)tolower((unsigned char)s[i]);
	if (port != NULL && pv != default_port) {
		o += (size_t)sprintf(out + o, ":%" PRIu64, pv);
	}
	*out_len = o;
	return NULL;
}

/* Splits "scheme://rest"; scheme lower-cased into scheme_out.  Returns the
 * position after "://" or NULL when there is no valid scheme. */
static const char *
split_scheme(const char *s, char *scheme_out, size_t cap)
{
	const char *sep = strstr(s, "://");
	size_t n, i;

	if (sep == NULL)
		return NULL;
	n = (size_t)(sep - s);
	if (n == 0 || n >= cap || !isalpha((unsigned char)s[0]))
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '+' && ch != '-' && ch != '.')
			return NULL;
		scheme_out[i] = (char)tolower(ch);
	}
	scheme_out[n] = '\0';
	return sep + 3;
}

/* Checks URL path characters (pchar and '/'); NULL or a reason. */
static const char *
check_path_chars(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '%') {
			if (!is_escape_at(p, i, n))
				return "'%' must start a %XX escape";
			i += 2;
		} else if (!is_unreserved(ch) && !is_sub_delim(ch) && ch != ':' &&
		    ch != '@' && ch != '/') {
			return "the path holds a character that must be %-escaped";
		}
	}
	return NULL;
}

/* ---- per-kind parsers; each reports its own problems ---- */

static void *
field(struct ctx *c, const struct setting *s)
{
	return (char *)c->cfg + s->offset;
}

static void
set_string(struct ctx *c, const struct setting *s, const char *text, size_t n)
{
	char **dst = field(c, s);
	char *copy = strndup(text, n);

	if (copy == NULL) {
		REPORT(c, s, NULL, NULL, NULL, "could not be stored: out of memory");
		return;
	}
	*dst = copy;
}

static void
parse_upstream(struct ctx *c, const struct setting *s, const struct value *v)
{
	char scheme[16], out[CONFIG_VALUE_MAX + 32];
	const char *rest = split_scheme(v->text, scheme, sizeof scheme);
	const char *why, *path;
	size_t auth_len, path_len, o;

	if (rest == NULL || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		REPORT(c, s, v, v->text, "the scheme must be http:// or https://",
		    "must be an http:// or https:// URL with a host");
		return;
	}
	auth_len = strcspn(rest, "/?#");
	path = rest + auth_len;
	path_len = strcspn(path, "?#");
	if (path[path_len] != '\0') {
		REPORT(c, s, v, v->text, "a query or fragment is not allowed",
		    "must be an http:// or https:// URL with a host");
		return;
	}
	o = (size_t)sprintf(out, "%s://", scheme);
	why = check_authority(rest, auth_len, 0, out + o, &auth_len);
	if (why == NULL)
		why = check_path_chars(path, path_len);
	if (why != NULL) {
		REPORT(c, s, v, v->text, why, "must be an http:// or https:// URL with a host");
		return;
	}
	o += auth_len;
	while (path_len > 0 && path[path_len - 1] == '/')
		path_len--;     /* the request path always brings its own '/' */
	memcpy(out + o, path, path_len);
	o += path_len;
	set_string(c, s, out, o);
}

/* The store's parser decides (store_redis_url_parse), so --check-config
 * agrees with start-up.  Its messages never hold the user info. */
static void
parse_redis_url(struct ctx *c, const struct setting *s, const struct value *v)
{
	static struct store_redis_url parsed;
	char err[256];
	int rc = store_redis_url_parse(v->text, &parsed, err, sizeof err);

	crypto_wipe(&parsed, sizeof parsed);
	if (rc == STORE_URL_TOO_LONG)
		report_n(c, s, v, NULL, 0, NULL, "is longer than %d bytes", STORE_URL_MAX);
	else if (rc != STORE_URL_OK)
		REPORT(c, s, v, NULL, err, "must be a redis:// or rediss:// URL with a host");
	else
		set_string(c, s, v->text, strlen(v->text));
}

/* Calls item() for every comma-separated entry, blanks trimmed.  Reports
 * empty entries and too many entries; returns the number of entries or -1. */
static int
for_each_item(struct ctx *c, const struct setting *s, const struct value *v,
    void (*item)(struct ctx *, const struct setting *, const struct value *, const char *, size_t, void *),
    void *arg)
{
	const char *p = v->text;
	size_t count = 1;
	int n = 0;

	for (; *p; p++)
		if (*p == ',')
			count++;
	if (count > CONFIG_LIST_MAX) {
		report_n(c, s, v, NULL, 0, NULL, "must have at most %d entries, got %zu",
		    CONFIG_LIST_MAX, count);
		return -1;
	}
	p = v->text;
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *b = p, *e = p + len;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (b == e)
			report_n(c, s, v, v->text, strlen(v->text), "remove the empty entry",
			    "has an empty entry");
		else
			item(c, s, v, b, (size_t)(e - b), arg);
		n++;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	return n;
}

static int
list_has(const struct str_list *l, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		if (strlen(l->items[i]) == n && memcmp(l->items[i], s, n) == 0)
			return 1;
	return 0;
}

static void
list_push(struct ctx *c, const struct setting *s, struct str_list *l, const char *text, size_t n)
{
	char *copy;

	if (list_has(l, text, n))
		return;         /* duplicates are harmless; keep one */
	if (l->count >= CONFIG_LIST_MAX) {
		report_n(c, s, NULL, NULL, 0, NULL, "must have at most %d entries", CONFIG_LIST_MAX);
		return;
	}
	copy = strndup(text, n);
	if (copy == NULL) {
		REPORT(c, s, NULL, NULL, NULL, "could not be stored: out of memory");
		return;
	}
	l->items[l->count++] = copy;
}

static void
origin_item(struct ctx *c, const struct setting *s, const struct value *v,
    const char *p, size_t n, void *arg)
{
	static const char *what = "must list origins like https://app.example.com";
	char buf[CONFIG_VALUE_MAX + 32], scheme[32];
	const char *rest, *why = NULL;
	size_t o, auth_len;
	unsigned defport = 0;

	(void)arg;
	if (n == 1 && p[0] == '*') {
		report_n(c, s, v, p, n,
		    "credentials are allowed cross-origin, so every origin must be listed exactly",
		    "must not contain \"*\"");
		return;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	rest = split_scheme(buf, scheme, sizeof scheme);
	if (rest == NULL) {
		report_n(c, s, v, p, n, "an origin is scheme://host[:port]", "%s", what);
		return;
	}
	if (strcmp(scheme, "https") == 0)
		defport = 443;
	else if (strcmp(scheme, "http") == 0)
		defport = 80;
	auth_len = strlen(rest);
	if (auth_len > 0 && rest[auth_len - 1] == '/')
		auth_len--;     /* "https://a.example/" is the origin https://a.example */
	if (strcspn(rest, "/?#") < auth_len)
		why = "an origin has no path, query or fragment";
	else {
		char out[CONFIG_VALUE_MAX + 32];
		o = (size_t)sprintf(out, "%s://", scheme);
		/* Browsers send Origin lower-case and without a default port. */
		why = check_authority(rest, auth_len, defport, out + o, &auth_len);
		if (why == NULL)
			list_push(c, s, field(c, s), out, o + auth_len);
	}
	if (why != NULL)
		report_n(c, s, v, p, n, why, "%s", what);
}

static void
parse_origins(struct ctx *c, const struct setting *s, const struct value *v)
{
	(void)for_each_item(c, s, v, origin_item, NULL);
}

/* Validates one route pattern (NUL-terminated, n bytes): the matcher's own
 * grammar (route_pattern_check) plus mistakes it would silently accept.
 * Returns NULL or a reason. */
static const char *
check_route(const char *p, size_t n)
{
	const char *why = NULL;
	size_t i, k, seg;

	if (route_pattern_check(p, &why) != 0)
		return why != NULL ? why : "not a route pattern";
	if (strstr(p, "//") != NULL)
		return "a pattern has no empty segments (\"//\")";
	for (i = 1; i < n; i = seg + 1) {
		for (seg = i; seg < n && p[seg] != '/'; seg++)
			;
		if (p[i] != ':')
			continue;
		/* ":name" matches one segment; a '*' after it would make it a literal */
		if (p[seg - 1] == '*')
			return "'*' cannot follow a :param";
		for (k = i + 1; k < seg; k++)
			if (!isalnum((unsigned char)p[k]) && p[k] != '_')
				return "a :param name holds only letters, digits and '_'";
		for (k = 1; k < i; k++)
			if (p[k - 1] == '/' && p[k] == ':' && strncmp(p + k, p + i, seg - i) == 0 &&
			    (p[k + seg - i] == '/' || p[k + seg - i] == '\0'))
				return "a :param name is used twice";
	}
	for (k = 0; k < n; k++)
		if (p[k] == '%' && !is_escape_at(p, k, n))
			return "'%' must start a %XX escape";
	return NULL;
}

static void
route_item(struct ctx *c, const struct setting *s, const struct value *v,
    const char *p, size_t n, void *arg)
{
	struct route_list *l = field(c, s);
	const char *why;
	char *copy = strndup(p, n);
	size_t i;

	(void)arg;
	if (copy == NULL) {
		REPORT(c, s, NULL, NULL, NULL, "could not be stored: out of memory");
		return;
	}
	why = check_route(copy, n);
	if (why != NULL) {
		report_n(c, s, v, p, n, why, "must list route patterns like /api/users/:id or /static/*");
		free(copy);
		return;
	}
	for (i = 0; i < l->count; i++) {
		if (strcmp(l->items[i].text, copy) == 0) {
			free(copy);     /* a duplicate is harmless; keep one */
			return;
		}
	}
	l->items[l->count++].text = copy;   /* count <= CONFIG_LIST_MAX by for_each_item */
}

static void
parse_routes(struct ctx *c, const struct setting *s, const struct value *v)
{
	(void)for_each_item(c, s, v, route_item, NULL);
}

static void
method_item(struct ctx *c, const struct setting *s, const struct value *v,
    const char *p, size_t n, void *arg)
{
	char buf[CONFIG_VALUE_MAX];
	size_t i;

	(void)arg;
	for (i = 0; i < n; i++) {
		if (!is_tchar((unsigned char)p[i])) {
			report_n(c, s, v, p, n, "a method is an HTTP token, like PATCH",
			    "must list HTTP methods");
			return;
		}
		buf[i] = (char)toupper((unsigned char)p[i]);
	}
	list_push(c, s, field(c, s), buf, n);
}

static void
parse_methods(struct ctx *c, const struct setting *s, const struct value *v)
{
	struct str_list *l = field(c, s);

	if (for_each_item(c, s, v, method_item, NULL) < 0)
		return;
	/* Preflights and HEAD are always answered. */
	list_push(c, s, l, "OPTIONS", 7);
	list_push(c, s, l, "HEAD", 4);
}

static void
cidr_item(struct ctx *c, const struct setting *s, const struct value *v,
    const char *p, size_t n, void *arg)
{
	struct cidr_set *set = arg;
	const char *why = NULL;

	if (cidr_parse(p, n, &set->items[set->count], &why) != 0) {
		report_n(c, s, v, p, n, why, "must list CIDR blocks");
		return;
	}
	set->count++;       /* for_each_item allows at most CONFIG_LIST_MAX */
}

static void
parse_cidrs(struct ctx *c, const struct setting *s, const struct value *v)
{
	struct cidr_set *set = field(c, s);

	set->count = 0;
	(void)for_each_item(c, s, v, cidr_item, set);
}

static void
parse_headers(struct ctx *c, const struct setting *s, const struct value *v)
{
	static const char *what = "must be a JSON object of string values";
	const char *end = NULL;
	cJSON *root, *it;
	size_t n = 0, i;
	char why[96];

	/* cJSON ends strings at a decoded NUL: a name or value would be cut. */
	root = json_has_nul_escape(v->text, strlen(v->text)) ? NULL :
	    cJSON_ParseWithOpts(v->text, &end, 1);
	if (root == NULL) {
		snprintf(why, sizeof why, "invalid JSON at byte %zu",
		    end != NULL && end >= v->text ? (size_t)(end - v->text) : (size_t)0);
		REPORT(c, s, v, NULL, why, "%s", what);
		return;
	}
	if (!cJSON_IsObject(root)) {
		REPORT(c, s, v, NULL, "use an object, like {\"x-frame-options\":\"DENY\"}", "%s", what);
		cJSON_Delete(root);
		return;
	}
	for (it = root->child; it != NULL; it = it->next)
		n++;
	if (n > CONFIG_LIST_MAX) {
		report_n(c, s, v, NULL, 0, NULL, "must have at most %d headers, got %zu",
		    CONFIG_LIST_MAX, n);
		cJSON_Delete(root);
		return;
	}
	for (it = root->child; it != NULL; it = it->next) {
		const char *name = it->string, *val = it->valuestring, *bad = NULL;
		char lower[CONFIG_VALUE_MAX];
		size_t nlen = strlen(name);

		if (nlen == 0) {
			REPORT(c, s, v, NULL, "a header name is an HTTP token", "has an empty header name");
			continue;
		}
		for (i = 0; i < nlen && is_tchar((unsigned char)name[i]); i++)
			lower[i] = (char)tolower((unsigned char)name[i]);
		if (i < nlen) {
			REPORT(c, s, v, name, "a header name is an HTTP token", "has an invalid header name");
			continue;
		}
		lower[nlen] = '\0';
		/* Framing, hop-by-hop and protocol fields are the relay's own. */
		if (forward_is_hop_by_hop(lower, nlen) || forward_is_protocol_field(lower, nlen)) {
			REPORT(c, s, v, lower, "the relay sets this header itself",
			    "must not set a connection or protocol header");
			continue;
		}
		if (!cJSON_IsString(it) || val == NULL) {
			REPORT(c, s, v, lower, "each value must be a JSON string",
			    "has a header whose value is not a string");
			continue;
		}
		for (i = 0; val[i] != '\0'; i++) {
			unsigned char ch = (unsigned char)val[i];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				bad = "values must not hold CR, LF or other control characters";
				break;
			}
		}
		if (bad != NULL) {
			REPORT(c, s, v, lower, bad, "has an invalid value for header");
			continue;
		}
		for (i = 0; i < c->cfg->headers_count; i++)
			if (strcmp(c->cfg->headers[i].name, lower) == 0)
				break;
		if (i < c->cfg->headers_count) {
			REPORT(c, s, v, lower, "name each header once (names are case-insensitive)",
			    "has a duplicate header");
			continue;
		}
		c->cfg->headers[c->cfg->headers_count].name = strdup(lower);
		c->cfg->headers[c->cfg->headers_count].value = strdup(val);
		if (c->cfg->headers[c->cfg->headers_count].name == NULL ||
		    c->cfg->headers[c->cfg->headers_count].value == NULL) {
			free(c->cfg->headers[c->cfg->headers_count].name);
			free(c->cfg->headers[c->cfg->headers_count].value);
			c->cfg->headers[c->cfg->headers_count].name = NULL;
			c->cfg->headers[c->cfg->headers_count].value = NULL;
			REPORT(c, s, NULL, NULL, NULL, "could not be stored: out of memory");
			continue;
		}
		c->cfg->headers_count++;
	}
	cJSON_Delete(root);
}

static void
parse_number(struct ctx *c, const struct setting *s, const struct value *v)
{
	uint64_t n;

	if (decimal_parse(v->text, strlen(v->text), s->max, &n) != 0 || n < s->min) {
		REPORT(c, s, v, v->text, NULL, "must be a number from %llu to %llu", s->min, s->max);
		return;
	}
	if (s->kind == K_COUNT)
		*(size_t *)field(c, s) = (size_t)n;
	else
		*(unsigned *)field(c, s) = (unsigned)n;
}

static void
parse_bytes(struct ctx *c, const struct setting *s, const struct value *v)
{
	size_t len = strlen(v->text);
	uint64_t n, mult = 1;

	if (len > 0) {
		switch (v->text[len - 1]) {
		case 'K': case 'k': mult = 1ULL << 10; len--; break;
		case 'M': case 'm': mult = 1ULL << 20; len--; break;
		case 'G': case 'g': mult = 1ULL << 30; len--; break;
		default: break;
		}
	}
	if (decimal_parse(v->text, len, s->max, &n) != 0 || n > s->max / mult) {
		REPORT(c, s, v, v->text, "K, M and G are powers of 1024; 0 means unlimited",
		    "must be a size in bytes from 0 to %llu, optionally with a K, M or G suffix",
		    s->max);
		return;
	}
	*(uint64_t *)field(c, s) = (uint64_t)(n * mult);
}

static void
parse_bool(struct ctx *c, const struct setting *s, const struct value *v)
{
	int *dst = field(c, s);
	const char *t = v->text;

	if (ieq(t, "true") || ieq(t, "1") || ieq(t, "yes"))
		*dst = 1;
	else if (ieq(t, "false") || ieq(t, "0") || ieq(t, "no"))
		*dst = 0;
	else
		REPORT(c, s, v, t, NULL, "must be true or false (or 1/0, yes/no)");
}

static void
parse_cluster(struct ctx *c, const struct setting *s, const struct value *v)
{
	int *dst = field(c, s);
	const char *t = v->text;

	if (ieq(t, "auto"))
		*dst = STORE_CLUSTER_AUTO;
	else if (ieq(t, "yes"))
		*dst = STORE_CLUSTER_YES;
	else if (ieq(t, "no"))
		*dst = STORE_CLUSTER_NO;
	else
		REPORT(c, s, v, t, NULL, "must be auto, yes or no");
}

static void
parse_server_id(struct ctx *c, const struct setting *s, const struct value *v)
{
	size_t i, n = strlen(v->text);

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v->text[i];
		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.' && ch != ':')
			break;
	}
	if (n < s->min || n > s->max || i < n) {
		REPORT(c, s, v, v->text, "it becomes part of the store's key names",
		    "must be %llu to %llu letters, digits, '-', '_', '.' or ':'", s->min, s->max);
		return;
	}
	set_string(c, s, v->text, n);
}

static void
parse_secret(struct ctx *c, const struct setting *s, const struct value *v)
{
	set_string(c, s, v->text, strlen(v->text));
}

static void
parse_path(struct ctx *c, const struct setting *s, const struct value *v)
{
	struct stat st;

	if (stat(v->text, &st) != 0) {
		REPORT(c, s, v, v->text, strerror(errno), "%s",
		    s->kind == K_DIR ? "must be an existing directory" : "must be a readable file");
		return;
	}
	if (s->kind == K_DIR && !S_ISDIR(st.st_mode)) {
		REPORT(c, s, v, v->text, NULL, "must be an existing directory");
		return;
	}
	if (s->kind == K_FILE && (!S_ISREG(st.st_mode) || access(v->text, R_OK) != 0)) {
		REPORT(c, s, v, v->text, NULL, "must be a readable file");
		return;
	}
	set_string(c, s, v->text, strlen(v->text));
}

static void
parse_user(struct ctx *c, const struct setting *s, const struct value *v)
{
	if (getpwnam(v->text) == NULL) {
		REPORT(c, s, v, v->text, NULL, "must name an existing user");
		return;
	}
	set_string(c, s, v->text, strlen(v->text));
}

static void
parse_addr(struct ctx *c, const struct setting *s, const struct value *v)
{
	unsigned char a[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET6, v->text, a) != 1 && inet_pton(AF_INET, v->text, a) != 1) {
		REPORT(c, s, v, v->text, "\"::\" listens on every IPv6 and IPv4 address",
		    "must be an IPv4 or IPv6 address, like 0.0.0.0 or ::");
		return;
	}
	set_string(c, s, v->text, strlen(v->text));
}

/* A partner's origin in p[0..n): http(s)://host[:port], an optional
 * trailing '/'.  Written lower case without a default port to out (cap
 * CONFIG_VALUE_MAX + 32).  NULL or a reason. */
static const char *
partner_origin(const char *p, size_t n, char *out)
{
	char buf[CONFIG_VALUE_MAX + 32], scheme[16];
	const char *rest;
	size_t o, auth_len;

	if (n > CONFIG_VALUE_MAX)
		return "too long";
	memcpy(buf, p, n);
	buf[n] = '\0';
	rest = split_scheme(buf, scheme, sizeof scheme);
	if (rest == NULL || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		return "the scheme must be http:// or https://";
	auth_len = strlen(rest);
	if (auth_len > 0 && rest[auth_len - 1] == '/')
		auth_len--;
	if (strcspn(rest, "/?#") < auth_len)
		return "a partner is an origin: no path, query or fragment";
	o = (size_t)sprintf(out, "%s://", scheme);
	if ((rest = check_authority(rest, auth_len, strcmp(scheme, "https") == 0 ? 443 : 80,
	    out + o, &auth_len)) != NULL)
		return rest;
	out[o + auth_len] = '\0';
	return NULL;
}

/* Appends a partner (prefix, origin) to cfg->outbound; reports a full list. */
static void
partner_push(struct ctx *c, const struct setting *s, const struct value *v, const char *prefix,
    size_t plen, const char *origin)
{
	struct config *cfg = c->cfg;
	struct outbound_partner *e;

	if (cfg->outbound_count >= OUTBOUND_RELAYS_MAX) {
		report_n(c, s, v, NULL, 0, NULL, "must have at most %d entries", OUTBOUND_RELAYS_MAX);
		return;
	}
	e = &cfg->outbound[cfg->outbound_count];
	e->prefix = strndup(prefix, plen);
	e->origin = strdup(origin);
	if (e->prefix == NULL || e->origin == NULL) {
		free(e->prefix);
		free(e->origin);
		e->prefix = e->origin = NULL;
		REPORT(c, s, NULL, NULL, NULL, "could not be stored: out of memory");
		return;
	}
	cfg->outbound_count++;
}

static void
parse_partner(struct ctx *c, const struct setting *s, const struct value *v)
{
	char out[CONFIG_VALUE_MAX + 32];
	const char *why = partner_origin(v->text, strlen(v->text), out);

	if (why != NULL) {
		REPORT(c, s, v, v->text, why, "must be a partner relay's origin, like https://gw.example");
		return;
	}
	partner_push(c, s, v, "/", 1, out);
	set_string(c, s, v->text, strlen(v->text));
}

static void
partner_item(struct ctx *c, const struct setting *s, const struct value *v,
    const char *p, size_t n, void *arg)
{
	static const char *what = "must list prefix=origin entries, like /pay=https://gw.example";
	char out[CONFIG_VALUE_MAX + 32];
	const char *eq = memchr(p, '=', n), *why = NULL;
	size_t plen, i;

	(void)arg;
	if (eq == NULL || eq == p) {
		report_n(c, s, v, p, n, "each entry is a path prefix, '=' and an origin", "%s", what);
		return;
	}
	plen = (size_t)(eq - p);
	while (plen > 1 && p[plen - 1] == '/')
		plen--;         /* "/pay/" is the prefix /pay */
	if (p[0] != '/')
		why = "a prefix starts with '/'";
	else if (plen > OUTBOUND_PREFIX_MAX)
		why = "a prefix is too long (OUTBOUND_PREFIX_MAX bytes at most)";
	else if (memchr(p, '?', plen) != NULL || memchr(p, '#', plen) != NULL)
		why = "a prefix is a path: no query or fragment";
	else
		why = check_path_chars(p, plen);
	if (why == NULL)
		why = partner_origin(eq + 1, n - (size_t)(eq - p) - 1, out);
	for (i = 0; why == NULL && i < c->cfg->outbound_count; i++)
		if (strlen(c->cfg->outbound[i].prefix) == plen &&
		    memcmp(c->cfg->outbound[i].prefix, p, plen) == 0)
			why = "each prefix may appear once";
	if (why != NULL) {
		report_n(c, s, v, p, n, why, "%s", what);
		return;
	}
	partner_push(c, s, v, p, plen, out);
}

static void
parse_partners(struct ctx *c, const struct setting *s, const struct value *v)
{
	if (c->cfg->outbound_count > 0) {
		REPORT(c, s, v, NULL, "OUTBOUND_RELAY names the one partner; OUTBOUND_RELAYS several",
		    "must not be set together with OUTBOUND_RELAY");
		return;
	}
	if (for_each_item(c, s, v, partner_item, NULL) >= 0)
		set_string(c, s, v->text, strlen(v->text));
}

static void
parse_value(struct ctx *c, const struct setting *s, const struct value *v)
{
	switch (s->kind) {
	case K_UPSTREAM:  parse_upstream(c, s, v); break;
	case K_REDIS_URL: parse_redis_url(c, s, v); break;
	case K_ORIGINS:   parse_origins(c, s, v); break;
	case K_SECRET:    parse_secret(c, s, v); break;
	case K_SERVER_ID: parse_server_id(c, s, v); break;
	case K_FILE:
	case K_DIR:       parse_path(c, s, v); break;
	case K_USER:      parse_user(c, s, v); break;
	case K_ADDR:      parse_addr(c, s, v); break;
	case K_UINT:
	case K_COUNT:     parse_number(c, s, v); break;
	case K_BYTES:     parse_bytes(c, s, v); break;
	case K_BOOL:      parse_bool(c, s, v); break;
	case K_CLUSTER:   parse_cluster(c, s, v); break;
	case K_ROUTES:    parse_routes(c, s, v); break;
	case K_METHODS:   parse_methods(c, s, v); break;
	case K_HEADERS:   parse_headers(c, s, v); break;
	case K_CIDRS:     parse_cidrs(c, s, v); break;
	case K_PARTNER:   parse_partner(c, s, v); break;
	case K_PARTNERS:  parse_partners(c, s, v); break;
	}
}

/* ---- sources ---- */

/* Reads a secret file, at most CONFIG_SECRET_FILE_MAX bytes, trailing
 * newlines removed.  Returns the contents or NULL after reporting. */
static char *
read_secret_file(struct ctx *c, const struct setting *s, const struct value *v, const char *path)
{
	char *buf;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* The path is not secret, so show it even for secrets. */
		fprintf(c->err, "config error: %s_FILE cannot be read (flag --%s-file), got ",
		    v->var, v->flag);
		put_quoted(c->err, path, strlen(path));
		fprintf(c->err, ": %s\n", strerror(errno));
		c->errors++;
		return NULL;
	}
	buf = malloc(CONFIG_SECRET_FILE_MAX + 2);
	if (buf == NULL) {
		close(fd);
		REPORT(c, s, v, NULL, NULL, "could not be read: out of memory");
		return NULL;
	}
	/* Read one byte more than allowed to detect an oversized file. */
	while (len < CONFIG_SECRET_FILE_MAX + 1) {
		ssize_t r = read(fd, buf + len, CONFIG_SECRET_FILE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			explicit_bzero(buf, len);
			free(buf);
			REPORT(c, s, v, NULL, strerror(e), "cannot be read");
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len > CONFIG_SECRET_FILE_MAX) {
		explicit_bzero(buf, len);
		free(buf);
		report_n(c, s, v, NULL, 0, NULL, "is larger than %d bytes", CONFIG_SECRET_FILE_MAX);
		return NULL;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		explicit_bzero(buf, len);
		free(buf);
		REPORT(c, s, v, NULL, NULL, "%s", len == 0 ? "is an empty file" :
		    "holds a NUL byte");
		return NULL;
	}
	return buf;
}

/* Picks the value of one setting from one layer; 1 when the layer sets it. */
static int
pick(struct ctx *c, const struct setting *s, const struct given *g, int is_flag,
    struct value *v)
{
	const char *vars[3], *flags[3], *vals[3];
	char names[3][64];
	int n = 0, i, which = -1;

	vals[0] = g->direct; vars[0] = s->name;  flags[0] = s->flag;
	vals[1] = g->alias;  vars[1] = s->alias; flags[1] = s->alias_flag;
	vals[2] = g->file;   vars[2] = s->name;  flags[2] = s->flag;
	for (i = 0; i < 3; i++) {
		if (vals[i] == NULL || vals[i][0] == '\0')
			continue;   /* empty means unset (as docker/compose pass them) */
		if (is_flag)
			snprintf(names[n], sizeof names[n], "--%s%s", flags[i], i == 2 ? "-file" : "");
		else
			snprintf(names[n], sizeof names[n], "%s%s", vars[i], i == 2 ? "_FILE" : "");
		n++;
		which = i;
	}
	if (n == 0)
		return 0;
	if (n > 1) {
		report_n(c, s, NULL, NULL, 0, "set only one", "is set twice, as %s and %s",
		    names[0], names[1]);
		return -1;
	}
	v->text = vals[which];
	v->var = vars[which];
	v->flag = flags[which];
	v->from_file = which == 2;
	return 1;
}

static const struct setting *
find_by_flag(const char *key, size_t n, int *kind)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		size_t fl = strlen(s->flag);
		if (strlen(s->flag) == n && memcmp(key, s->flag, n) == 0) {
			*kind = 0;
			return s;
		}
		if (s->alias_flag != NULL && strlen(s->alias_flag) == n &&
		    memcmp(key, s->alias_flag, n) == 0) {
			*kind = 1;
			return s;
		}
		if ((s->attrs & A_SECRET) && n == fl + 5 && memcmp(key, s->flag, fl) == 0 &&
		    memcmp(key + fl, "-file", 5) == 0) {
			*kind = 2;
			return s;
		}
	}
	return NULL;
}

static const struct setting *
find_by_env(const char *key, size_t n, int *kind)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		size_t nl = strlen(s->name);
		if (nl == n && memcmp(key, s->name, n) == 0) {
			*kind = 0;
			return s;
		}
		if (s->alias != NULL && strlen(s->alias) == n && memcmp(key, s->alias, n) == 0) {
			*kind = 1;
			return s;
		}
		if ((s->attrs & A_SECRET) && n == nl + 5 && memcmp(key, s->name, nl) == 0 &&
		    memcmp(key + nl, "_FILE", 5) == 0) {
			*kind = 2;
			return s;
		}
	}
	return NULL;
}

static void
given_set(struct given *g, int kind, const char *val, int first_wins)
{
	const char **slot = kind == 0 ? &g->direct : kind == 1 ? &g->alias : &g->file;

	if (first_wins && *slot != NULL)
		return;
	*slot = val;
}

/* ---- --help ---- */

static const char *
placeholder(enum kind k)
{
	switch (k) {
	case K_UPSTREAM:
	case K_REDIS_URL: return "URL";
	case K_ORIGINS:   return "ORIGINS";
	case K_SECRET:    return "SECRET";
	case K_SERVER_ID: return "ID";
	case K_FILE:
	case K_DIR:       return "PATH";
	case K_USER:      return "USER";
	case K_ADDR:      return "ADDRESS";
	case K_UINT:
	case K_COUNT:     return "N";
	case K_BYTES:     return "SIZE";
	case K_BOOL:      return "BOOL";
	case K_CLUSTER:   return "auto|yes|no";
	case K_ROUTES:    return "PATTERNS";
	case K_METHODS:   return "METHODS";
	case K_HEADERS:   return "JSON";
	case K_CIDRS:     return "CIDRS";
	case K_PARTNER:   return "ORIGIN";
	case K_PARTNERS:  return "PREFIX=ORIGIN,...";
	}
	return "VALUE";
}

static void
print_help(FILE *out)
{
	size_t i;

	fprintf(out,
	    "Usage: mte-relay [--setting=VALUE ...] [--check-config | --healthcheck]\n"
	    "       mte-relay --generate-relay-key FILE\n"
	    "       mte-relay --help | --version\n"
	    "\n"
	    "mte-relay %s: end-to-end protected relay between browsers and an HTTP API.\n"
	    "Each setting is an environment variable and the flag shown; a flag beats the\n"
	    "environment.  Give values as --flag=VALUE or --flag VALUE; a boolean flag\n"
	    "alone means true.  Secrets may also be read from a file (the -file flag or\n"
	    "the _FILE variable); trailing newlines are removed.  An empty value is unset.\n"
	    "\n"
	    "Settings:\n", MTE_RELAY_VERSION);
	for (i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		char left[96];

		snprintf(left, sizeof left, "--%s%s%s", s->flag,
		    s->kind == K_BOOL ? "[=" : "=", placeholder(s->kind));
		if (s->kind == K_BOOL)
			strcat(left, "]");
		fprintf(out, "  %-36s %s", left, s->name);
		if (s->attrs & A_REQUIRED)
			fputs(", required", out);
		else if (s->attrs & A_INBOUND)
			fputs(", required for the inbound role", out);
		else if (s->def != NULL)
			fprintf(out, ", default %s", s->def);
		else
			fputs(", default unset", out);
		if (s->kind == K_UINT || s->kind == K_COUNT || s->kind == K_BYTES)
			fprintf(out, ", %llu..%llu", s->min, s->max);
		fprintf(out, "\n      %s\n", s->help);
		if (s->alias_flag != NULL) {
			snprintf(left, sizeof left, "--%s=%s", s->alias_flag, placeholder(s->kind));
			fprintf(out, "  %-36s %s, same as --%s\n", left, s->alias, s->flag);
		}
		if (s->attrs & A_SECRET) {
			snprintf(left, sizeof left, "--%s-file=PATH", s->flag);
			fprintf(out, "  %-36s %s_FILE, read %s from a file (at most %d bytes)\n",
			    left, s->name, s->name, CONFIG_SECRET_FILE_MAX);
		}
	}
	fprintf(out,
	    "\nActions:\n"
	    "  %-36s validate the configuration, then exit (0, or 78 on errors)\n"
	    "  %-36s probe the relay on PORT/BIND (GET /api/mte-echo): exit 0 on 200, else 1\n"
	    "  %-36s write a new relay key to FILE (mode 0600), print its public key and id\n"
	    "  %-36s print this help and exit\n"
	    "  %-36s print the version and exit\n"
	    "\nExit status: 0 success, 78 configuration error, 1 other start-up failure.\n",
	    "--check-config", "--healthcheck", "--generate-relay-key=FILE", "--help", "--version");
}

/* ---- warnings ---- */

static void
warn_setting(const char *setting, const char *msg)
{
	LOG_EVENT(LOG_WARN, msg, LOG_S("setting", setting));
}

static void
warnings(const struct config *cfg, int server_id_default)
{
	if (cfg->client_id_secret != NULL && strlen(cfg->client_id_secret) < SECRET_WARN_LEN)
		warn_setting("CLIENT_ID_SECRET",
		    "CLIENT_ID_SECRET is shorter than 32 characters: use 32 or more random characters");
	if (cfg->client_id_secret_previous != NULL && cfg->client_id_secret != NULL) {
		if (strlen(cfg->client_id_secret_previous) < SECRET_WARN_LEN)
			warn_setting("CLIENT_ID_SECRET_PREVIOUS",
			    "CLIENT_ID_SECRET_PREVIOUS is shorter than 32 characters");
		if (strcmp(cfg->client_id_secret_previous, cfg->client_id_secret) == 0)
			warn_setting("CLIENT_ID_SECRET_PREVIOUS",
			    "CLIENT_ID_SECRET_PREVIOUS equals CLIENT_ID_SECRET and has no effect");
	}
	if (cfg->redis_url == NULL) {
		warn_setting("REDIS_URL",
		    "REDIS_URL is not set: using the embedded store, so pairing state is per "
		    "instance; set REDIS_URL when more than one instance serves the same clients");
		if (cfg->redis_ca_file != NULL)
			warn_setting("REDIS_CA_FILE", "REDIS_CA_FILE has no effect without REDIS_URL");
	} else {
		if (server_id_default)
			warn_setting("SERVER_ID",
			    "SERVER_ID is the default while REDIS_URL is set: instances sharing a Redis "
			    "must set the same SERVER_ID, and unrelated deployments different ones");
		if (cfg->redis_ca_file != NULL && strncasecmp(cfg->redis_url, "rediss://", 9) != 0)
			warn_setting("REDIS_CA_FILE",
			    "REDIS_CA_FILE has no effect: REDIS_URL does not use rediss:// (TLS)");
	}
	if (cfg->metrics_token != NULL && !cfg->metrics)
		warn_setting("METRICS_TOKEN", "METRICS_TOKEN is set but METRICS is false");
	if (cfg->upstream_ca_file != NULL && cfg->upstream != NULL &&
	    strncasecmp(cfg->upstream, "https://", 8) != 0)
		warn_setting("UPSTREAM_CA_FILE",
		    "UPSTREAM_CA_FILE has no effect: UPSTREAM does not use https://");
}

/* ---- entry points ---- */

/* REDIS_CLUSTER=yes with a database in REDIS_URL: a cluster has only
 * database 0 (with auto, the store finds out when it connects). */
static void
check_cluster_db(struct ctx *c)
{
	static struct store_redis_url u;
	char err[256];
	const struct setting *s;
	int kind;

	if (c->cfg->redis_cluster != STORE_CLUSTER_YES || c->cfg->redis_url == NULL
	    || store_redis_url_parse(c->cfg->redis_url, &u, err, sizeof err) != STORE_URL_OK)
		return;
	if (u.db != 0) {
		s = find_by_env("REDIS_URL", strlen("REDIS_URL"), &kind);
		REPORT(c, s, NULL, NULL, "a Redis Cluster has only database 0 (no SELECT)",
		    "must not name a database while REDIS_CLUSTER=yes, names %u", u.db);
	}
	crypto_wipe(&u, sizeof u);
}

/* The pool settings that depend on each other. */
static void
check_pool(struct ctx *c)
{
	const struct setting *s;
	int kind;

	if (c->cfg->max_spare_workers >= c->cfg->min_spare_workers)
		return;
	s = find_by_env("MAX_SPARE_WORKERS", strlen("MAX_SPARE_WORKERS"), &kind);
	REPORT(c, s, NULL, NULL, "the pool retires spares down to MAX_SPARE_WORKERS",
	    "must be at least MIN_SPARE_WORKERS (%u), is %u",
	    c->cfg->min_spare_workers, c->cfg->max_spare_workers);
}

/* HTTPS needs both files: one alone is a mistake, not plain HTTP. */
static void
check_tls_pair(struct ctx *c)
{
	const char *missing = c->cfg->tls_cert_file == NULL ? "TLS_CERT_FILE" : "TLS_KEY_FILE";
	const char *given = c->cfg->tls_cert_file == NULL ? "TLS_KEY_FILE" : "TLS_CERT_FILE";
	int kind;

	if ((c->cfg->tls_cert_file == NULL) == (c->cfg->tls_key_file == NULL))
		return;
	REPORT(c, find_by_env(missing, strlen(missing), &kind), NULL, NULL,
	    "HTTPS needs the certificate and its key", "is required when %s is set", given);
}

/* --help and --version print and stop, before anything else is looked at.
 * Returns 1 when one of them was given (and printed). */
static int
print_action(int argc, char **argv, FILE *out)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			print_help(out);
			return 1;
		}
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			fprintf(out, "mte-relay %s\n", MTE_RELAY_VERSION);
			return 1;
		}
	}
	return 0;
}

/* The environment layer: env[k] is what envp says about settings[k]. */
static void
read_env(char **envp, struct given *env)
{
	int i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		const char *eq = strchr(envp[i], '=');
		const struct setting *s;
		int kind;
		if (eq == NULL)
			continue;
		s = find_by_env(envp[i], (size_t)(eq - envp[i]), &kind);
		if (s != NULL)      /* like getenv(3): the first definition counts */
			given_set(&env[s - settings], kind, eq + 1, 1);
	}
}

/* The flag a (key: a + 2, klen bytes; eq: its '=' or NULL) is an action
 * rather than a setting: --check-config, or --help/--version with a value.
 * Returns 1 when it was one (taken or reported), else 0. */
static int
read_action_flag(struct ctx *c, const char *a, const char *eq, size_t klen)
{
	if ((klen == 4 && memcmp(a + 2, "help", 4) == 0) ||
	    (klen == 7 && memcmp(a + 2, "version", 7) == 0)) {
		fprintf(c->err, "config error: --%.*s takes no value\n", (int)klen, a + 2);
		c->errors++;
		return 1;
	}
	if (klen == 12 && memcmp(a + 2, "check-config", 12) == 0) {
		if (eq != NULL) {
			fputs("config error: --check-config takes no value\n", c->err);
			c->errors++;
		}
		c->cfg->check_only = 1;
		return 1;
	}
	if (klen == 11 && memcmp(a + 2, "healthcheck", 11) == 0) {
		if (eq != NULL) {
			fputs("config error: --healthcheck takes no value\n", c->err);
			c->errors++;
		}
		c->cfg->healthcheck = 1;
		return 1;
	}
	return 0;
}

/* One flag at argv[*i] (and its value, which may be argv[*i + 1]: then *i
 * moves past it) into the flag layer flg. */
static void
read_flag(struct ctx *c, int argc, char **argv, int *i, struct given *flg)
{
	const char *a = argv[*i], *eq, *val;
	const struct setting *s;
	size_t klen;
	int kind;

	if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
		fputs("config error: unexpected argument ", c->err);
		put_quoted(c->err, a, strlen(a));
		fputs(": settings are flags like --port=8080 (see --help)\n", c->err);
		c->errors++;
		return;
	}
	eq = strchr(a, '=');
	klen = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
	if (read_action_flag(c, a, eq, klen))
		return;
	s = find_by_flag(a + 2, klen, &kind);
	if (s == NULL) {
		fputs("config error: unknown flag ", c->err);
		put_quoted(c->err, a, eq != NULL ? (size_t)(eq - a) : strlen(a));
		fputs(" (see --help)\n", c->err);
		c->errors++;
		/* Its value may be a secret under a mistyped flag: skip it, unechoed. */
		if (eq == NULL && *i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
			(*i)++;
		return;
	}
	if (eq != NULL) {
		val = eq + 1;
	} else if (s->kind == K_BOOL && kind != 2) {
		val = "true";
	} else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0) {
		val = argv[++*i];
	} else {
		struct value v = { NULL, kind == 1 ? s->alias : s->name,
		    kind == 1 ? s->alias_flag : s->flag, kind == 2, NULL };
		char how[160];
		snprintf(how, sizeof how, "write %.*s=VALUE or %.*s VALUE",
		    (int)klen + 2, a, (int)klen + 2, a);
		REPORT(c, s, &v, NULL, how, "has no value");
		return;
	}
	given_set(&flg[s - settings], kind, val, 0);   /* the last flag counts */
}

/* What resolving the settings noticed, for the warnings after it. */
struct resolved {
	const struct setting *secret_flag[NSETTINGS];  /* secrets given as flags */
	size_t                secret_flags;
	int                   server_id_default;
	const struct setting *missing[NSETTINGS];      /* A_INBOUND settings not given */
	size_t                n_missing;
	bool                  refused[NSETTINGS];      /* given, but its value refused */
};

/* Whether the setting named env was given and its value refused: the role
 * checks must not then report it, or what follows from it, as missing. */
static bool
refused(const struct resolved *res, const char *env)
{
	int kind;
	const struct setting *s = find_by_env(env, strlen(env), &kind);

	return s != NULL && res->refused[s - settings];
}

/* The value of setting k: the flag layer beats the environment; a file's
 * contents replace its path; then the default.  Parsed into cfg. */
static void
resolve_setting(struct ctx *c, size_t k, const struct given *env, const struct given *flg,
    struct resolved *res)
{
	const struct setting *s = &settings[k];
	struct value v = { NULL, NULL, NULL, 0, NULL };
	int r = pick(c, s, &flg[k], 1, &v);

	/* Every local user can read a process's arguments (/proc/PID/cmdline). */
	if (r > 0 && (s->attrs & A_SECRET) && !v.from_file)
		res->secret_flag[res->secret_flags++] = s;
	if (r == 0)
		r = pick(c, s, &env[k], 0, &v);
	if (r < 0)
		return;
	if (r > 0 && v.from_file) {
		v.owned = read_secret_file(c, s, &v, v.text);
		if (v.owned == NULL)
			return;
		v.text = v.owned;
	} else if (r > 0 && strlen(v.text) > CONFIG_VALUE_MAX) {
		report_n(c, s, &v, NULL, 0, NULL, "is longer than %d bytes", CONFIG_VALUE_MAX);
		return;
	}
	if (r == 0) {
		if (s->attrs & A_REQUIRED) {
			REPORT(c, s, NULL, NULL, s->help, "is required");
			return;
		}
		if (s->attrs & A_INBOUND) {
			res->missing[res->n_missing++] = s;    /* check_roles decides */
			return;
		}
		if (s->def == NULL)
			return;
		v.text = s->def;
		if (s->kind == K_SERVER_ID)
			res->server_id_default = 1;
	}
	parse_value(c, s, &v);
	if (v.owned != NULL) {
		explicit_bzero(v.owned, strlen(v.owned));
		free(v.owned);
	}
}

static void
warn_secret_flags(const struct resolved *res)
{
	size_t k;

	for (k = 0; k < res->secret_flags; k++) {
		const struct setting *s = res->secret_flag[k];
		char msg[256];
		snprintf(msg, sizeof msg, "--%s puts a secret in the process list, where every local "
		    "user can read it: use %s or --%s-file", s->flag, s->name, s->flag);
		warn_setting(s->name, msg);
	}
}

/* The roles (PROTOCOL.md section 14): inbound when UPSTREAM is set or the
 * outbound role is off, outbound when OUTBOUND_PORT is set; what each
 * requires. */
static void
check_roles(struct ctx *c, const struct resolved *res)
{
	struct config *cfg = c->cfg;
	const struct setting *s;
	size_t k;
	int kind;

	if (refused(res, "OUTBOUND_PORT"))
		return;         /* the roles are unknown: nothing to check */
	cfg->role_inbound = cfg->upstream != NULL || refused(res, "UPSTREAM") || cfg->outbound_port == 0;
	for (k = 0; cfg->role_inbound && k < res->n_missing; k++) {
		s = res->missing[k];
		if (cfg->outbound_port == 0)
			REPORT(c, s, NULL, NULL, s->help, "is required");
		else
			REPORT(c, s, NULL, NULL, s->help, "is required when UPSTREAM is set (the inbound role)");
	}
	if (cfg->outbound_port != 0 && cfg->outbound_count == 0 &&
	    !refused(res, "OUTBOUND_RELAY") && !refused(res, "OUTBOUND_RELAYS")) {
		s = find_by_env("OUTBOUND_RELAY", strlen("OUTBOUND_RELAY"), &kind);
		REPORT(c, s, NULL, NULL, "name the partner relay (or several with OUTBOUND_RELAYS)",
		    "is required when OUTBOUND_PORT is set (the outbound role)");
	}
	if (cfg->outbound_port == 0 && cfg->outbound_count > 0) {
		s = find_by_env("OUTBOUND_PORT", strlen("OUTBOUND_PORT"), &kind);
		REPORT(c, s, NULL, NULL, "the outbound role needs a listener",
		    "is required when OUTBOUND_RELAY or OUTBOUND_RELAYS is set");
	}
	if (!cfg->role_inbound && cfg->tls_cert_file != NULL) {
		/* HTTPS is the inbound listener's; the outbound one is plain on loopback */
		s = find_by_env("TLS_CERT_FILE", strlen("TLS_CERT_FILE"), &kind);
		REPORT(c, s, NULL, NULL, "TLS_CERT_FILE and TLS_KEY_FILE serve the inbound listener (PORT)",
		    "needs the inbound role: set UPSTREAM, or unset TLS_CERT_FILE and TLS_KEY_FILE");
	}
	if (cfg->outbound_token != NULL && strlen(cfg->outbound_token) < OUTBOUND_TOKEN_MIN) {
		s = find_by_env("OUTBOUND_TOKEN", strlen("OUTBOUND_TOKEN"), &kind);
		report_n(c, s, NULL, NULL, 0, "use 32 or more random characters",
		    "must be at least %d bytes", OUTBOUND_TOKEN_MIN);
	}
}

int
config_load(struct config *cfg, int argc, char **argv, char **envp, FILE *out, FILE *err)
{
	struct given env[NSETTINGS], flg[NSETTINGS];
	struct ctx c = { cfg, err, 0 };
	struct resolved res;
	size_t k;
	int i;

	if (print_action(argc, argv, out))
		return -1;
	memset(env, 0, sizeof env);
	memset(flg, 0, sizeof flg);
	memset(&res, 0, sizeof res);
	read_env(envp, env);
	for (i = 1; i < argc; i++)
		read_flag(&c, argc, argv, &i, flg);
	for (k = 0; k < NSETTINGS; k++) {
		int before = c.errors;
		resolve_setting(&c, k, env, flg, &res);
		res.refused[k] = c.errors > before;
	}
	check_roles(&c, &res);     /* with the others: every problem at once */
	if (c.errors == 0)
		check_pool(&c);
	if (c.errors == 0)
		check_tls_pair(&c);
	if (c.errors == 0)
		check_cluster_db(&c);
	if (c.errors > 0) {
		config_free(cfg);
		return CONFIG_EXIT_USAGE;
	}
	/* A health check runs every few seconds: its output is the probe's alone. */
	if (!cfg->healthcheck) {
		warnings(cfg, res.server_id_default);
		warn_secret_flags(&res);
	}
	return 0;
}

static void
free_secret(char **p)
{
	if (*p != NULL) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void
config_free(struct config *cfg)
{
	size_t i, k;
	int check_only = cfg->check_only, healthcheck = cfg->healthcheck;

	for (k = 0; k < NSETTINGS; k++) {
		const struct setting *s = &settings[k];
		void *f = (char *)cfg + s->offset;

		switch (s->kind) {
		case K_UPSTREAM: case K_REDIS_URL: case K_SECRET: case K_SERVER_ID:
		case K_FILE: case K_DIR: case K_USER: case K_ADDR: case K_PARTNER: case K_PARTNERS:
			free_secret(f);     /* zeroing costs nothing for the others */
			break;
		case K_ORIGINS: case K_METHODS: {
			struct str_list *l = f;
			for (i = 0; i < l->count; i++)
				free(l->items[i]);
			break;
		}
		case K_ROUTES: {
			struct route_list *l = f;
			for (i = 0; i < l->count; i++)
				free(l->items[i].text);
			break;
		}
		case K_HEADERS:
			for (i = 0; i < cfg->headers_count; i++) {
				free(cfg->headers[i].name);
				free(cfg->headers[i].value);
			}
			break;
		default:
			break;
		}
	}
	for (i = 0; i < cfg->outbound_count; i++) {
		free(cfg->outbound[i].prefix);
		free(cfg->outbound[i].origin);
	}
	memset(cfg, 0, sizeof *cfg);
	cfg->check_only = check_only;
	cfg->healthcheck = healthcheck;
}
