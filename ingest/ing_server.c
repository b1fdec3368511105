/*
 * ing_server.c - the ROUTER, the idempotent producer and the delivery
 * reports that answer the clients.
 *
 * A client hears "ok <id>" only from the delivery report callback, once
 * the broker has the report (acks=all): Fluent Bit's lesson is that
 * "queued in librdkafka" is not "delivered". Every message carries a
 * struct pending as its opaque, saying whom to answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

#include "ingest.h"

#define MAX_FRAMES	16	/* more is an error anyway; the rest is read */
#define BATCH		64	/* requests handled per loop pass */
#define SCAN_MS		1000
#define STATUS_MS	10000
#define TOPICS_RETRY_MS	5000
#define ZMQ_LINGER_MS	2000	/* for the last replies on close */
#define DRAIN_GRACE_MS	300	/* refusing late requests after the drain */
/* A guard against memory exhaustion: ZeroMQ drops the peer beyond it. */
#define ZMQ_MAX_MSG	(ING_MAX_MAX_BYTES * 2)

/* The envelope of a client's request, kept until its delivery report. */
struct envelope {
	size_t		 n;
	size_t		*len;
	unsigned char	**data;
};

struct pending {
	struct ing_server	*srv;
	struct envelope		*env;	/* ZeroMQ client, or NULL */
	char			*file;	/* spool file, or NULL */
	double			 t0;	/* received at, now_s() */
	char			 id[];
};

struct ing_server {
	struct ing_conf		*conf;
	struct ing_norm		*norm;
	struct ing_spool	*spool;
	rd_kafka_t		*rk;
	rd_kafka_queue_t	*mainq;		/* where delivery reports wait */
	int			 wake[2];	/* pipe: mainq is not empty */
	void			*zctx, *router;
	struct ing_stats	 st, logged;
	struct ing_metrics	*metrics;	/* registry and endpoint */
	size_t			 inflight;
	int			 draining;
	long long		 next_scan, next_status;
};

/* --------------------------------------------------------- envelopes */

static void
env_free(struct envelope **pe)
{
	struct envelope *e;
	size_t i;

	if (pe == NULL || (e = *pe) == NULL)
		return;
	for (i = 0; i < e->n; i++)
		free(e->data[i]);
	free(e->data);
	free(e->len);
	free(e);
	*pe = NULL;
}

static struct envelope *
env_new(zmq_msg_t *m, size_t n)
{
	struct envelope *e;
	size_t i;

	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->len = calloc(n, sizeof(*e->len))) == NULL ||
	    (e->data = calloc(n, sizeof(*e->data))) == NULL) {
		if (e != NULL)
			free(e->len);
		free(e);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		e->len[i] = zmq_msg_size(&m[i]);
		if ((e->data[i] = malloc(e->len[i] + 1)) == NULL) {
			e->n = i;
			env_free(&e);
			return NULL;
		}
		memcpy(e->data[i], zmq_msg_data(&m[i]), e->len[i]);
		e->n = i + 1;
	}
	return e;
}

/*
 * Sends [envelope..., text] on the ROUTER. A client that has gone away is
 * no error of ours: its answer is logged and dropped.
 */
