/*
 * reply.c - the reply objects of hiredis's reader (see reply.h).  A reply
 * declaring a huge array is refused before anything is sized from it.
 */
#include "store/reply.h"
#include "crypto/wipe.h"
#include "limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
rreply_free(void *obj)
{
	struct rreply *r = obj;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->elements; i++)
		rreply_free(r->element[i]);
	free(r->element);
	if (r->str != NULL)
		crypto_wipe(r->str, r->len);     /* may hold pair keys */
	free(r);
}

static void *
rreply_link(const redisReadTask *task, struct rreply *r)
{
	if (task->parent != NULL) {
		struct rreply *parent = task->parent->obj;
		if (parent == NULL || task->idx < 0 || (size_t)task->idx >= parent->elements) {
			rreply_free(r);
			return NULL;
		}
		parent->element[task->idx] = r;
	}
	return r;
}

static void *
rr_string(const redisReadTask *task, char *str, size_t len)
{
	struct rreply *r;

	if (len > STORE_REPLY_MAX || (r = calloc(1, sizeof *r + len + 1)) == NULL)
		return NULL;
	r->type = task->type;
	r->str = (char *)(r + 1);
	memcpy(r->str, str, len);
	r->len = len;
	return rreply_link(task, r);
}

static void *
rr_array(const redisReadTask *task, int elements)
{
	struct rreply *r;
	size_t max = task->privdata ? (size_t)(uintptr_t)task->privdata : STORE_REPLY_ELEMENTS_MAX;

	/* The declared count is the peer's word: bound it before sizing. */
	if (elements < 0 || (size_t)elements > max)
		return NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	if (elements > 0 && (r->element = calloc((size_t)elements, sizeof *r->element)) == NULL) {
		free(r);
		return NULL;
	}
	r->type = REDIS_REPLY_ARRAY;
	r->elements = (size_t)elements;
	return rreply_link(task, r);
}

static void *
rr_integer(const redisReadTask *task, long long v)
{
	struct rreply *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->type = REDIS_REPLY_INTEGER;
	r->integer = v;
	return rreply_link(task, r);
}

static void *
rr_nil(const redisReadTask *task)
{
	struct rreply *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->type = REDIS_REPLY_NIL;
	return rreply_link(task, r);
}

static redisReplyObjectFunctions reply_functions = {
	rr_string, rr_array, rr_integer, rr_nil, rreply_free
};

redisReader *
rreply_reader_create(void)
{
	return redisReaderCreateWithFunctions(&reply_functions);
}

void
rreply_reader_limit(redisReader *reader, size_t elements_max)
{
	reader->privdata = (void *)(uintptr_t)elements_max;
}

int
rreply_is_status(const struct rreply *r, const char *text)
{
	return r->type == REDIS_REPLY_STATUS && r->len == strlen(text) && memcmp(r->str, text, r->len) == 0;
}

int
rreply_is_error(const struct rreply *r, const char *prefix)
{
	size_t n = strlen(prefix);

	return r->type == REDIS_REPLY_ERROR && r->len >= n && memcmp(r->str, prefix, n) == 0
	    && (r->len == n || r->str[n] == ' ');
}
