/*
 * store_kafka.c - yalu-store's consumer: reports.tagged into the archive,
 * in batches, at least once, nothing lost.
 *
 * The rules that make it at-least-once (librdkafka INTRODUCTION.md,
 * "At-least-once processing"):
 *   - enable.auto.offset.store=false: an offset is stored only once its
 *     message is done, and auto-commit (kept on) commits stored offsets
 *     only;
 *   - a message is done when the transaction of its batch has committed,
 *     or, for a message the archive cannot read, when the dead-letter
 *     topic has confirmed it (delivery report, acks=all);
 *   - a batch is stored whole or not at all, and batches are done in
 *     order, so the stored offsets of a partition only ever cover a
 *     contiguous run of done messages;
 *   - when partitions are revoked (cooperative rebalance) the batch in
 *     progress is committed and its offsets stored and committed before
 *     the partitions are given up.
 * A crash loses at most the uncommitted batch, which Kafka redelivers;
 * archiving the same report twice updates it in place.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "yalu/daemon.h"
#include "yalu/kafka.h"
#include "yalu/log.h"

#include "sto_int.h"

#define IDLE_POLL_MS		200	/* poll timeout, no batch open */
#define STATUS_EVERY_MS		5000	/* sd_notify STATUS= */
#define LOG_STATUS_EVERY_MS	60000	/* a summary line in the log */
#define ENSURE_TOPICS_MS	15000
#define DRAIN_FLUSH_MS		30000

/* One consumed message of the open batch. */
struct pend {
	rd_kafka_message_t	*msg;
	struct sto_rec		*rec;	/* NULL: dead-lettered */
};

struct sto {
	const struct sto_conf	*conf;		/* borrowed */
	struct sto_db		*db;
	rd_kafka_t		*consumer;
	rd_kafka_t		*producer;	/* dead letters only */
	struct pend		*batch;
	size_t			 n, cap;
	long long		 batch_start;	/* ms, first message */
	long long		 batch_size, batch_ms;	/* reloadable */
	int			 dlq_inflight;	/* not yet reported */
	int			 dlq_failed;	/* reported as failed */
	int			 failed;	/* stop: needs a restart */
	struct sto_stats	 st;
	struct sto_metrics	*metrics;	/* store_metrics.c */
	long long		 last_status, last_log;
	struct sto_stats	 logged;	/* as of the last log line */
};

const struct sto_stats *
sto_stats(const struct sto *s)
{
	return &s->st;
}

/* ------------------------------------------------------------ dead letters */

/* Delivery report of a dead letter (served by rd_kafka_poll). */
static void
dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct sto *s = opaque;

	(void)rk;
	s->dlq_inflight--;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		s->dlq_failed++;
		sto_metrics_delivery_failed(s->metrics);
		yl_log(YL_LOG_ERR, "kafka: %s: dead letter not delivered: %s",
		    rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
	}
}

/* The message key (the report id) made printable for a log line. */
static void
key_str(const rd_kafka_message_t *m, char *buf, size_t bufsz)
{
	const unsigned char *k = m->key;
	size_t i, n = 0;

	if (k == NULL || m->key_len == 0) {
		snprintf(buf, bufsz, "(no key)");
		return;
	}
	for (i = 0; i < m->key_len && n + 1 < bufsz && i < 200; i++)
		buf[n++] = k[i] >= 0x20 && k[i] < 0x7f ? (char)k[i] : '?';
	buf[n] = '\0';
}

/*
 * Sends the original message, unchanged, to the dead-letter topic with
 * the reason in headers. Its offset is stored once the delivery report
 * says it is there (flush waits for that). 0, or -1 if it could not even
 * be queued.
 */
