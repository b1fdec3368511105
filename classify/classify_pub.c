/*
 * classify_pub.c - the live feed: every tagged report on a ZeroMQ PUB
 * socket as [topic, tagged-json], topic "<relevance>.<commodity>".
 *
 * The feed is for people watching, not for the archive: it must never
 * hold the pipeline back. With ZMQ_XPUB_NODROP a send to a subscriber at
 * its high-water mark fails with EAGAIN instead of dropping in silence,
 * so with ZMQ_DONTWAIT the caller learns of (and counts) every drop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "classifyd.h"

struct cls_pub {
	void	*ctx;
	void	*sock;
	char	*endpoint;
};

struct cls_pub *
cls_pub_new(const char *endpoint, int hwm, char *err, size_t errsz)
{
	struct cls_pub *p;
	int one = 1, zero = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->endpoint = strdup(endpoint)) == NULL) {
		snprintf(err, errsz, "out of memory");
		free(p);
		return NULL;
	}
	if ((p->ctx = zmq_ctx_new()) == NULL ||
	    (p->sock = zmq_socket(p->ctx, ZMQ_PUB)) == NULL) {
		snprintf(err, errsz, "zmq: %s", zmq_strerror(errno));
		cls_pub_free(&p);
		return NULL;
	}
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(p->sock, ZMQ_XPUB_NODROP, &one, sizeof(one));
	/* Closing must not wait for slow subscribers. */
	zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(p->sock, endpoint) == -1) {
		snprintf(err, errsz, "publish: %s: bind: %s", endpoint,
		    zmq_strerror(errno));
		cls_pub_free(&p);
		return NULL;
	}
	return p;
}

void
cls_pub_free(struct cls_pub **pp)
{
	struct cls_pub *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	if (p->sock != NULL)
		zmq_close(p->sock);
	if (p->ctx != NULL)
		zmq_ctx_term(p->ctx);
	free(p->endpoint);
	free(p);
	*pp = NULL;
}

int
cls_pub_send(struct cls_pub *p, const char *topic, const char *json,
    size_t len)
{
	if (zmq_send(p->sock, topic, strlen(topic),
	    ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
		return -1;
	/*
	 * The high-water mark counts whole messages: once the first frame
	 * is taken, the last one is too. Without ZMQ_DONTWAIT here a
	 * refusal could never leave half a message behind.
	 */
	while (zmq_send(p->sock, json, len, 0) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

const char *
cls_pub_endpoint(const struct cls_pub *p)
{
	return p->endpoint;
}
