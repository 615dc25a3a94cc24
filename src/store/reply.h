/*
 * reply.h - internal to src/store/: Redis reply objects built by hiredis's
 * reader (redis.c, cluster.c).  Every array a reply declares is bounded
 * before anything is sized from it: by STORE_REPLY_ELEMENTS_MAX, or by the
 * limit given to rreply_reader_limit() (slot map replies).
 */
#ifndef MTE_STORE_REPLY_H
#define MTE_STORE_REPLY_H

#include <stddef.h>
#include <hiredis/hiredis.h>

struct rreply {
	int             type;           /* REDIS_REPLY_* */
	long long       integer;
	size_t          len;            /* string, status, error */
	char           *str;
	size_t          elements;
	struct rreply **element;
};

/* A reader that builds struct rreply objects, arrays bounded by
 * STORE_REPLY_ELEMENTS_MAX.  NULL when out of memory. */
redisReader *rreply_reader_create(void);

/* Sets the largest array the reader accepts from now on (0: the default,
 * STORE_REPLY_ELEMENTS_MAX). */
void rreply_reader_limit(redisReader *reader, size_t elements_max);

/* Frees a reply (wiping its strings: they may hold pair keys); NULL is ok. */
void rreply_free(void *obj);

/* 1 when r is the status text. */
int rreply_is_status(const struct rreply *r, const char *text);

/* 1 when r is an error reply whose text starts with the word prefix. */
int rreply_is_error(const struct rreply *r, const char *prefix);

#endif /* MTE_STORE_REPLY_H */
