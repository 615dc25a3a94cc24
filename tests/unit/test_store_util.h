/*
 * test_store_util.h - helpers for the store tests (tests/unit/test_store*.c):
 * real redis-server processes on free ports, a tiny raw RESP client for
 * looking at what the store wrote, capturing the log, and throwaway TLS
 * certificates made with openssl.  Header-only: each test binary is one file.
 */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

/*
 * A watchdog for one test: SIGALRM ends the test process, which criterion
 * reports as a crash.  (Criterion's own .timeout leaks in its runner under
 * LeakSanitizer when tests run in parallel.)
 */
#define TEST_WATCHDOG_S 90

static inline void
watchdog(void)
{
	alarm(TEST_WATCHDOG_S);
}

static inline void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A TCP port nobody listens on right now (bind 0, read it, close). */
static inline int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static inline int
tcp_connect_local(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends one command (argv, NULL-terminated text arguments) on a fresh
 * connection, after AUTH when auth != NULL ("user pass" or "pass"), and
 * returns its reply's raw RESP bytes in out (NUL-terminated, possibly cut).
 * -1 when the server cannot be reached.
 */
#define END_MARK "$12\r\n@@mte-end@@!\r\n"

static inline int
raw_cmdv(int port, const char *auth, char *out, size_t outlen, const char *const *argv)
{
	char buf[131072];
	size_t n = 0, got = 0;
	int fd = tcp_connect_local(port), argc = 0, skip = 0;

	if (fd < 0)
		return -1;
	if (auth != NULL) {
		char a1[256], a2[256];
		if (sscanf(auth, "%255s %255s", a1, a2) == 2)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "*3\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
			    strlen(a1), a1, strlen(a2), a2);
		else
			n += (size_t)snprintf(buf + n, sizeof buf - n, "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n", strlen(a1), a1);
		skip = 1;
	}
	while (argv[argc])
		argc++;
	n += (size_t)snprintf(buf + n, sizeof buf - n, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		cr_assert(n + l + 32 < sizeof buf);
		n += (size_t)snprintf(buf + n, sizeof buf - n, "$%zu\r\n", l);
		memcpy(buf + n, argv[i], l);
		n += l;
		memcpy(buf + n, "\r\n", 2);
		n += 2;
	}
	/* A trailing ECHO of a marker tells where the command's reply ends. */
	n += (size_t)snprintf(buf + n, sizeof buf - n, "*2\r\n$4\r\nECHO\r\n$12\r\n@@mte-end@@!\r\n");
	cr_assert(write(fd, buf, n) == (ssize_t)n);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		if (poll(&p, 1, 5000) <= 0)
			break;
		r = read(fd, buf + got, sizeof buf - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
		if (got >= sizeof END_MARK - 1 && strcmp(buf + got - (sizeof END_MARK - 1), END_MARK) == 0)
			break;
	}
	close(fd);
	buf[got] = '\0';
	if (got >= sizeof END_MARK - 1 && strcmp(buf + got - (sizeof END_MARK - 1), END_MARK) == 0)
		buf[got - (sizeof END_MARK - 1)] = '\0';
	{
		char *start = buf;
		if (skip) {
			char *e = strstr(buf, "\r\n");
			start = e ? e + 2 : buf + got;
		}
		size_t l = strlen(start);
		if (l >= outlen)
			l = outlen - 1;
		memcpy(out, start, l);
		out[l] = '\0';
	}
	return 0;
}

#define RAW(port, auth, out, ...) \
	raw_cmdv((port), (auth), (out), sizeof(out), (const char *const[]){ __VA_ARGS__, NULL })

/* ---- redis-server processes ---- */

struct redis_proc {
	pid_t pid;
	int   port;         /* plain port, 0 when TLS only */
	int   tls_port;
	char  dir[64];
};

/* Starts redis-server with the extra arguments (NULL-terminated) and waits
 * until it accepts connections.  Returns 0, or -1 if it exited (port taken). */
