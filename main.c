/* main.c - mte-relay start-up: configuration, listener, store, workers. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "healthcheck.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "prefork.h"
#include "relaykey.h"
#include "server.h"
#include "store/store.h"
#include "tls.h"

extern char **environ;

/* HTTPS: the files' paths and the credentials the workers serve now. */
static const struct config *tls_cfg;
static struct tls_creds *tls_now;

static void
log_tls(const char *msg, const struct tls_creds *cr)
{
	char kind[64], serial[64], not_after[64];
	size_t chain;

	tls_creds_describe(cr, kind, serial, not_after, &chain);
	LOG_EVENT(LOG_INFO, msg, LOG_S("key", kind), LOG_S("serial", serial),
	    LOG_S("not_after", not_after), LOG_I("chain", chain));
}

/* At start: both files or neither (config.c checked); a bad one is a
 * configuration error naming its setting.  0 or CONFIG_EXIT_USAGE. */
static int
tls_start(const struct config *cfg)
{
	const char *var;
	char err[512];

	tls_cfg = cfg;
	if (cfg->tls_cert_file == NULL)
		return 0;
	tls_now = tls_creds_load(cfg->tls_cert_file, cfg->tls_key_file, time(NULL), &var,
	    err, sizeof err);
	if (tls_now == NULL) {
		fprintf(stderr, "config error: %s is not usable (flag --%s): %s\n", var,
		    strcmp(var, "TLS_KEY_FILE") == 0 ? "tls-key-file" : "tls-cert-file", err);
		return CONFIG_EXIT_USAGE;
	}
	server_set_tls(tls_now);
	return 0;
}

/* SIGHUP in the parent: reads both files again.  Valid: the workers are
 * renewed with them (1).  Invalid: logged, the old ones stay (0). */
static int
tls_reload(void)
{
	struct tls_creds *cr;
	const char *var;
	char err[512];

	if (tls_cfg->tls_cert_file == NULL) {
		LOG_EVENT(LOG_INFO, "SIGHUP: nothing to reload (TLS_CERT_FILE is not set)");
		return 0;
	}
	cr = tls_creds_load(tls_cfg->tls_cert_file, tls_cfg->tls_key_file, time(NULL), &var,
	    err, sizeof err);
	if (cr == NULL) {
		LOG_EVENT(LOG_ERROR, "TLS reload failed: still serving the previous certificate",
		    LOG_S("setting", var), LOG_S("reason", err));
		return 0;
	}
	server_set_tls(cr);
	tls_creds_free(tls_now);
	tls_now = cr;
	log_tls("TLS certificate reloaded", cr);
	return 1;
}

/* Switches to RUN_AS after the listener is bound (a low port may need root). */
static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_msg(LOG_ERROR, "RUN_AS user %s does not exist", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_msg(LOG_ERROR, "cannot switch to RUN_AS user %s: %s", user, strerror(errno));
		return -1;
	}
	/* Make sure there is no way back. */
	if (setuid(0) == 0) {
		log_msg(LOG_ERROR, "privileges could not be dropped");
		return -1;
	}
	LOG_EVENT(LOG_INFO, "privileges dropped", LOG_S("user", user));
	return 0;
}

