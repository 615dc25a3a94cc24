/* ratelimit.c - the pairing budgets (see ratelimit.h). */
#include "ratelimit.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "store/store.h"

/* The instance window: its number (clock seconds / window) in the high 32
 * bits, the entries taken in it in the low 32; one CAS updates both, so no
 * lock and no worker can die holding one. */
static _Atomic uint64_t *instance_window;

int
ratelimit_init(void)
{
	void *p;

	if (instance_window != NULL)
		munmap((void *)instance_window, sizeof *instance_window);
	instance_window = NULL;
	p = mmap(NULL, sizeof *instance_window, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		LOG_EVENT(LOG_ERROR, "pairing limits: cannot map shared memory");
		return -1;
	}
	instance_window = p;    /* zero-filled: window 0, nothing taken */
	return 0;
}

/* 1 when n more entries fit this instance's window (then they are taken). */
static int
instance_take(unsigned limit, unsigned n)
{
	uint64_t now_window = (uint64_t)(clock_ms() / (PAIR_RATE_INSTANCE_WINDOW_S * 1000)) & 0xffffffffu;
	uint64_t old, next, taken;

	if (instance_window == NULL)
		return 1;
	old = atomic_load(instance_window);
	do {
		taken = (old >> 32) == now_window ? (old & 0xffffffffu) : 0;
		if (taken + n > limit)
			return 0;
		next = now_window << 32 | (taken + n);
	} while (!atomic_compare_exchange_weak(instance_window, &old, next));
	return 1;
}

/* One store budget: RATELIMIT_OK, _REFUSED (retry set) or _UNAVAILABLE. */
static enum ratelimit_result
store_take(const char *bucket, unsigned limit, unsigned window_s, unsigned n,
    unsigned *retry_after_s)
{
	switch (store_rate_take(bucket, n, limit, window_s, retry_after_s)) {
	case STORE_OK:      return RATELIMIT_OK;
	case STORE_LIMITED: return RATELIMIT_REFUSED;
	default:            return RATELIMIT_UNAVAILABLE;
	}
}

enum ratelimit_result
ratelimit_pairing(const struct ratelimit_config *cfg, const char *addr_key,
    const char *client_id, unsigned n, enum pair_budget *budget,
    unsigned *retry_after_s)
{
	char bucket[STORE_RATE_BUCKET_MAX + 1];
	enum ratelimit_result r = RATELIMIT_OK;

	/* Address and client first: a request they refuse costs a store
	 * command, no CPU, so it must not spend the instance's budget, which
	 * stands for the encapsulations this instance can afford. */
	if (cfg->per_address > 0) {
		snprintf(bucket, sizeof bucket, "a:%s", addr_key);
		*budget = PAIR_BUDGET_ADDRESS;
		r = store_take(bucket, cfg->per_address, PAIR_RATE_ADDRESS_WINDOW_S, n, retry_after_s);
	}
	if (r == RATELIMIT_OK && cfg->per_client > 0) {
		snprintf(bucket, sizeof bucket, "c:%s", client_id);
		*budget = PAIR_BUDGET_CLIENT;
		r = store_take(bucket, cfg->per_client, PAIR_RATE_CLIENT_WINDOW_S, n, retry_after_s);
	}
	if (r == RATELIMIT_OK && cfg->per_instance > 0 && !instance_take(cfg->per_instance, n)) {
		*budget = PAIR_BUDGET_INSTANCE;
		*retry_after_s = PAIR_RATE_INSTANCE_WINDOW_S;
		r = RATELIMIT_REFUSED;
	}
	if (r == RATELIMIT_REFUSED)
		metrics_count_pairing_refused(*budget);
	return r;
}