static int
dead_letter(struct sto *s, const rd_kafka_message_t *m, const char *reason,
    enum sto_dead_reason why)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	char part[16], off[32], key[208];
	rd_kafka_resp_err_t err;

	snprintf(part, sizeof(part), "%" PRId32, m->partition);
	snprintf(off, sizeof(off), "%" PRId64, m->offset);
	key_str(m, key, sizeof(key));
	for (;;) {
		err = rd_kafka_producev(s->producer,
		    RD_KAFKA_V_TOPIC(s->conf->topics.dlq.name),
		    RD_KAFKA_V_KEY(m->key, m->key_len),
		    RD_KAFKA_V_VALUE(m->payload, m->len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_HEADER("yalu-error", reason, -1),
		    RD_KAFKA_V_HEADER("yalu-topic", topic, -1),
		    RD_KAFKA_V_HEADER("yalu-partition", part, -1),
		    RD_KAFKA_V_HEADER("yalu-offset", off, -1),
		    RD_KAFKA_V_HEADER("yalu-stage", "store", -1),
		    RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* Back off: serve delivery reports to make room. */
		rd_kafka_poll(s->producer, 100);
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		yl_log(YL_LOG_ERR, "store: %s: %s [%s] at offset %s: cannot "
		    "dead-letter: %s", key, topic, part, off,
		    rd_kafka_err2str(err));
		return -1;
	}
	s->dlq_inflight++;
	s->st.dead++;
	sto_metrics_dead(s->metrics, why);
	yl_log(YL_LOG_WARNING, "store: %s: %s [%s] at offset %s: "
	    "dead-lettered to %s: %s", key, topic, part, off,
	    s->conf->topics.dlq.name, reason);
	return 0;
}

/* ----------------------------------------------------------------- batches */

static void
batch_drop(struct sto *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		rd_kafka_message_destroy(s->batch[i].msg);
		sto_rec_free(&s->batch[i].rec);
	}
	s->n = 0;
}

/*
 * Stores, for every partition of the batch, the offset after its last
 * message. Called only once every message of the batch is done.
 */