/* mte-relay --generate-relay-key FILE (or =FILE): PROTOCOL.md section 12. */
static int
generate_relay_key(int argc, char **argv)
{
	const char *path = argv[1][20] == '=' ? argv[1] + 21 : argc == 3 && argv[1][20] == '\0' ?
	    argv[2] : NULL;
	char err[512];

	if (path == NULL || path[0] == '\0' || (argv[1][20] == '=' && argc != 2)) {
		fputs("usage: mte-relay --generate-relay-key FILE\n", stderr);
		return CONFIG_EXIT_USAGE;
	}
	if (relay_key_generate(path, stdout, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	struct store_config scfg;
	struct prefork_config pc;
	char err[256];
	unsigned port = 0, oport = 0;
	int rc, fd, ofd;

	log_init(0);
	memset(&scfg, 0, sizeof scfg);
	if (argc >= 2 && strncmp(argv[1], "--generate-relay-key", 20) == 0)
		return generate_relay_key(argc, argv);
	rc = config_load(&cfg, argc, argv, environ, stdout, stderr);
	if (rc < 0)
		return 0;          /* --help, --version */
	if (rc != 0)
		return rc;         /* every problem was printed; 78 */
	if (cfg.healthcheck) {
		/* outbound only: GET /api/mte-echo on the outbound listener, which
		 * answers it itself (outbound.c), in plain HTTP (TLS is the inbound
		 * listener's) */
		rc = cfg.role_inbound ?
		    healthcheck_run(cfg.bind_addr, cfg.port, cfg.tls_cert_file != NULL, stderr) :
		    healthcheck_run(cfg.outbound_bind, cfg.outbound_port, 0, stderr);
		config_free(&cfg);
		return rc;
	}
	log_init(cfg.debug);
	/* Loaded here, before the fork: workers inherit the keys. */
	if (relay_key_load(cfg.relay_key_file, cfg.relay_key_file_previous, err, sizeof err) != 0) {
		fprintf(stderr, "config error: %s\n", err);
		config_free(&cfg);
		return CONFIG_EXIT_USAGE;
	}
	/* Before the fork and before RUN_AS: the key may be readable by root only. */
	if ((rc = tls_start(&cfg)) != 0) {
		config_free(&cfg);
		return rc;
	}
	if (cfg.check_only) {
		printf("configuration ok\n");
		/* which roles are on and what each listens on (PROTOCOL.md section 14) */
		if (cfg.role_inbound)
			printf("inbound role: on (PORT %u, UPSTREAM %s)\n", cfg.port, cfg.upstream);
		else
			printf("inbound role: off (UPSTREAM not set; CORS_ORIGINS and CLIENT_ID_SECRET not needed)\n");
		if (cfg.outbound_port != 0) {
			printf("outbound role: on (OUTBOUND_BIND %s, OUTBOUND_PORT %u, %zu partner%s, "
			    "OUTBOUND_TOKEN %s)\n", cfg.outbound_bind, cfg.outbound_port,
			    cfg.outbound_count, cfg.outbound_count == 1 ? "" : "s",
			    cfg.outbound_token != NULL ? "required" : "not required");
			for (size_t i = 0; i < cfg.outbound_count; i++)
				printf("  %s -> %s\n", cfg.outbound[i].prefix, cfg.outbound[i].origin);
		} else {
			printf("outbound role: off (OUTBOUND_PORT not set)\n");
		}
		if (tls_now != NULL) {
			char kind[64], serial[64], not_after[64];
			size_t chain;
			tls_creds_describe(tls_now, kind, serial, not_after, &chain);
			printf("tls: on (%s key, certificate serial %s, expires %s, chain of %zu)\n",
			    kind, serial, not_after, chain);
		} else {
			printf("tls: off (plain HTTP; set TLS_CERT_FILE and TLS_KEY_FILE for HTTPS)\n");
		}
		tls_creds_free(tls_now);
		config_free(&cfg);
		return 0;
	}

	fd = ofd = -1;
	if (cfg.role_inbound) {
		fd = prefork_listen(cfg.bind_addr, cfg.port, &port, err, sizeof err);
		if (fd < 0) {
			LOG_EVENT(LOG_ERROR, "cannot start", LOG_S("reason", err));
			return 1;
		}
	}
	if (cfg.outbound_port != 0) {
		ofd = prefork_listen(cfg.outbound_bind, cfg.outbound_port, &oport, err, sizeof err);
		if (ofd < 0) {
			LOG_EVENT(LOG_ERROR, "cannot start", LOG_S("reason", err),
			    LOG_S("setting", "OUTBOUND_PORT"));
			return 1;
		}
	}
	scfg.redis_url = cfg.redis_url;
	scfg.redis_ca_file = cfg.redis_ca_file;
	scfg.redis_cluster = cfg.redis_cluster;
	scfg.redis_wait_replicas = cfg.redis_wait_replicas;
	scfg.server_id = cfg.server_id;
	scfg.state_ttl = cfg.state_ttl;
	scfg.fresh_pair_ttl = cfg.fresh_pair_ttl;
	scfg.replay_window = cfg.replay_window;
	scfg.max_pairs_per_client = cfg.max_pairs_per_client;
	scfg.store_capacity = cfg.store_capacity;
	/* The embedded store maps its shared memory here, before the fork. */
	rc = store_init(&scfg);
	if (rc == STORE_INIT_BAD_CONFIG)
		return CONFIG_EXIT_USAGE;
	if (rc != STORE_INIT_OK)
		return 1;
	if (metrics_init() != 0) {
		log_msg(LOG_ERROR, "cannot map the shared metrics counters");
		return 1;
	}
	if (ratelimit_init() != 0)
		return 1;
	if (drop_privileges(cfg.run_as) != 0)
		return 1;
	log_msg(LOG_INFO, "MTE instantiated successfully.");
	if (fd >= 0 && tls_now != NULL)
		log_tls("TLS on", tls_now);
	if (fd >= 0)
		log_msg(LOG_INFO, "Server listening at %s://0.0.0.0:%u",
		    tls_now != NULL ? "https" : "http", port);
	if (ofd >= 0)
		LOG_EVENT(LOG_INFO, "outbound listener", LOG_S("bind", cfg.outbound_bind),
		    LOG_I("port", oport), LOG_I("partners", cfg.outbound_count));
	/* outbound only: the outbound listener is the pool's one listener */
	if (fd < 0) {
		fd = ofd;
		ofd = -1;
	}
	prefork_set_second_listener(ofd);
	pc.max_workers = cfg.workers;
	pc.min_spare = cfg.min_spare_workers;
	pc.max_spare = cfg.max_spare_workers;
	pc.drain_timeout_s = cfg.drain_timeout;
	pc.reload = tls_reload;
	rc = prefork_run(fd, &pc, server_worker_main, &cfg);
	tls_creds_free(tls_now);
	config_free(&cfg);
	return rc;
}