static inline int
redis_try_start(struct redis_proc *r, int port, int tls, const char *const *extra)
{
	const char *argv[64];
	char portbuf[16], log[96];
	int argc = 0;

	snprintf(portbuf, sizeof portbuf, "%d", port);
	snprintf(log, sizeof log, "%s/redis.log", r->dir);
	unlink(log);                /* readiness is read from a fresh log */
	argv[argc++] = "redis-server";
	argv[argc++] = tls ? "--tls-port" : "--port";
	argv[argc++] = portbuf;
	if (tls) {
		argv[argc++] = "--port";
		argv[argc++] = "0";
	}
	argv[argc++] = "--bind";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = "no";
	argv[argc++] = "--dir";
	argv[argc++] = r->dir;
	argv[argc++] = "--logfile";
	argv[argc++] = log;
	for (int i = 0; extra && extra[i]; i++) {
		cr_assert(argc < 62);
		argv[argc++] = extra[i];
	}
	argv[argc] = NULL;
	r->pid = fork();
	cr_assert(r->pid >= 0);
	if (r->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		/* Dies with the test process even if the test crashes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	/* Ready when this server says so in its own log (a connect could reach
	 * another process that holds the port). */
	for (int i = 0; i < 500; i++) {
		int status;
		FILE *f = fopen(log, "r");
		if (f != NULL) {
			char line[512];
			int ready = 0;
			while (!ready && fgets(line, sizeof line, f) != NULL)
				ready = strstr(line, "Ready to accept connections") != NULL;
			fclose(f);
			if (ready)
				return 0;
		}
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	cr_assert_fail("redis-server did not start on port %d", port);
	return -1;
}

/* port: the TCP port, or 0 for a free one (retried if another process takes
 * it first); with tls set, the server listens with TLS only, on tls_port. */
static inline void
redis_start_args(struct redis_proc *r, int port, int tls, const char *const *extra)
{
	int rc = -1, used = 0;

	if (r->dir[0] == '\0') {
		snprintf(r->dir, sizeof r->dir, "/tmp/mte-redis-XXXXXX");
		cr_assert(mkdtemp(r->dir) != NULL);
	}
	for (int attempt = 0; attempt < 5 && rc != 0; attempt++) {
		used = port ? port : free_port();
		rc = redis_try_start(r, used, tls, extra);
	}
	cr_assert_eq(rc, 0, "redis-server exited at start-up (see %s/redis.log)", r->dir);
	if (tls) {
		r->tls_port = used;
		r->port = 0;
	} else {
		r->port = used;
	}
}

static inline void
redis_start(struct redis_proc *r, const char *const *extra)
{
	redis_start_args(r, 0, 0, extra);
}

static inline void
redis_kill(struct redis_proc *r, int sig)
{
	if (r->pid > 0) {
		kill(r->pid, sig);
		if (sig == SIGKILL || sig == SIGTERM) {
			waitpid(r->pid, NULL, 0);
			r->pid = 0;
		}
	}
}

/* rm -rf dir (best effort) and forget it: dir[0] = '\0'.  No-op when empty. */
static inline void
rm_tree(char *dir)
{
	char cmd[128];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
	dir[0] = '\0';
}

static inline void
redis_stop(struct redis_proc *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGCONT);
		redis_kill(r, SIGKILL);
	}
	rm_tree(r->dir);
}

/* ---- a Redis Cluster: 3 primaries (+ replicas) on free loopback ports ---- */

static inline void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CLUSTER_NODES_MAX    6
#define CLUSTER_NODE_TIMEOUT "1000"     /* ms: failover within a few seconds */

struct redis_cluster {
	int               n;                /* processes */
	struct redis_proc node[CLUSTER_NODES_MAX];
};