static void
store_offsets(struct sto *s)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_topic_partition_t *p;
	rd_kafka_resp_err_t err;
	size_t i;
	int j;

	l = rd_kafka_topic_partition_list_new(8);
	for (i = 0; i < s->n; i++) {
		const rd_kafka_message_t *m = s->batch[i].msg;
		const char *topic = rd_kafka_topic_name(m->rkt);

		p = rd_kafka_topic_partition_list_find(l, topic, m->partition);
		if (p == NULL)
			p = rd_kafka_topic_partition_list_add(l, topic,
			    m->partition);
		/* The next offset to read, which is what gets committed. */
		if (m->offset + 1 > p->offset)
			p->offset = m->offset + 1;
	}
	err = rd_kafka_offsets_store(s->consumer, l);
	for (j = 0; j < l->cnt; j++) {
		p = &l->elems[j];
		/*
		 * Not assigned any more (revoked while we worked): its new
		 * owner reads these again and the archive updates in place.
		 */
		if (p->err != RD_KAFKA_RESP_ERR_NO_ERROR)
			yl_log(p->err == RD_KAFKA_RESP_ERR__STATE ?
			    YL_LOG_INFO : YL_LOG_WARNING, "kafka: %s [%" PRId32
			    "]: offset %" PRId64 " not stored: %s", p->topic,
			    p->partition, p->offset, rd_kafka_err2str(p->err));
		else
			yl_log_debug("kafka: %s [%" PRId32 "]: offset %" PRId64
			    " stored", p->topic, p->partition, p->offset);
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR && l->cnt == 0)
		yl_log(YL_LOG_WARNING, "kafka: offsets not stored: %s",
		    rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Writes the batch's records in one transaction begun with flags. 0, or
 * -1 with the reason in err after a rollback. Counts into add.
 */
static int
write_batch(struct sto *s, int flags, struct sto_stats *add, char *err,
    size_t errsz)
{
	enum sto_outcome oc;
	size_t i;

	if (sto_db_begin(s->db, flags, err, errsz) == -1)
		goto fail;
	for (i = 0; i < s->n; i++) {
		struct pend *p = &s->batch[i];

		if (p->rec == NULL)
			continue;
		if (sto_db_put(s->db, p->rec, &oc, err, errsz) == -1)
			goto fail;
		switch (oc) {
		case STO_INSERTED:
			add->inserted++;
			break;
		case STO_UPDATED:
			add->updated++;
			break;
		case STO_KEPT_NEWER:
			add->kept_newer++;
			yl_log_debug("store: %s: kept: archived by a newer "
			    "ruleset than %s", p->rec->rep->id,
			    p->rec->ruleset);
			break;
		case STO_REJECTED:
			/* The archive refused this one alone. */
			sto_rec_free(&p->rec);
			if (dead_letter(s, p->msg, err,
			    STO_DEAD_REJECTED) == -1) {
				snprintf(err, errsz, "a refused record could "
				    "not be dead-lettered");
				goto fail;
			}
			break;
		}
	}
	if (sto_db_commit(s->db, err, errsz) == -1)
		goto fail;
	return 0;
fail:
	sto_db_rollback(s->db);
	return -1;
}

/*
 * Archives the batch in one transaction. 0 or -1.
 *
 * First without a savepoint per record (they cost a tenth of the time),
 * since the decoder has refused nearly everything the archive could. If
 * that fails, the batch is redone with one savepoint per record, so that
 * a record the archive refuses is dead-lettered alone and the rest
 * archived; a failure of the transaction itself (I/O, full disk) fails
 * again and stops us.
 */
static int
archive_batch(struct sto *s)
{
	struct sto_stats add = { 0 };
	char err[1024];
	size_t i;
	int any = 0;

	for (i = 0; i < s->n; i++)
		any |= s->batch[i].rec != NULL;
	if (!any)
		return 0;
	if (write_batch(s, 0, &add, err, sizeof(err)) == -1) {
		yl_log(YL_LOG_WARNING, "store: %s: batch of %zu failed: %s: "
		    "redoing it record by record", s->conf->db, s->n, err);
		memset(&add, 0, sizeof(add));
		if (write_batch(s, STO_TX_ISOLATE, &add, err,
		    sizeof(err)) == -1) {
			yl_log(YL_LOG_ERR, "store: %s: batch of %zu not "
			    "archived: %s", s->conf->db, s->n, err);
			return -1;
		}
	}
	s->st.inserted += add.inserted;
	s->st.updated += add.updated;
	s->st.kept_newer += add.kept_newer;
	return 0;
}

/*
 * Finishes the open batch: commits its transaction, waits for its dead
 * letters, then stores its offsets (unless store is 0: the partitions
 * were lost). On a failure nothing is stored, the batch is dropped (Kafka
 * redelivers it after the restart) and s->failed set. 0 or -1.
 */
static int
flush(struct sto *s, int store)
{
	struct sto_stats before = s->st;
	struct timespec t0, t1;

	if (s->n == 0)
		return 0;
	if (s->failed)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (archive_batch(s) == -1) {
		sto_metrics_batch_failed(s->metrics);
		sto_metrics_health(s->metrics, 0, "archive: batch failed");
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sto_metrics_batch(s->metrics, s->st.inserted - before.inserted,
	    s->st.updated - before.updated, s->st.kept_newer -
	    before.kept_newer, s->n, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	sto_metrics_archive(s->metrics, s->conf->db, s->st.archived +
	    s->st.inserted, 0);
	/* Bounded by the producer's message.timeout.ms. */
	while (s->dlq_inflight > 0) {
		rd_kafka_poll(s->producer, 100);
		yl_notify_watchdog();
	}
	if (s->dlq_failed > 0) {
		yl_log(YL_LOG_ERR, "store: %d dead letters not delivered: "
		    "offsets not stored, stopping", s->dlq_failed);
		goto fail;
	}
	if (store) {
		store_offsets(s);
		/*
		 * Commit now, asynchronously, rather than up to
		 * auto.commit.interval.ms later: after a crash, Kafka
		 * redelivers about one batch, not seconds of them.
		 */
		rd_kafka_commit(s->consumer, NULL, 1);
	}
	yl_log_debug("store: batch of %zu archived", s->n);
	s->st.batches++;
	batch_drop(s);
	return 0;
fail:
	s->failed = 1;
	batch_drop(s);
	return -1;
}

/* Takes one consumed message into the open batch. */
static void
take(struct sto *s, rd_kafka_message_t *m)
{
	struct sto_rec *rec = NULL;
	char err[1024];

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
			char buf[512];

			rd_kafka_fatal_error(s->consumer, buf, sizeof(buf));
			yl_log(YL_LOG_ERR, "kafka: consumer: fatal: %s", buf);
			s->failed = 1;
		} else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			yl_log(YL_LOG_WARNING, "kafka: %s: %s",
			    m->rkt != NULL ? rd_kafka_topic_name(m->rkt) :
			    "consumer", rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
		return;
	}
	sto_metrics_consumed(s->metrics);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pend *b = realloc(s->batch, cap * sizeof(*b));

		if (b == NULL) {
			yl_log(YL_LOG_ERR, "store: out of memory");
			rd_kafka_message_destroy(m);
			s->failed = 1;
			return;
		}
		s->batch = b;
		s->cap = cap;
	}
	if (m->payload == NULL || m->len == 0)
		snprintf(err, sizeof(err), "empty message (no report)");
	else if (sto_rec_decode(m->payload, m->len, &rec, err,
	    sizeof(err)) == 0) {
		rec->partition = m->partition;
		rec->offset = m->offset;
	}
	if (rec == NULL && dead_letter(s, m, err, m->payload == NULL ||
	    m->len == 0 ? STO_DEAD_EMPTY : STO_DEAD_UNDECODABLE) == -1) {
		/* Not archived, not dead-lettered: must not be skipped. */
		rd_kafka_message_destroy(m);
		s->failed = 1;
		return;
	}
	if (s->n == 0)
		s->batch_start = yl_now_ms();
	s->batch[s->n].msg = m;
	s->batch[s->n].rec = rec;
	s->n++;
}

/* -------------------------------------------------------------- rebalance */

static void
log_partitions(const char *what, const rd_kafka_topic_partition_list_t *l)
{
	char buf[512];
	size_t n = 0;
	int i;

	/* Cooperative rebalances often add nothing: not worth a line. */
	if (l->cnt == 0) {
		yl_log_debug("kafka: %s no partition", what);
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < l->cnt && n < sizeof(buf) - 16; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s [%"
		    PRId32 "]", i > 0 ? ", " : "", l->elems[i].topic,
		    l->elems[i].partition);
	yl_log_info("kafka: %s %d partition%s: %s", what, l->cnt,
	    l->cnt == 1 ? "" : "s", buf);
}

static int
cooperative(rd_kafka_t *rk)
{
	const char *p = rd_kafka_rebalance_protocol(rk);

	return p != NULL && strcmp(p, "COOPERATIVE") == 0;
}

static void
rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct sto *s = opaque;
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t ce;
	int lost;

	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		log_partitions("assigned", parts);
		/* Start from the committed offsets (or auto.offset.reset). */
		if (cooperative(rk))
			e = rd_kafka_incremental_assign(rk, parts);
		else if ((ce = rd_kafka_assign(rk, parts)) != 0)
			yl_log(YL_LOG_ERR, "kafka: assign: %s",
			    rd_kafka_err2str(ce));
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		lost = rd_kafka_assignment_lost(rk);
		log_partitions(lost ? "lost" : "revoked", parts);
		/*
		 * Commit the transaction in progress and store its offsets
		 * while the partitions are still ours, then commit them, so
		 * the next owner starts right after what we archived. Lost
		 * partitions may have a new owner already: the archive is
		 * still written (its upserts are idempotent), offsets not.
		 */
		flush(s, !lost);
		if (!lost && !s->failed) {
			ce = rd_kafka_commit(rk, NULL, 0);
			if (ce != RD_KAFKA_RESP_ERR_NO_ERROR &&
			    ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
				yl_log(YL_LOG_WARNING, "kafka: commit on "
				    "revoke: %s", rd_kafka_err2str(ce));
		}
		if (cooperative(rk))
			e = rd_kafka_incremental_unassign(rk, parts);
		else if ((ce = rd_kafka_assign(rk, NULL)) != 0)
			yl_log(YL_LOG_ERR, "kafka: unassign: %s",
			    rd_kafka_err2str(ce));
		break;
	default:
		yl_log(YL_LOG_ERR, "kafka: rebalance failed: %s",
		    rd_kafka_err2str(err));
		flush(s, 0);
		rd_kafka_assign(rk, NULL);
		break;
	}
	if (e != NULL) {
		yl_log(YL_LOG_ERR, "kafka: incremental %s: %s",
		    err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" :
		    "unassign", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
}

/* ------------------------------------------------------------------ set-up */

/* Results of offset commits (auto, async and sync), for the metrics. */
static void
committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct sto *s = opaque;

	(void)rk;
	(void)offsets;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		sto_metrics_commit_failed(s->metrics);
}

/* librdkafka's statistics, served by consumer_poll: the lag gauges. */
static int
stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct sto *s = opaque;

	(void)rk;
	sto_metrics_lag(s->metrics, json, len);
	return 0;	/* librdkafka frees json */
}

static rd_kafka_t *
new_producer(struct sto *s, char *err, size_t errsz)
{
	/* A dead letter is confirmed only once every replica has it. */
	const struct yl_kafka_set set[] = {
		YL_KAFKA_DEFAULT("client.id", "yalu-store"),
		YL_KAFKA_DURABLE,
		YL_KAFKA_DEFAULT("message.timeout.ms", "60000"),
		YL_KAFKA_END
	};
	rd_kafka_conf_t *kc;

	if ((kc = yl_kafka_conf_with(&s->conf->kafka, set, "producer", err,
	    errsz)) == NULL)
		return NULL;
	rd_kafka_conf_set_dr_msg_cb(kc, dlq_delivered);
	rd_kafka_conf_set_opaque(kc, s);
	return yl_kafka_new(RD_KAFKA_PRODUCER, kc, "producer", err, errsz);
}

static rd_kafka_t *
new_consumer(struct sto *s, char *err, size_t errsz)
{
	/* a new group must read what was tagged before it started */
	const struct yl_kafka_set set[] = {
		YL_KAFKA_MEMBER(s->conf->group),
		YL_KAFKA_DEFAULT("client.id", "yalu-store"),
		YL_KAFKA_LAG_STATS,
		YL_KAFKA_END
	};
	rd_kafka_conf_t *kc;
	rd_kafka_t *rk;

	if ((kc = yl_kafka_conf_with(&s->conf->kafka, set, "consumer", err,
	    errsz)) == NULL)
		return NULL;
	rd_kafka_conf_set_stats_cb(kc, stats);
	rd_kafka_conf_set_rebalance_cb(kc, rebalance);
	rd_kafka_conf_set_offset_commit_cb(kc, committed);
	rd_kafka_conf_set_opaque(kc, s);
	if ((rk = yl_kafka_new(RD_KAFKA_CONSUMER, kc, "consumer", err,
	    errsz)) == NULL)
		return NULL;
	/* Everything (rebalances too) is served by consumer_poll. */
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

struct sto *
sto_new(const struct sto_conf *c, char *err, size_t errsz)
{
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t ke;
	struct sto_filter all;
	struct sto *s;
	char e[512];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->conf = c;
	s->batch_size = c->batch_size;
	s->batch_ms = c->batch_ms;
	/* First: /health says "starting" while the rest comes up. */
	if ((s->metrics = sto_metrics_new(&c->metrics, err, errsz)) == NULL)
		goto fail;
	if ((s->db = sto_db_open(c->db, 0, e, sizeof(e))) == NULL) {
		snprintf(err, errsz, "store: %s", e);
		goto fail;
	}
	memset(&all, 0, sizeof(all));
	all.min_relevance = -1;
	if (sto_db_count(s->db, &all, &s->st.archived, e, sizeof(e)) == -1) {
		snprintf(err, errsz, "store: %s", e);
		goto fail;
	}
	yl_log_info("store: %s: %lld reports archived", c->db,
	    s->st.archived);
	s->logged = s->st;
	s->last_log = yl_now_ms();
	if ((s->producer = new_producer(s, err, errsz)) == NULL)
		goto fail;
	if (yl_kafka_ensure_topics(s->producer, &c->topics, ENSURE_TOPICS_MS,
	    e, sizeof(e)) == -1) {
		snprintf(err, errsz, "kafka: %s", e);
		goto fail;
	}
	if ((s->consumer = new_consumer(s, err, errsz)) == NULL)
		goto fail;
	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, c->topics.tagged.name,
	    RD_KAFKA_PARTITION_UA);
	ke = rd_kafka_subscribe(s->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (ke != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "kafka: %s: subscribe: %s",
		    c->topics.tagged.name, rd_kafka_err2str(ke));
		goto fail;
	}
	yl_log_info("kafka: %s: consuming as group %s, batches of %lld or "
	    "%lld ms", c->topics.tagged.name, c->group, s->batch_size,
	    s->batch_ms);
	sto_metrics_archive(s->metrics, c->db, s->st.archived, 1);
	sto_metrics_health(s->metrics, 1, NULL);
	return s;
fail:
	sto_free(&s);
	return NULL;
}

/* ------------------------------------------------------------------- loop */

static int
kv_equal(const struct yl_kv *a, const struct yl_kv *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->key[i], b->key[i]) != 0 ||
		    strcmp(a->val[i], b->val[i]) != 0)
			return 0;
	return 1;
}

