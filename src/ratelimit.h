/*
 * ratelimit.h - the pairing budgets (PROTOCOL.md, "Pairing limits"): per
 * client address and per client id (counters in the store, shared by every
 * instance), and per instance (this relay's workers, a counter in shared
 * memory).  Checked in that order, before any X-Wing work.
 */
#ifndef MTE_RATELIMIT_H
#define MTE_RATELIMIT_H


/* The budgets (their metrics labels: instance, address, client). */
enum pair_budget { PAIR_BUDGET_INSTANCE = 0, PAIR_BUDGET_ADDRESS, PAIR_BUDGET_CLIENT,
                   PAIR_BUDGETS };

/* The budgets' sizes: entries per window; 0 turns a budget off. */
struct ratelimit_config {
	unsigned per_instance;          /* PAIR_RATE_PER_INSTANCE, per PAIR_RATE_INSTANCE_WINDOW_S */
	unsigned per_address;           /* PAIR_RATE_PER_ADDRESS, per PAIR_RATE_ADDRESS_WINDOW_S */
	unsigned per_client;            /* PAIR_RATE_PER_CLIENT, per PAIR_RATE_CLIENT_WINDOW_S */
};

/* Maps the instance counter.  Once in the parent, before fork (again:
 * replaces it, for tests).  0, or -1 (logged) when the mapping failed:
 * the relay does not start then. */
int ratelimit_init(void);

/* "instance", "address" or "client": the label of metrics and 429 bodies
 * (inline: metrics.c names budgets without linking the store). */
static inline const char *
ratelimit_budget_name(enum pair_budget b)
{
	static const char *const name[PAIR_BUDGETS] = { "instance", "address", "client" };

	return (unsigned)b < PAIR_BUDGETS ? name[b] : "?";
}

enum ratelimit_result {
	RATELIMIT_OK = 0,               /* every budget had room: the entries are taken */
	RATELIMIT_REFUSED,              /* *budget refused; *retry_after_s >= 1 */
	RATELIMIT_UNAVAILABLE           /* the store did not answer */
};

/*
 * Takes n entries (1..PAIR_ENTRIES_MAX) of a pairing from the budget of
 * addr_key (client_addr_key), then the one of client_id (32 hex
 * characters), then the instance budget.  The budget that refuses takes nothing;
 * those before it keep their charge.  Counts each refusal in the metrics.
 */
enum ratelimit_result ratelimit_pairing(const struct ratelimit_config *cfg,
                                        const char *addr_key, const char *client_id,
                                        unsigned n, enum pair_budget *budget,
                                        unsigned *retry_after_s);

#endif /* MTE_RATELIMIT_H */