static void
reply(struct ing_server *srv, const struct envelope *e, const char *text)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (zmq_send(srv->router, e->data[i], e->len[i],
		    ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
			goto fail;
	if (zmq_send(srv->router, text, strlen(text), ZMQ_DONTWAIT) == -1)
		goto fail;
	return;
fail:
	/* EHOSTUNREACH (ROUTER_MANDATORY): the peer is gone. */
	yl_log_info("zmq: client gone, answer dropped: %s (%s)", text,
	    zmq_strerror(errno));
}

/* ------------------------------------------------------------ stats */

/* Monotonic seconds, for the latency histogram. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
received(struct ing_server *srv, enum ing_source src)
{
	srv->st.received++;
	ing_metrics_received(srv->metrics, src);
}

static void
refused(struct ing_server *srv, enum ing_refusal why)
{
	srv->st.refused++;
	srv->st.refused_by[why]++;
	ing_metrics_refused(srv->metrics, why);
}

const struct ing_stats *
ing_server_stats(const struct ing_server *srv)
{
	return &srv->st;
}

size_t
ing_server_inflight(const struct ing_server *srv)
{
	return srv->inflight;
}

/* "accepted 12, refused 3 (json 2, size 1), delivery failures 0, ..." */
static void
status_line(const struct ing_server *srv, char *buf, size_t sz)
{
	const struct ing_stats *s = &srv->st;
	size_t o;
	int i, first = 1;

	o = (size_t)snprintf(buf, sz, "accepted %llu, refused %llu",
	    s->accepted, s->refused);
	for (i = 1; i < ING_R_MAX && o < sz; i++) {
		if (s->refused_by[i] == 0)
			continue;
		o += (size_t)snprintf(buf + o, sz - o, "%s%s %llu",
		    first ? " (" : ", ", ing_refusal_name(i), s->refused_by[i]);
		first = 0;
	}
	if (!first && o < sz)
		o += (size_t)snprintf(buf + o, sz - o, ")");
	if (o < sz)
		snprintf(buf + o, sz - o, ", delivery failures %llu, "
		    "in flight %zu, queue full %llu", s->delivery_failed,
		    srv->inflight, s->queue_full);
}

static void
status(struct ing_server *srv)
{
	char buf[512];

	status_line(srv, buf, sizeof(buf));
	yl_notify_status("%s", buf);
	/* In the log only when something happened. */
	if (memcmp(&srv->st, &srv->logged, sizeof(srv->st)) != 0) {
		yl_log_info("status: %s", buf);
		srv->logged = srv->st;
	}
}

/* --------------------------------------------------------- delivery */

/* Failures worth retrying later, as opposed to a message Kafka refuses. */
static int
transient(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR__BAD_MSG:
		return 0;
	default:
		return 1;
	}
}

/*
 * The delivery report: the only place a report becomes "ok". Runs inside
 * rd_kafka_poll()/rd_kafka_flush() on the main thread.
 */
static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct pending *pd = m->_private;
	struct ing_server *srv = pd->srv;
	char text[600];

	(void)rk;
	(void)opaque;
	srv->inflight--;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		srv->st.accepted++;
		yl_log_debug("kafka: %s: %s: delivered to partition %d at "
		    "offset %lld", rd_kafka_topic_name(m->rkt), pd->id,
		    (int)m->partition, (long long)m->offset);
		snprintf(text, sizeof(text), "ok %s", pd->id);
	} else {
		srv->st.delivery_failed++;
		yl_log_warnx("kafka: %s: %s: delivery failed: %s",
		    rd_kafka_topic_name(m->rkt), pd->id,
		    rd_kafka_err2str(m->err));
		snprintf(text, sizeof(text), "err delivery failed: %s",
		    rd_kafka_err2str(m->err));
	}
	ing_metrics_delivered(srv->metrics, pd->file != NULL ? ING_SRC_SPOOL :
	    ING_SRC_ZMQ, m->err == RD_KAFKA_RESP_ERR_NO_ERROR, now_s() - pd->t0);
	if (pd->env != NULL)
		reply(srv, pd->env, text);
	if (pd->file != NULL && srv->spool != NULL) {
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			srv->st.spool_done++;
			ing_metrics_spool(srv->metrics, ING_SPOOL_DONE);
		} else if (!transient(m->err)) {
			srv->st.spool_rejected++;
			ing_metrics_spool(srv->metrics, ING_SPOOL_REJECTED);
		} else
			ing_metrics_spool(srv->metrics, ING_SPOOL_RETRY);
		ing_spool_delivered(srv->spool, pd->file,
		    m->err == RD_KAFKA_RESP_ERR_NO_ERROR, transient(m->err),
		    text + 4);
	}
	env_free(&pd->env);
	free(pd->file);
	free(pd);
}