static void
log_errs(const char *buf)
{
	const char *p = buf, *nl;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		yl_log(YL_LOG_ERR, "%.*s", nl != NULL ? (int)(nl - p) :
		    (int)strlen(p), p);
		p = nl != NULL ? nl + 1 : NULL;
	}
}

/*
 * SIGHUP: batch sizes apply at once; what the running consumer and the
 * open archive were built from needs a restart, and we say so.
 */
static void
reload(struct sto *s, const char *path)
{
	const struct sto_conf *c = s->conf;
	struct yl_errs errs = { 0 };
	struct sto_conf nc;

	yl_notify_reloading();
	memset(&nc, 0, sizeof(nc));
	if (sto_conf_load(path, &nc, &errs) == -1) {
		log_errs(errs.buf);
		yl_log(YL_LOG_ERR, "config: %s: not reloaded, keeping the "
		    "running configuration", path);
	} else {
		if (strcmp(nc.db, c->db) != 0)
			yl_log(YL_LOG_WARNING, "config: db: changed to %s: "
			    "needs a restart, still writing to %s", nc.db,
			    c->db);
		if (strcmp(nc.group, c->group) != 0 ||
		    strcmp(nc.topics.tagged.name, c->topics.tagged.name) !=
		    0 || strcmp(nc.topics.dlq.name, c->topics.dlq.name) != 0 ||
		    !kv_equal(&nc.kafka, &c->kafka))
			yl_log(YL_LOG_WARNING, "config: kafka, group or topics "
			    "changed: needs a restart to apply");
		if (nc.metrics.port != c->metrics.port ||
		    nc.metrics.allow_remote != c->metrics.allow_remote ||
		    strcmp(nc.metrics.address ? nc.metrics.address : "",
		    c->metrics.address ? c->metrics.address : "") != 0)
			yl_log(YL_LOG_WARNING, "config: metrics: changed: "
			    "needs a restart to apply");
		s->batch_size = nc.batch_size;
		s->batch_ms = nc.batch_ms;
		yl_log_info("config: %s: reloaded: batches of %lld or %lld ms",
		    path, s->batch_size, s->batch_ms);
	}
	sto_conf_release(&nc);
	yl_errs_clear(&errs);
	yl_notify_reloaded();
}