/* The cluster bus port of a node (given at its start, kept for a restart). */
static inline const char *
bus_port_arg(const struct redis_proc *r)
{
	static char buf[8];
	char path[96], line[512];
	FILE *f;

	/* nodes.conf: "<id> ip:port@cport,... myself,..." */
	snprintf(path, sizeof path, "%s/nodes.conf", r->dir);
	buf[0] = '\0';
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			char *at = strchr(line, '@');
			if (strstr(line, "myself") != NULL && at != NULL) {
				snprintf(buf, sizeof buf, "%d", atoi(at + 1));
				break;
			}
		}
		fclose(f);
	}
	return buf;
}

/* 1 when INFO/CLUSTER INFO on port shows want (a substring). */
static inline int
node_says(int port, const char *want, const char *a1, const char *a2)
{
	char out[8192];

	if (RAW(port, NULL, out, a1, a2) != 0)
		return 0;
	return strstr(out, want) != NULL;
}

/* Waits (bounded) until every live node reports cluster_state:ok and, with
 * replicas, until every replica is in sync.  0 or -1. */
static inline int
cluster_wait_ok(const struct redis_cluster *c)
{
	for (int tries = 0; tries < 600; tries++) {
		int ok = 1;
		for (int i = 0; i < c->n && ok; i++) {
			if (c->node[i].pid <= 0)
				continue;
			ok = node_says(c->node[i].port, "cluster_state:ok", "CLUSTER", "INFO");
			if (ok && node_says(c->node[i].port, "role:slave", "INFO", "replication"))
				ok = node_says(c->node[i].port, "master_link_status:up", "INFO", "replication");
		}
		if (ok)
			return 0;
		sleep_ms(50);
	}
	return -1;
}

/* Starts 3 primaries and replicas_per_primary (0 or 1) replicas each, made
 * into one cluster by redis-cli --cluster create; extra: more redis-server
 * arguments (NULL-terminated) or NULL. */
static inline void
cluster_start(struct redis_cluster *c, int replicas_per_primary, const char *const *extra)
{
	char cmd[1024], bus[CLUSTER_NODES_MAX][8];
	int n;

	memset(c, 0, sizeof *c);
	c->n = 3 * (1 + replicas_per_primary);
	n = snprintf(cmd, sizeof cmd, "timeout 30 redis-cli --cluster create");
	for (int i = 0; i < c->n; i++) {
		/* the bus port too: an ephemeral port + 10000 may not exist */
		const char *args[32] = { "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		                         "--cluster-node-timeout", CLUSTER_NODE_TIMEOUT, "--cluster-port", bus[i] };
		int argc = 8;
		snprintf(bus[i], sizeof bus[i], "%d", free_port());
		for (int k = 0; extra && extra[k] && argc < 31; k++)
			args[argc++] = extra[k];
		args[argc] = NULL;
		redis_start(&c->node[i], args);
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, " 127.0.0.1:%d", c->node[i].port);
	}
	snprintf(cmd + n, sizeof cmd - (size_t)n, " --cluster-replicas %d --cluster-yes >/dev/null 2>&1",
	    replicas_per_primary);
	sh("%s", cmd);
	cr_assert_eq(cluster_wait_ok(c), 0, "the cluster did not become ready");
}

/* Starts killed node i again on its port and directory (its nodes.conf):
 * it rejoins the cluster, as a replica when its slots were failed over. */
static inline void
cluster_restart_node(struct redis_cluster *c, int i)
{
	char bus[8];
	const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
	                       "--cluster-node-timeout", CLUSTER_NODE_TIMEOUT, "--cluster-port", bus, NULL };

	cr_assert(c->node[i].pid == 0);
	snprintf(bus, sizeof bus, "%s", bus_port_arg(&c->node[i]));
	cr_assert(bus[0] != '\0');
	redis_start_args(&c->node[i], c->node[i].port, 0, args);
}

/* Like cluster_start(c, 0, ...), the nodes also listening with TLS (the
 * certificates of make_tls_material in certs; tls_port of each node) with a
 * TLS cluster bus, and an ACL user "mte" with password "pw".  Made over the
 * plain ports; over TLS the nodes announce their TLS ports. */
