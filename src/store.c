/* store.c - backend selection, argument checks, and the replay window rule
 * shared by the backends (see store.h, store_backend.h). */
#include "store.h"
#include "store_backend.h"
#include "log.h"

#include <string.h>
#include <time.h>

static const struct store_backend *backend;     /* NULL before store_init */

int64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
is_pair_id_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || c == '_' || c == '-';
}

int
store_ids_valid(const char *cid, const char *pid)
{
	size_t i, n;

	if (cid == NULL || pid == NULL)
		return 0;
	for (i = 0; i < STORE_CLIENT_ID_LEN; i++)
		if (!is_hex(cid[i]))
			return 0;
	if (cid[STORE_CLIENT_ID_LEN] != '\0')
		return 0;
	n = strnlen(pid, PAIR_ID_MAX + 1);
	if (n < PAIR_ID_MIN || n > PAIR_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_pair_id_char(pid[i]))
			return 0;
	return 1;
}

/* Clears ring bits [a, b) of bm, 0 <= a <= b <= w. */
static void
bits_clear(uint8_t *bm, uint32_t a, uint32_t b)
{
	while (a < b && (a & 7) != 0) {
		bm[a >> 3] &= (uint8_t)~(1u << (a & 7));
		a++;
	}
	if (b - a >= 8) {
		memset(bm + (a >> 3), 0, (b - a) >> 3);
		a += (b - a) & ~7u;
	}
	while (a < b) {
		bm[a >> 3] &= (uint8_t)~(1u << (a & 7));
		a++;
	}
}

int
store_window_apply(uint64_t *hi, uint8_t *bm, uint32_t w, uint64_t seq)
{
	uint32_t pos = (uint32_t)(seq % w), bit = 1u << (pos & 7);

	if (seq == 0)
		return 0;
	if (seq > *hi) {
		uint64_t d = seq - *hi;
		if (d >= w) {
			memset(bm, 0, store_window_bytes(w));
		} else if (d > 1) {
			/* Forget the seqs leaving the window: the ring positions of
			 * hi+1 .. seq-1 (d-1 < w of them, possibly wrapping). */
			uint32_t start = (uint32_t)((*hi + 1) % w), n = (uint32_t)d - 1;
			if (start + n <= w) {
				bits_clear(bm, start, start + n);
			} else {
				bits_clear(bm, start, w);
				bits_clear(bm, 0, start + n - w);
			}
		}
		bm[pos >> 3] |= (uint8_t)bit;
		*hi = seq;
		return 1;
	}
	if (*hi - seq >= w || (bm[pos >> 3] & bit) != 0)
		return 0;
	bm[pos >> 3] |= (uint8_t)bit;
	return 1;
}

static int
settings_from_config(const struct store_config *cfg, struct store_settings *s)
{
	const char *sid = cfg->server_id;
	size_t i, n;

	memset(s, 0, sizeof *s);
	n = sid ? strnlen(sid, STORE_SERVER_ID_MAX + 1) : 0;
	if (n == 0 || n > STORE_SERVER_ID_MAX) {
		log_msg(LOG_ERROR, "config error: SERVER_ID must be 1..%d bytes", STORE_SERVER_ID_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)sid[i];
		/* No braces: they would change the Redis Cluster hash tag. */
		if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}') {
			log_msg(LOG_ERROR, "config error: SERVER_ID must be printable ASCII without spaces or braces");
			return -1;
		}
	}
	memcpy(s->server_id, sid, n);
	if (cfg->state_ttl == 0) {
		log_msg(LOG_ERROR, "config error: STATE_TTL must be at least 1 second");
		return -1;
	}
	if (cfg->replay_window == 0 || cfg->replay_window > REPLAY_WINDOW_MAX) {
		log_msg(LOG_ERROR, "config error: REPLAY_WINDOW must be 1..%d", REPLAY_WINDOW_MAX);
		return -1;
	}
	if (cfg->max_pairs_per_client == 0) {
		log_msg(LOG_ERROR, "config error: MAX_PAIRS_PER_CLIENT must be at least 1");
		return -1;
	}
	s->ttl_ms = (uint64_t)cfg->state_ttl * 1000;
	s->window = cfg->replay_window;
	s->max_pairs_per_client = cfg->max_pairs_per_client;
	if (cfg->redis_url == NULL || cfg->redis_url[0] == '\0') {
		/* Slot indexes are uint32_t with UINT32_MAX as "none". */
		if (cfg->store_capacity == 0 || cfg->store_capacity >= UINT32_MAX / 2) {
			log_msg(LOG_ERROR, "config error: STORE_CAPACITY must be 1..%u", UINT32_MAX / 2 - 1);
			return -1;
		}
		s->capacity = (uint32_t)cfg->store_capacity;
	}
	return 0;
}

int
store_init(const struct store_config *cfg)
{
	struct store_settings s;
	const struct store_backend *b;
	int rc;

	if (backend != NULL) {
		backend->fini();
		backend = NULL;
	}
	if (cfg == NULL || settings_from_config(cfg, &s) != 0)
		return STORE_INIT_BAD_CONFIG;
	b = (cfg->redis_url && cfg->redis_url[0]) ? &store_backend_redis : &store_backend_shm;
	rc = b->init(&s, cfg);
	if (rc == STORE_INIT_OK)
		backend = b;
	return rc;
}

int
store_worker_init(void)
{
	if (backend != NULL)
		backend->worker_init();
	return 0;
}

void
store_worker_close(void)
{
	if (backend != NULL)
		backend->worker_close();
}

const char *
store_backend_name(void)
{
	return backend ? backend->name : "none";
}

enum store_status
store_pair_put(const struct store_pair *p)
{
	if (backend == NULL)
		return STORE_UNAVAILABLE;
	if (p == NULL || !store_ids_valid(p->client_id, p->pair_id))
		return STORE_NOT_FOUND;
	return backend->put(p);
}

enum store_status
store_pair_get(const char *client_id, const char *pair_id, struct store_pair *out)
{
	if (backend == NULL)
		return STORE_UNAVAILABLE;
	if (!store_ids_valid(client_id, pair_id))
		return STORE_NOT_FOUND;
	return backend->get(client_id, pair_id, out);
}

enum store_status
store_window_accept(const char *client_id, const char *pair_id, uint64_t seq)
{
	if (backend == NULL)
		return STORE_UNAVAILABLE;
	if (!store_ids_valid(client_id, pair_id))
		return STORE_NOT_FOUND;
	/* seq 0 is never valid; the backends check it again. */
	if (seq == 0)
		return STORE_REPLAY;
	return backend->accept(client_id, pair_id, seq);
}

enum store_status
store_pair_delete(const char *client_id, const char *pair_id)
{
	if (backend == NULL)
		return STORE_UNAVAILABLE;
	if (!store_ids_valid(client_id, pair_id))
		return STORE_NOT_FOUND;
	return backend->del(client_id, pair_id);
}

enum store_status
store_health(void)
{
	return backend ? backend->health() : STORE_UNAVAILABLE;
}