static void
status(struct sto *s, int force)
{
	const struct sto_stats *t = &s->st;
	long long now = yl_now_ms();

	if (force || now - s->last_status >= STATUS_EVERY_MS) {
		yl_notify_status("%lld reports archived (%lld new, %lld "
		    "updated, %lld kept newer), %lld dead-lettered",
		    t->archived + t->inserted, t->inserted, t->updated,
		    t->kept_newer, t->dead);
		s->last_status = now;
	}
	if (now - s->last_log >= LOG_STATUS_EVERY_MS &&
	    memcmp(t, &s->logged, sizeof(*t)) != 0) {
		yl_log_info("store: %lld new, %lld updated, %lld kept newer, "
		    "%lld dead-lettered in %lld batches since start",
		    t->inserted, t->updated, t->kept_newer, t->dead,
		    t->batches);
		s->logged = *t;
		s->last_log = now;
	}
}

int
sto_run(struct sto *s, const char *config_path)
{
	rd_kafka_message_t *m;
	long long now, left;
	int timeout;

	status(s, 1);
	while (!yl_sig_term && !s->failed) {
		if (yl_sig_hup) {
			yl_sig_hup = 0;
			reload(s, config_path);
		}
		timeout = IDLE_POLL_MS;
		if (s->n > 0) {
			left = s->batch_start + s->batch_ms - yl_now_ms();
			timeout = left <= 0 ? 0 : left < IDLE_POLL_MS ?
			    (int)left : IDLE_POLL_MS;
		}
		if ((m = rd_kafka_consumer_poll(s->consumer, timeout)) != NULL)
			take(s, m);
		rd_kafka_poll(s->producer, 0);
		now = yl_now_ms();
		if (s->n > 0 && ((long long)s->n >= s->batch_size ||
		    now - s->batch_start >= s->batch_ms))
			flush(s, 1);
		status(s, 0);
		sto_metrics_archive(s->metrics, s->conf->db, s->st.archived +
		    s->st.inserted, 0);
		yl_notify_watchdog();
	}
	if (s->failed)
		sto_metrics_health(s->metrics, 0, "failed: needs a restart");
	return s->failed ? -1 : 0;
}