static inline void
cluster_start_tls(struct redis_cluster *c, const char *certs)
{
	char cert[128], key[128], ca[128], tport[CLUSTER_NODES_MAX][8], bus[CLUSTER_NODES_MAX][8], cmd[1024];
	int n;

	memset(c, 0, sizeof *c);
	c->n = 3;
	/* the bus is mutual TLS: the nodes' certificate must allow clientAuth */
	sh("cd '%s' && printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth,clientAuth\\n' "
	   "> node.ext && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	   "-out node.crt -days 2 -extfile node.ext 2>/dev/null", certs);
	snprintf(cert, sizeof cert, "%s/node.crt", certs);
	snprintf(key, sizeof key, "%s/server.key", certs);
	snprintf(ca, sizeof ca, "%s/ca.crt", certs);
	n = snprintf(cmd, sizeof cmd, "timeout 30 redis-cli --cluster create");
	for (int i = 0; i < c->n; i++) {
		c->node[i].tls_port = free_port();
		snprintf(tport[i], sizeof tport[i], "%d", c->node[i].tls_port);
		snprintf(bus[i], sizeof bus[i], "%d", free_port());
		const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		    "--cluster-node-timeout", CLUSTER_NODE_TIMEOUT, "--cluster-port", bus[i], "--tls-port", tport[i],
		    "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca,
		    "--tls-cluster", "yes", "--tls-replication", "yes", "--tls-auth-clients", "no",
		    "--user", "mte", "on", ">pw", "~*", "&*", "+@all", NULL };
		int tp = c->node[i].tls_port;
		redis_start(&c->node[i], args);
		c->node[i].tls_port = tp;
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, " 127.0.0.1:%d", c->node[i].port);
	}
	snprintf(cmd + n, sizeof cmd - (size_t)n, " --cluster-yes >/dev/null 2>&1");
	sh("%s", cmd);
	cr_assert_eq(cluster_wait_ok(c), 0, "the cluster did not become ready");
}

static inline void
cluster_stop(struct redis_cluster *c)
{
	for (int i = 0; i < c->n; i++)
		redis_stop(&c->node[i]);
	c->n = 0;
}

/* The index of the primary serving key: the one live node that does not
 * answer EXISTS with a redirection (replicas redirect too). */
static inline int
cluster_primary_of(const struct redis_cluster *c, const char *key)
{
	char out[512];

	for (int i = 0; i < c->n; i++)
		if (c->node[i].pid > 0 && RAW(c->node[i].port, NULL, out, "EXISTS", key) == 0
		    && out[0] == ':')
			return i;
	return -1;
}

/* ---- log capture: the log writes JSON lines to fd 1 ---- */

struct capture {
	int  saved;
	char path[64];
};

static inline void
capture_start(struct capture *c)
{
	int fd;

	snprintf(c->path, sizeof c->path, "/tmp/mte-log-XXXXXX");
	fd = mkstemp(c->path);
	cr_assert(fd >= 0);
	fflush(stdout);
	c->saved = dup(1);
	dup2(fd, 1);
	close(fd);
}

