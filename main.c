/* main.c - mte-relay start-up: configuration, listener, store, workers. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

extern char **environ;

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
		 * answers it itself (outbound.c) */
		rc = cfg.role_inbound ? healthcheck_run(cfg.bind_addr, cfg.port, stderr) :
		    healthcheck_run(cfg.outbound_bind, cfg.outbound_port, stderr);
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
	if (fd >= 0)
		log_msg(LOG_INFO, "Server listening at http://0.0.0.0:%u", port);
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
	rc = prefork_run(fd, &pc, server_worker_main, &cfg);
	config_free(&cfg);
	return rc;
}