int
sto_drain(struct sto *s)
{
	rd_kafka_resp_err_t ce;
	int rc = 0;

	if (!s->failed)
		sto_metrics_health(s->metrics, 0, "stopping");
	yl_log_info("store: stopping: %zu messages in the open batch", s->n);
	if (flush(s, 1) == -1)
		rc = -1;
	if (!s->failed) {
		/* Synchronous: when we exit, Kafka knows what is archived. */
		ce = rd_kafka_commit(s->consumer, NULL, 0);
		if (ce != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    ce != RD_KAFKA_RESP_ERR__NO_OFFSET) {
			yl_log(YL_LOG_ERR, "kafka: commit: %s",
			    rd_kafka_err2str(ce));
			rc = -1;
		}
	}
	/* Leaves the group; the revoke it triggers finds nothing open. */
	if ((ce = rd_kafka_consumer_close(s->consumer)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		yl_log(YL_LOG_ERR, "kafka: consumer close: %s",
		    rd_kafka_err2str(ce));
		rc = -1;
	}
	if (rd_kafka_flush(s->producer, DRAIN_FLUSH_MS) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		yl_log(YL_LOG_ERR, "kafka: %d dead letters still undelivered",
		    rd_kafka_outq_len(s->producer));
		rc = -1;
	}
	if (s->failed)
		rc = -1;
	status(s, 1);
	yl_log_info("store: stopped: %lld new, %lld updated, %lld kept newer, "
	    "%lld dead-lettered", s->st.inserted, s->st.updated,
	    s->st.kept_newer, s->st.dead);
	return rc;
}

void
sto_free(struct sto **ps)
{
	struct sto *s;

	if (ps == NULL || (s = *ps) == NULL)
		return;
	batch_drop(s);
	free(s->batch);
	if (s->consumer != NULL)
		rd_kafka_destroy(s->consumer);
	if (s->producer != NULL)
		rd_kafka_destroy(s->producer);
	sto_db_free(&s->db);
	/* Last: the handles above may still report. */
	sto_metrics_free(&s->metrics);
	free(s);
	*ps = NULL;
}
