/* test_prefork.c - the elastic pool's decisions (prefork_plan,
 * prefork_floor): growth only on a shortage, a batch that doubles up to
 * PREFORK_SPAWN_BATCH_MAX and never past MAX_POOL_SIZE, retirement only of
 * long-idle workers above MAX_SPARE_WORKERS, and the pressure floor's rise
 * to CONN_PRESSURE_RATE_MAX_BPS.  The processes themselves are tested by
 * tests/node/pool*.test.mjs. */
#include <criterion/criterion.h>

#include "limits.h"
#include "prefork.h"

static const struct prefork_config pc = { .max_workers = 256, .min_spare = 4, .max_spare = 16 };

static struct prefork_plan
plan(struct prefork_view v)
{
	struct prefork_plan p;
	prefork_plan(&pc, &v, &p);
	return p;
}

Test(prefork, no_shortage_no_growth)
{
	struct prefork_plan p = plan((struct prefork_view){ .live = 8, .idle = 4, .batch = 8 });
	cr_assert_eq(p.spawn, 0);
	cr_assert_eq(p.retire, 0);
	cr_assert_eq(p.next_batch, 1, "the batch starts over");
	/* starting workers count as spares */
	p = plan((struct prefork_view){ .live = 8, .idle = 1, .starting = 3, .batch = 1 });
	cr_assert_eq(p.spawn, 0);
}

Test(prefork, a_shortage_grows_by_a_doubling_batch)
{
	/* 200 connections arrive at 4 idle workers; each new worker takes one
	 * from the queue, and MIN_SPARE_WORKERS more are kept idle after. */
	unsigned live = 4, queue = 196, idle = 0, batch = 1, ticks = 0, spawned[16];

	for (;;) {
		struct prefork_plan p = plan((struct prefork_view){ .live = live, .idle = idle,
		    .queue = queue, .batch = batch });
		cr_assert_leq(p.spawn, batch);
		if (p.spawn == 0)
			break;
		cr_assert_lt(ticks, 16);
		spawned[ticks++] = p.spawn;
		live += p.spawn;
		unsigned took = p.spawn < queue ? p.spawn : queue;
		queue -= took;
		idle += p.spawn - took;
		batch = p.next_batch;
	}
	cr_assert_eq(live, 4 + 196 + 4);
	/* 1, 2, 4, ... 64, then the rest: within a second of 100 ms ticks */
	cr_assert_eq(spawned[0], 1);
	cr_assert_eq(spawned[1], 2);
	cr_assert_eq(spawned[6], 64);
	cr_assert_leq(ticks, 1000 / PREFORK_TICK_MS);
}

Test(prefork, the_batch_stops_at_its_limit)
{
	/* PREFORK_SPAWN_BATCH_MAX + 1 asked: the limit spawned */
	struct prefork_plan p = plan((struct prefork_view){ .live = 4, .queue = 1000,
	    .batch = PREFORK_SPAWN_BATCH_MAX + 1 });
	cr_assert_eq(p.spawn, PREFORK_SPAWN_BATCH_MAX);
	cr_assert_eq(p.next_batch, PREFORK_SPAWN_BATCH_MAX);
}

Test(prefork, never_past_max_pool_size)
{
	struct prefork_plan p = plan((struct prefork_view){ .live = 250, .queue = 100, .batch = 64 });
	cr_assert_eq(p.spawn, 6);
	p = plan((struct prefork_view){ .live = 256, .queue = 100, .batch = 64 });
	cr_assert_eq(p.spawn, 0);
	cr_assert_eq(p.next_batch, 1, "no room: the batch does not keep doubling");
	/* a ceiling of 2 and MIN_SPARE_WORKERS 4: the pool stays at 2 */
	struct prefork_config small = { .max_workers = 2, .min_spare = 4, .max_spare = 16 };
	struct prefork_view v = { .live = 2, .batch = 1 };
	prefork_plan(&small, &v, &p);
	cr_assert_eq(p.spawn, 0);
}

Test(prefork, retires_only_long_idle_workers_above_max_spare)
{
	/* 40 idle, 30 of them long: 24 over MAX_SPARE_WORKERS, all long enough */
	struct prefork_plan p = plan((struct prefork_view){ .live = 40, .idle = 40, .idle_long = 30, .batch = 1 });
	cr_assert_eq(p.retire, 24);
	p = plan((struct prefork_view){ .live = 40, .idle = 40, .idle_long = 10, .batch = 1 });
	cr_assert_eq(p.retire, 10);
	/* MAX_SPARE_WORKERS + 1 idle: one goes; exactly MAX_SPARE_WORKERS: none */
	p = plan((struct prefork_view){ .live = 17, .idle = 17, .idle_long = 17, .batch = 1 });
	cr_assert_eq(p.retire, 1);
	p = plan((struct prefork_view){ .live = 16, .idle = 16, .idle_long = 16, .batch = 1 });
	cr_assert_eq(p.retire, 0);
	/* connections waiting: nothing is retired */
	p = plan((struct prefork_view){ .live = 40, .idle = 40, .idle_long = 40, .queue = 1, .batch = 1 });
	cr_assert_eq(p.retire, 0);
}

Test(prefork, the_pressure_floor_rises_while_pressure_lasts)
{
	long long since = 0, t = 1000;
	unsigned f = prefork_floor(0, 0, t, &since);
	unsigned steps = 0;

	cr_assert_eq(f, 0, "no pressure, no floor");
	f = prefork_floor(f, 1, t, &since);
	cr_assert_eq(f, 2 * CONN_MIN_RATE_BPS);
	cr_assert_eq(prefork_floor(f, 1, t + PREFORK_PRESSURE_STEP_MS - 1, &since), f);
	while (f < CONN_PRESSURE_RATE_MAX_BPS && steps < 64) {
		t += PREFORK_PRESSURE_STEP_MS;
		unsigned g = prefork_floor(f, 1, t, &since);
		cr_assert_eq(g, f * 2);
		f = g;
		steps++;
	}
	cr_assert_eq(f, CONN_PRESSURE_RATE_MAX_BPS);
	/* the step past the cap stays at the cap */
	cr_assert_eq(prefork_floor(f, 1, t + PREFORK_PRESSURE_STEP_MS, &since), CONN_PRESSURE_RATE_MAX_BPS);
	cr_assert_eq(prefork_floor(f, 0, t, &since), 0, "pressure over: the floor is gone");
}