/* Stops capturing; returns the captured text (malloc'd). */
static inline char *
capture_end(struct capture *c)
{
	FILE *f;
	char *text;
	long n;

	fflush(stdout);
	dup2(c->saved, 1);
	close(c->saved);
	f = fopen(c->path, "r");
	cr_assert(f != NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	cr_assert(text != NULL);
	if (n > 0)
		cr_assert(fread(text, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	unlink(c->path);
	return text;
}

static inline int
count_substr(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* ---- store set-up ---- */

/* The store settings of the Redis tests, for REDIS_URL url. */
static inline struct store_config
config_for(const char *url)
{
	struct store_config c = {
		.redis_url = url,
		.server_id = "test-relay",
		.state_ttl = 60,
		.replay_window = 1024,
		.max_pairs_per_client = 8,
		.store_capacity = 64,
	};
	return c;
}

/* store_init with the log captured; asserts its result is expect_rc and
 * returns the log (malloc'd). */
static inline char *
init_logged(const struct store_config *c, int expect_rc)
{
	struct capture cap;
	char *log;
	int rc;

	capture_start(&cap);
	rc = store_init(c);
	log = capture_end(&cap);
	cr_assert_eq(rc, expect_rc, "store_init returned %d: %s", rc, log);
	return log;
}

/* A listening loopback TCP socket on a free port (*port_out), for scripted
 * servers. */
static inline int
listen_local(int *port_out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	cr_assert(ls >= 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	cr_assert(bind(ls, (struct sockaddr *)&a, sizeof a) == 0);
	cr_assert(listen(ls, 16) == 0);
	cr_assert(getsockname(ls, (struct sockaddr *)&a, &len) == 0);
	*port_out = ntohs(a.sin_port);
	return ls;
}

/*
 * A scripted server in a child process on the listening socket ls: answers
 * each read (one command) with slots_reply when it holds "SLOTS" and
 * slots_reply is given, else with reply.  Counts connections in *accepts and
 * the commands answered with reply in *commands (shared memory; NULL: not
 * counted).  Returns the child's pid; closes ls in the caller.
 */
static inline pid_t
scripted_server(int ls, const char *reply, const char *slots_reply, int *accepts, int *commands)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			int fd = accept(ls, NULL, NULL);
			char buf[4096];
			ssize_t n;
			if (fd < 0)
				continue;
			if (accepts != NULL)
				__atomic_fetch_add(accepts, 1, __ATOMIC_RELAXED);
			while ((n = read(fd, buf, sizeof buf - 1)) > 0) {
				const char *r = reply;
				buf[n] = '\0';
				if (slots_reply != NULL && strstr(buf, "SLOTS") != NULL)
					r = slots_reply;
				else if (commands != NULL)
					__atomic_fetch_add(commands, 1, __ATOMIC_RELAXED);
				if (write(fd, r, strlen(r)) < 0)
					break;
			}
			close(fd);
		}
	}
	close(ls);
	return pid;
}

/* ---- pairs ---- */

static inline void
make_pair(struct store_pair *p, const char *cid, const char *pid, uint8_t fill)
{
	memset(p, 0, sizeof *p);
	snprintf(p->client_id, sizeof p->client_id, "%s", cid);
	snprintf(p->pair_id, sizeof p->pair_id, "%s", pid);
	for (int i = 0; i < STORE_KEY_LEN; i++) {
		p->k_req[i] = (uint8_t)(fill + i);
		p->k_res[i] = (uint8_t)(fill ^ 0xff) - (uint8_t)i;
	}
	/* a NUL inside the keys: binary safety */
	p->k_req[5] = 0;
	p->k_res[9] = 0;
}

static const char CID_A[] = "0123456789abcdef0123456789abcdef";
static const char CID_B[] = "fedcba9876543210fedcba9876543210";

/* ---- TLS material ---- */

static inline void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd);
	cr_assert(rc == 0, "command failed (%d): %s", rc, cmd);
}

/* In dir: ca.crt/ca.key (CA), server.crt/server.key (CN and SAN
 * DNS:localhost, signed by ca), other-ca.crt (an unrelated CA). */
static inline void
make_tls_material(const char *dir)
{
	const char *q = "2>/dev/null";

	sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout ca.key -out ca.crt -days 2 -subj /CN=mte-test-ca "
	   "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign %s", dir, q);
	sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=mte-other-ca "
	   "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign %s", dir, q);
	sh("cd '%s' && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout server.key -out server.csr -subj /CN=localhost %s", dir, q);
	sh("cd '%s' && printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n"
	   "extendedKeyUsage=serverAuth\\nkeyUsage=digitalSignature\\n' > server.ext && "
	   "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	   "-out server.crt -days 2 -extfile server.ext %s", dir, q);
}

#endif /* TEST_STORE_UTIL_H */
