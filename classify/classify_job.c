/*
 * classify_job.c - a produce in flight, from the consumed message to its
 * delivery report, and the headers that explain a dead letter.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifyd.h"

/* A copy of p[0..n); an empty buffer is still a valid pointer. */
static void *
memdup(const void *p, size_t n)
{
	void *d = malloc(n ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

struct cls_job *
cls_job_new(int32_t partition, int64_t offset, const void *key,
    size_t keylen, const void *raw, size_t rawlen, const char *why)
{
	struct cls_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->kind = CLS_JOB_DLQ;
	j->partition = partition;
	j->offset = offset;
	if (key != NULL) {
		if ((j->key = memdup(key, keylen)) == NULL)
			goto fail;
		j->keylen = keylen;
	}
	if ((j->raw = memdup(raw, rawlen)) == NULL)
		goto fail;
	j->rawlen = rawlen;
	if ((j->error = strdup(why != NULL ? why : "unknown")) == NULL)
		goto fail;
	return j;
fail:
	cls_job_free(&j);
	return NULL;
}

void
cls_job_set_tagged(struct cls_job *j, struct cls_tagged *t)
{
	free(j->tagged);
	free(j->topic);
	free(j->id);
	free(j->error);
	j->error = NULL;
	j->tagged = t->json;
	j->taggedlen = t->len;
	j->topic = t->topic;
	j->id = t->id;
	j->kind = CLS_JOB_TAGGED;
	memset(t, 0, sizeof(*t));
}

int
cls_job_to_dlq(struct cls_job *j, const char *why, const char *code)
{
	char *e;

	if ((e = strdup(why)) == NULL)
		return -1;
	free(j->error);
	free(j->tagged);
	free(j->topic);
	j->error = e;
	j->tagged = NULL;
	j->taggedlen = 0;
	j->topic = NULL;
	j->kind = CLS_JOB_DLQ;
	j->reason = code;
	j->attempts = 0;
	return 0;
}

void
cls_job_free(struct cls_job **pj)
{
	struct cls_job *j;

	if (pj == NULL || (j = *pj) == NULL)
		return;
	free(j->key);
	free(j->raw);
	free(j->tagged);
	free(j->topic);
	free(j->error);
	free(j->id);
	free(j);
	*pj = NULL;
}

const void *
cls_job_payload(const struct cls_job *j, size_t *len)
{
	if (j->kind == CLS_JOB_TAGGED) {
		*len = j->taggedlen;
		return j->tagged;
	}
	*len = j->rawlen;
	return j->raw;
}

rd_kafka_headers_t *
cls_dlq_headers(const struct cls_job *j, const char *src_topic)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(5);
	char part[16], off[24];
	const char *why = j->error != NULL ? j->error : "unknown";

	if (h == NULL)
		return NULL;
	snprintf(part, sizeof(part), "%" PRId32, j->partition);
	snprintf(off, sizeof(off), "%" PRId64, j->offset);
	/* A size of -1: the value is a NUL-terminated string. */
	if (rd_kafka_header_add(h, "yalu-error", -1, why, -1) ||
	    rd_kafka_header_add(h, "yalu-topic", -1, src_topic, -1) ||
	    rd_kafka_header_add(h, "yalu-partition", -1, part, -1) ||
	    rd_kafka_header_add(h, "yalu-offset", -1, off, -1) ||
	    rd_kafka_header_add(h, "yalu-stage", -1, "classify", -1)) {
		rd_kafka_headers_destroy(h);
		return NULL;
	}
	return h;
}