static struct pending *
pending_new(struct ing_server *srv, const char *id)
{
	struct pending *pd;
	size_t n = strlen(id) + 1;

	if ((pd = calloc(1, sizeof(*pd) + n)) == NULL)
		return NULL;
	pd->srv = srv;
	pd->t0 = now_s();
	memcpy(pd->id, id, n);
	return pd;
}

/*
 * Queues r on reports.raw with key = id; pd (consumed on success) says
 * whom the delivery report answers. With wait, a full queue is waited out
 * (polling, so deliveries make room) unless we are told to stop.
 * Returns 0, or -1 with the reason (pd is still the caller's).
 */
static int
produce(struct ing_server *srv, const struct yl_report *r,
    struct pending *pd, int wait, char *err, size_t errsz)
{
	rd_kafka_resp_err_t e;
	json_t *o;
	char *val;

	if ((o = yl_report_to_json(r)) == NULL ||
	    (val = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	json_decref(o);
	for (;;) {
		/* F_FREE: librdkafka owns val once it is queued. */
		e = rd_kafka_producev(srv->rk,
		    RD_KAFKA_V_TOPIC(srv->conf->topics.raw.name),
		    RD_KAFKA_V_KEY(r->id, strlen(r->id)),
		    RD_KAFKA_V_VALUE(val, strlen(val)),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
		    RD_KAFKA_V_OPAQUE(pd), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			srv->inflight++;
			return 0;
		}
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		srv->st.queue_full++;
		ing_metrics_queue_full(srv->metrics);
		if (!wait || yl_sig_term) {
			snprintf(err, errsz, "%s", wait ? "shutting down" :
			    "queue full");
			free(val);
			return -1;
		}
		/* Back off: deliveries free room in the queue. */
		rd_kafka_poll(srv->rk, 100);
	}
	free(val);
	snprintf(err, errsz, "delivery failed: %s", rd_kafka_err2str(e));
	return -1;
}

/* ------------------------------------------------------------ spool */

static int
spool_submit(void *arg, struct yl_report *r, const char *name)
{
	struct ing_server *srv = arg;
	struct pending *pd;
	char err[256];

	received(srv, ING_SRC_SPOOL);
	if ((pd = pending_new(srv, r->id)) == NULL ||
	    (pd->file = strdup(name)) == NULL) {
		free(pd);
		return -1;
	}
	if (produce(srv, r, pd, 0, err, sizeof(err)) == -1) {
		yl_log_debug("spool: %s: not queued: %s", name, err);
		free(pd->file);
		free(pd);
		return -1;
	}
	return 0;
}

/* The spool logs its own decisions; here they are only counted. */
static void
spool_refused(void *arg, const char *name, enum ing_refusal why,
    const char *reason)
{
	struct ing_server *srv = arg;

	(void)name;
	(void)reason;
	received(srv, ING_SRC_SPOOL);
	srv->st.spool_rejected++;
	ing_metrics_spool(srv->metrics, ING_SPOOL_REJECTED);
	refused(srv, why);
}

static const struct ing_spool_ops spool_ops = { spool_submit, spool_refused };

/* ---------------------------------------------------------- requests */

/*
 * Handles one request already read: decode, normalize, produce. Refusals
 * are answered at once; accepted reports when Kafka has them.
 */
static void
handle(struct ing_server *srv, zmq_msg_t *m, size_t n)
{
	struct ing_frame f[MAX_FRAMES];
	struct yl_report *r = NULL;
	struct pending *pd = NULL;
	struct envelope *env;
	enum ing_refusal why;
	char err[600], text[640];
	size_t nenv, i, nf = n < MAX_FRAMES ? n : MAX_FRAMES;

	received(srv, ING_SRC_ZMQ);
	for (i = 0; i < nf; i++) {
		f[i].data = zmq_msg_data(&m[i]);
		f[i].len = zmq_msg_size(&m[i]);
	}
	if ((nenv = ing_envelope_len(f, nf)) == 0) {
		/* Answer on the identity alone: a DEALER will read it. */
		nenv = 1;
		why = ING_R_ENVELOPE;
		snprintf(err, sizeof(err), "no empty delimiter frame (use REQ, "
		    "or a DEALER that sends an empty frame first)");
	} else if (srv->draining) {
		why = ING_R_SHUTDOWN;
		snprintf(err, sizeof(err), "shutting down");
	} else if ((why = ing_request_decode(f + nenv, n - nenv,
	    (size_t)srv->conf->max_report_bytes, &r, err, sizeof(err))) ==
	    ING_OK)
		why = ing_normalize(srv->norm, r, err, sizeof(err));
	if ((env = env_new(m, nenv)) == NULL) {
		yl_log_errx("zmq: out of memory; request dropped");
		refused(srv, ING_R_INTERNAL);
		yl_report_free(&r);
		return;
	}
	if (why == ING_OK) {
		if ((pd = pending_new(srv, r->id)) == NULL) {
			why = ING_R_INTERNAL;
			snprintf(err, sizeof(err), "out of memory");
		} else {
			pd->env = env;
			if (produce(srv, r, pd, 1, err, sizeof(err)) == 0) {
				yl_log_debug("zmq: %s: queued (%zu bytes)",
				    r->id, r->body_len);
				yl_report_free(&r);
				return;
			}
			why = yl_sig_term ? ING_R_SHUTDOWN : ING_R_KAFKA;
			free(pd);
		}
	}
	refused(srv, why);
	yl_log_warnx("zmq: refused report %s: %s", r && r->id ? r->id : "-",
	    err);
	snprintf(text, sizeof(text), "err %s", err);
	reply(srv, env, text);
	env_free(&env);
	yl_report_free(&r);
}

/*
 * Reads one whole message from the ROUTER without waiting. Returns the
 * number of frames (up to MAX_FRAMES kept in m, the rest read and
 * dropped but counted), 0 when none was waiting, -1 on an error.
 */
static int
recv_request(struct ing_server *srv, zmq_msg_t *m, size_t *kept)
{
	zmq_msg_t extra;
	size_t n = 0;
	int more;

	*kept = 0;
	for (;;) {
		zmq_msg_t *dst = n < MAX_FRAMES ? &m[n] : &extra;

		zmq_msg_init(dst);
		if (zmq_msg_recv(dst, srv->router, n == 0 ? ZMQ_DONTWAIT :
		    0) == -1) {
			zmq_msg_close(dst);
			if (n == 0 && errno == EAGAIN)
				return 0;
			if (errno != EINTR || n == 0)
				break;
			continue;
		}
		more = zmq_msg_more(dst);
		if (dst == &extra)
			zmq_msg_close(&extra);
		else
			*kept = n + 1;
		n++;
		if (!more)
			return (int)n;
	}
	if (n == 0 && errno == EINTR)
		return 0;
	yl_log_warnx("zmq: receiving: %s", zmq_strerror(errno));
	for (; *kept > 0; (*kept)--)
		zmq_msg_close(&m[*kept - 1]);
	return -1;
}

/* Handles up to max waiting requests; returns how many. */
static int
serve(struct ing_server *srv, int max)
{
	zmq_msg_t m[MAX_FRAMES];
	size_t kept, i;
	int n, done = 0;

	while (done < max) {
		if (!srv->draining && srv->inflight >=
		    (size_t)srv->conf->max_inflight)
			break;
		if ((n = recv_request(srv, m, &kept)) <= 0)
			break;
		if ((size_t)n > kept) {
			/* Over MAX_FRAMES: decode sees the true count. */
			struct ing_frame f[MAX_FRAMES];
			struct envelope *env;
			enum ing_refusal why = ING_R_FRAMES;
			char text[160];
			size_t nenv;

			for (i = 0; i < kept; i++) {
				f[i].data = zmq_msg_data(&m[i]);
				f[i].len = zmq_msg_size(&m[i]);
			}
			if ((nenv = ing_envelope_len(f, kept)) == 0) {
				/* Answer on the identity alone, as handle(). */
				nenv = 1;
				why = ING_R_ENVELOPE;
				snprintf(text, sizeof(text), "err no empty "
				    "delimiter frame (use REQ, or a DEALER that "
				    "sends an empty frame first)");
			} else
				snprintf(text, sizeof(text), "err expected 1 "
				    "or 2 frames, got %zu", (size_t)n - nenv);
			received(srv, ING_SRC_ZMQ);
			refused(srv, why);
			yl_log_warnx("zmq: refused report -: %s", text + 4);
			if ((env = env_new(m, nenv)) != NULL)
				reply(srv, env, text);
			env_free(&env);
		} else
			handle(srv, m, kept);
		for (i = 0; i < kept; i++)
			zmq_msg_close(&m[i]);
		done++;
	}
	return done;
}

/* ------------------------------------------------------------ server */

static rd_kafka_t *
producer_new(struct ing_server *srv, char *err, size_t errsz)
{
	/* The guarantees "ok" stands for; the config may not weaken them. */
	const struct yl_kafka_set set[] = {
		YL_KAFKA_DURABLE,
		YL_KAFKA_DEFAULT("client.id", "yalu-ingest"),
		YL_KAFKA_END
	};
	rd_kafka_conf_t *kc;

	if ((kc = yl_kafka_conf_with(&srv->conf->kafka, set, "producer", err,
	    errsz)) == NULL)
		return NULL;
	rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
	rd_kafka_conf_set_opaque(kc, srv);
	return yl_kafka_new(RD_KAFKA_PRODUCER, kc, "producer", err, errsz);
}

/*
 * Delivery reports must not wait for zmq_poll's timeout: librdkafka writes
 * to a pipe when its main queue becomes non-empty, and the loop polls the
 * pipe beside the ROUTER.
 */
static int
wake_new(struct ing_server *srv, char *err, size_t errsz)
{
	int i;

	if (pipe(srv->wake) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		srv->wake[0] = srv->wake[1] = -1;
		return -1;
	}
	for (i = 0; i < 2; i++)
		fcntl(srv->wake[i], F_SETFL, fcntl(srv->wake[i], F_GETFL) |
		    O_NONBLOCK);
	srv->mainq = rd_kafka_queue_get_main(srv->rk);
	rd_kafka_queue_io_event_enable(srv->mainq, srv->wake[1], "w", 1);
	return 0;
}

/* Empties the wake pipe, then serves every delivery report waiting. */
static void
kafka_poll(struct ing_server *srv, int timeout_ms)
{
	char buf[64];

	while (read(srv->wake[0], buf, sizeof(buf)) > 0)
		;
	rd_kafka_poll(srv->rk, timeout_ms);
}

/* Retries until the topics exist or we are told to stop. */
static int
ensure_topics(struct ing_server *srv, char *err, size_t errsz)
{
	long long until;

	while (!yl_sig_term) {
		if (yl_kafka_ensure_topics(srv->rk, &srv->conf->topics, 10000,
		    err, errsz) == 0)
			return 0;
		yl_log_warnx("kafka: %s; retrying in %d s", err,
		    TOPICS_RETRY_MS / 1000);
		until = yl_now_ms() + TOPICS_RETRY_MS;
		while (!yl_sig_term && yl_now_ms() < until)
			rd_kafka_poll(srv->rk, 100);
	}
	snprintf(err, errsz, "stopped before Kafka was reachable");
	return -1;
}

static int
router_new(struct ing_server *srv, char *err, size_t errsz)
{
	int one = 1, linger = ZMQ_LINGER_MS;
	int64_t maxmsg = ZMQ_MAX_MSG;

	if ((srv->zctx = zmq_ctx_new()) == NULL ||
	    (srv->router = zmq_socket(srv->zctx, ZMQ_ROUTER)) == NULL) {
		snprintf(err, errsz, "zmq: %s", zmq_strerror(errno));
		return -1;
	}
	/* Unroutable answers fail visibly instead of vanishing. */
	zmq_setsockopt(srv->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(srv->router, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(srv->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (zmq_bind(srv->router, srv->conf->listen) == -1) {
		snprintf(err, errsz, "zmq: %s: %s", srv->conf->listen,
		    zmq_strerror(errno));
		return -1;
	}
	return 0;
}

struct ing_server *
ing_server_new(struct ing_conf **conf, char *err, size_t errsz)
{
	struct ing_server *srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	srv->conf = *conf;
	*conf = NULL;
	srv->wake[0] = srv->wake[1] = -1;
	/*
	 * First, so that /health answers "starting" while we wait for Kafka
	 * (a thread: main() has detached already).
	 */
	if ((srv->metrics = ing_metrics_new(&srv->conf->metrics, err,
	    errsz)) == NULL)
		goto fail;
	if ((srv->norm = ing_norm_new(&srv->conf->boilerplate, err, errsz)) ==
	    NULL)
		goto fail;
	if (srv->conf->spool != NULL &&
	    (srv->spool = ing_spool_new(srv->conf->spool, err, errsz)) == NULL)
		goto fail;
	if ((srv->rk = producer_new(srv, err, errsz)) == NULL ||
	    wake_new(srv, err, errsz) == -1)
		goto fail;
	if (ensure_topics(srv, err, errsz) == -1)
		goto fail;
	if (router_new(srv, err, errsz) == -1)
		goto fail;
	yl_log_info("listening on %s, producing to %s%s%s",
	    srv->conf->listen, srv->conf->topics.raw.name,
	    srv->spool ? ", spool " : "",
	    srv->spool ? srv->conf->spool : "");
	srv->next_scan = yl_now_ms();
	srv->next_status = yl_now_ms() + STATUS_MS;
	ing_metrics_health(srv->metrics, 1, NULL);
	return srv;
fail:
	ing_server_free(&srv);
	return NULL;
}

void
ing_server_free(struct ing_server **psrv)
{
	struct ing_server *srv;

	if (psrv == NULL || (srv = *psrv) == NULL)
		return;
	if (srv->mainq != NULL) {
		rd_kafka_queue_io_event_enable(srv->mainq, -1, NULL, 0);
		rd_kafka_queue_destroy(srv->mainq);
	}
	if (srv->rk != NULL)
		rd_kafka_destroy(srv->rk);
	if (srv->wake[0] != -1) {
		close(srv->wake[0]);
		close(srv->wake[1]);
	}
	if (srv->router != NULL)
		zmq_close(srv->router);
	if (srv->zctx != NULL)
		zmq_ctx_term(srv->zctx);
	ing_spool_free(&srv->spool);
	ing_norm_free(&srv->norm);
	ing_conf_free(&srv->conf);
	/* Last: destroying the producer may still report deliveries. */
	ing_metrics_free(&srv->metrics);
	free(srv);
	*psrv = NULL;
}

int
ing_server_step(struct ing_server *srv, int timeout_ms)
{
	zmq_pollitem_t it[2] = {
		{ NULL, srv->wake[0], ZMQ_POLLIN, 0 },
		{ srv->router, 0, ZMQ_POLLIN, 0 }
	};
	long long now;
	char buf[512];
	/* Backpressure: past max_inflight only deliveries can make room. */
	int nit = srv->inflight < (size_t)srv->conf->max_inflight ? 2 : 1;

	if (zmq_poll(it, nit, timeout_ms) == -1 && errno != EINTR)
		yl_log_warnx("zmq: poll: %s", zmq_strerror(errno));
	kafka_poll(srv, 0);
	if (nit == 2 && (it[1].revents & ZMQ_POLLIN))
		serve(srv, BATCH);
	kafka_poll(srv, 0);
	now = yl_now_ms();
	if (srv->spool != NULL && now >= srv->next_scan) {
		size_t room = (size_t)srv->conf->max_inflight > srv->inflight ?
		    (size_t)srv->conf->max_inflight - srv->inflight : 0;

		ing_spool_scan(srv->spool, srv->norm,
		    (size_t)srv->conf->max_report_bytes, room, &spool_ops, srv);
		srv->next_scan = now + SCAN_MS;
	}
	if (now >= srv->next_status) {
		status(srv);
		srv->next_status = now + STATUS_MS;
	}
	ing_metrics_inflight(srv->metrics, srv->inflight);
	yl_notify_watchdog();
	if (rd_kafka_fatal_error(srv->rk, buf, sizeof(buf)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* The idempotent producer cannot go on (librdkafka docs). */
		ing_metrics_health(srv->metrics, 0, "kafka: fatal error");
		yl_log_errx("kafka: fatal error, stopping: %s", buf);
		return -1;
	}
	return 0;
}

int
ing_server_reload(struct ing_server *srv, const char *path)
{
	struct yl_errs errs = { 0 };
	struct ing_conf *nc;
	struct ing_norm *nn;
	char err[512], *line, *save = NULL;

	yl_notify_reloading();
	if ((nc = ing_conf_load(path, &errs)) == NULL) {
		for (line = strtok_r(errs.buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			yl_log_errx("config: %s", line);
		yl_log_errx("config: %s: reload failed, keeping the running "
		    "configuration", path);
		yl_errs_clear(&errs);
		yl_notify_reloaded();
		return -1;
	}
	if ((nn = ing_norm_new(&nc->boilerplate, err, sizeof(err))) == NULL) {
		yl_log_errx("config: %s: %s; keeping the running "
		    "configuration", path, err);
		ing_conf_free(&nc);
		yl_notify_reloaded();
		return -1;
	}
	ing_conf_keep_fixed(nc, srv->conf);
	ing_conf_free(&srv->conf);
	ing_norm_free(&srv->norm);
	srv->conf = nc;
	srv->norm = nn;
	yl_log_info("config: %s: reloaded: %zu boilerplate patterns, "
	    "max_report_bytes %lld, max_inflight %lld", path,
	    nc->boilerplate.n, nc->max_report_bytes, nc->max_inflight);
	yl_notify_reloaded();
	return 0;
}

size_t
ing_server_drain(struct ing_server *srv)
{
	long long deadline, until;
	size_t left;

	srv->draining = 1;
	ing_metrics_health(srv->metrics, 0, "stopping");
	yl_log_info("draining: %zu deliveries pending", srv->inflight);
	deadline = yl_now_ms() + srv->conf->drain_timeout * 1000;
	while (srv->inflight > 0 && yl_now_ms() < deadline) {
		serve(srv, BATCH);	/* late requests: "err shutting down" */
		/* flush, unlike poll, sends without waiting for linger.ms. */
		rd_kafka_flush(srv->rk, 100);
	}
	/*
	 * The clients just answered send their next request at once: tell
	 * them we are stopping rather than let them wait for their timeout.
	 */
	until = yl_now_ms() + DRAIN_GRACE_MS;
	do {
		zmq_pollitem_t it = { srv->router, 0, ZMQ_POLLIN, 0 };

		if (zmq_poll(&it, 1, 50) > 0)
			serve(srv, BATCH);
	} while (yl_now_ms() < until);
	if ((left = srv->inflight) > 0) {
		yl_log_warnx("kafka: %zu deliveries unconfirmed after %lld s; "
		    "purging them (their senders are told)", left,
		    srv->conf->drain_timeout);
		rd_kafka_purge(srv->rk, RD_KAFKA_PURGE_F_QUEUE |
		    RD_KAFKA_PURGE_F_INFLIGHT);
		until = yl_now_ms() + 5000;
		while (srv->inflight > 0 && yl_now_ms() < until)
			rd_kafka_poll(srv->rk, 100);
	}
	status(srv);
	ing_metrics_inflight(srv->metrics, srv->inflight);
	return left;
}
