/* test_rand.c - rand_bytes: fills buffers, differs between calls, aborts on failure. */
#include <criterion/criterion.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "crypto/rand.h"

Test(rand, fills_whole_buffer)
{
	/* A 1 MiB draw that left any 64-byte block all zero would be a bug
	 * (probability of a real all-zero block: 2^-512). */
	static uint8_t buf[1 << 20];
	static const uint8_t zero[64];

	memset(buf, 0, sizeof buf);
	rand_bytes(buf, sizeof buf);
	for (size_t i = 0; i < sizeof buf; i += 64)
		cr_assert(memcmp(buf + i, zero, 64) != 0, "block at %zu left zero", i);
}

Test(rand, successive_draws_differ)
{
	uint8_t a[32], b[32];

	rand_bytes(a, sizeof a);
	rand_bytes(b, sizeof b);
	cr_assert(memcmp(a, b, sizeof a) != 0);
}

Test(rand, zero_length_touches_nothing)
{
	uint8_t canary[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	rand_bytes(canary, 0);
	rand_bytes(NULL, 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(canary[i], i + 1);
}

/* Makes getrandom(2) fail with err for the rest of this (forked) test process. */
static void
break_getrandom(int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

Test(rand, eio_is_fatal, .signal = SIGABRT)
{
	uint8_t buf[16];

	break_getrandom(EIO);
	rand_bytes(buf, sizeof buf);
	cr_assert_fail("rand_bytes returned after getrandom failed");
}

Test(rand, enosys_is_fatal, .signal = SIGABRT)
{
	uint8_t buf[16];

	break_getrandom(ENOSYS);
	rand_bytes(buf, sizeof buf);
	cr_assert_fail("rand_bytes returned after getrandom failed");
}
