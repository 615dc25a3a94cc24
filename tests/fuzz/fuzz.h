/* fuzz.h - what every fuzz target shares: CHECK(cond) aborts (a "crash"
 * for libFuzzer) with the broken invariant's text when cond is false. */
#ifndef MTE_FUZZ_H
#define MTE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

#endif
