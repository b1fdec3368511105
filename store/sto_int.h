/*
 * sto_int.h - yalu-store's private interfaces, shared by the files of
 * store/ and the unit tests (tests/unit/check_store.c).
 *
 * The pieces, one concern per file:
 *   store_conf.c    the config table, loading and SIGHUP reload
 *   store_record.c  decoding a reports.tagged message into a sto_rec,
 *                   dates, ruleset ordering
 *   store_db.c      the backend vtable and the calls that dispatch to it
 *   store_sqlite.c  the SQLite backend: schema, upsert, queries
 *   store_kafka.c   consumer, batches, offsets, rebalances, dead letters
 *   store_output.c  `yalu query` output: table, jsonl, csv
 *   sto_cmd_query.c `yalu query` itself
 */
#ifndef YALU_STO_INT_H
#define YALU_STO_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "yalu/conf.h"
#include "yalu/kafka.h"
#include "yalu/metrics.h"
#include "yalu/report.h"

#include "store.h"

#define STO_DEFAULT_DB		"/var/lib/yalu/archive.db"
#define STO_DEFAULT_GROUP	"yalu-store"

/* ---------------------------------------------------------------- config */

struct sto_conf {
	struct yl_kv		 kafka;	/* to librdkafka verbatim */
	struct yl_topics	 topics;
	char			*group;	/* consumer group id */
	char			*db;	/* archive path */
	long long		 batch_size;	/* messages per commit */
	long long		 batch_ms;	/* or ms after the first */
	struct yl_metrics_conf	 metrics;	/* /metrics and /health */
};

extern const struct yl_confkey sto_conf_spec[];

/*
 * Loads path into c (zeroed by the caller) over the defaults. Returns 0,
 * or -1 with every problem, "path:line:col: problem", in errs. Checks the
 * kafka map too.
 */
int	sto_conf_load(const char *path, struct sto_conf *c,
	    struct yl_errs *errs);
void	sto_conf_release(struct sto_conf *c);

/* ---------------------------------------------------------------- records */

/* The facets of TAGS.md that are lists of tags, in output order. */
extern const char *const sto_facets[];	/* NULL-terminated */
#define STO_NFACETS	6

/* Relevance levels, in rank order: none < low < medium < high. */
extern const char *const sto_relevance_levels[];	/* NULL-terminated */
/* The rank of a relevance name (0..3), or -1. */
int	sto_relevance_rank(const char *name);

/*
 * One tagged report, as decoded from reports.tagged or read back from the
 * archive. Every string is owned.
 */
struct sto_rec {
	/* id, source, dates, title, body, meta */
	struct yl_report *rep;
	char		*ruleset;
	char		*classified_at;	/* may be NULL */
	char		*relevance;	/* tags.sanctions.relevance */
	/* published_at, else received_at, normalized; NULL if neither
	   parses */
	char		*dated_at;
	json_t		*tags;		/* TAGS.md object */
	/*
	 * The tags object as the message spelled it (decode sets it when
	 * it can find it), so the archive stores it without dumping tags
	 * again; NULL otherwise. Not NUL-terminated.
	 */
	char		*tags_text;
	size_t		 tags_len;
	/* Filled when read back from the archive. */
	char		*archived_at;
	char		*updated_at;
	int32_t		 partition;	/* -1 when not from Kafka */
	int64_t		 offset;
};

/*
 * Decodes one reports.tagged value buf[0..len) strictly: the report
 * (YL_REPORT_STRICT | YL_REPORT_EXTRA_OK), a non-empty "id", a "ruleset",
 * "classified_at" if present a string, and "tags" shaped as in TAGS.md
 * (facets of tag objects with evidence inside the body, "sanctions" with
 * a known relevance and provisions). Returns 0 and a new *out, or -1 with
 * "field: problem" in err.
 */
int	sto_rec_decode(const char *buf, size_t len, struct sto_rec **out,
	    char *err, size_t errsz);
struct sto_rec *sto_rec_new(void);
void	sto_rec_free(struct sto_rec **);
/* New reference: the report in its tagged wire form plus "archive". */
json_t	*sto_rec_to_json(const struct sto_rec *);

/*
 * Normalizes an ISO 8601 date or date-time into out: "YYYY-MM-DD" for a
 * date, "YYYY-MM-DDTHH:MM:SSZ" in UTC for a time (an offset is applied,
 * none means UTC; fractions of a second are dropped). Also accepts
 * "YYYY-MM" and "YYYY" as prefixes, for --since and --until. Returns 0,
 * or -1 if s is not such a date.
 */
int	sto_iso_norm(const char *s, char *out, size_t outsz);

/* ---------------------------------------------------------------- backend */

/* What a put did with one record. */
enum sto_outcome {
	STO_INSERTED,		/* new report */
	STO_UPDATED,		/* archived already: replaced in place */
	STO_KEPT_NEWER,		/* archived by a newer ruleset: kept */
	STO_REJECTED		/* this record alone failed (err says why);
				   the rest of the batch goes on */
};

/* Filters of `yalu query`; NULL or -1 means "any". AND together. */
struct sto_filter {
	const char	*commodity;
	const char	*direction;	/* of commodity, if given */
	const char	*crossing;
	const char	*country;
	const char	*entity;
	const char	*method;
	const char	*mode;
	const char	*provision;
	int		 min_relevance;	/* rank; -1 any */
	char		 since[32];	/* sto_iso_norm'ed; "" any */
	char		 until[32];	/* inclusive prefix; "" any */
	const char	*text;		/* words, all must match */
	long long	 limit;		/* 0: no limit */
};

/* Called for each report a query returns; non-zero stops the query. */
typedef int (*sto_row_fn)(const struct sto_rec *, void *arg);

#define STO_DB_RDONLY	0x1	/* open read-only, never create */

/*
 * begin flag: each put in its own savepoint, so that a record the archive
 * refuses (STO_REJECTED) is undone alone. Without it puts are cheaper but
 * any failure fails the transaction: the daemon writes batches without
 * it and redoes a failed batch with it.
 */
#define STO_TX_ISOLATE	0x1

/*
 * A storage backend. Every function returns 0 or -1 with the reason in
 * err; h is the backend's own handle. Writes happen between begin and
 * commit, one transaction per batch; put never commits by itself.
 */
struct sto_backend {
	const char	*name;
	void		*(*open)(const char *path, int flags, char *err,
			    size_t errsz);
	void		 (*close)(void *h);
	int		 (*begin)(void *h, int flags, char *err,
			    size_t errsz);
	/*
	 * Archives rec. -1 for a failure of the whole transaction (I/O,
	 * disk full, lock; without STO_TX_ISOLATE, any failure): the caller
	 * rolls back. With STO_TX_ISOLATE, a failure of this record alone
	 * is 0 with *outcome STO_REJECTED and err set.
	 */
	int		 (*put)(void *h, const struct sto_rec *rec,
			    enum sto_outcome *outcome, char *err,
			    size_t errsz);
	int		 (*commit)(void *h, char *err, size_t errsz);
	void		 (*rollback)(void *h);
	int		 (*count)(void *h, const struct sto_filter *,
			    long long *out, char *err, size_t errsz);
	int		 (*query)(void *h, const struct sto_filter *,
			    sto_row_fn fn, void *arg, char *err,
			    size_t errsz);
};

extern const struct sto_backend sto_sqlite_backend;

struct sto_db;

/* Opens the archive at path (created unless STO_DB_RDONLY). */
struct sto_db	*sto_db_open(const char *path, int flags, char *err,
		    size_t errsz);
void		 sto_db_free(struct sto_db **);
int		 sto_db_begin(struct sto_db *, int flags, char *err,
		    size_t errsz);
int		 sto_db_put(struct sto_db *, const struct sto_rec *,
		    enum sto_outcome *, char *err, size_t errsz);
int		 sto_db_commit(struct sto_db *, char *err, size_t errsz);
void		 sto_db_rollback(struct sto_db *);
int		 sto_db_count(struct sto_db *, const struct sto_filter *,
		    long long *out, char *err, size_t errsz);
int		 sto_db_query(struct sto_db *, const struct sto_filter *,
		    sto_row_fn, void *arg, char *err, size_t errsz);

/*
 * Turns user words into an FTS5 query that matches reports containing all
 * of them: every word becomes a quoted string ("" doubled inside), a
 * trailing '*' stays a prefix search. NULL if there is no word. Caller
 * frees.
 */
char	*sto_fts_query(const char *words);

/* ---------------------------------------------------------------- output */

enum sto_format { STO_FMT_TABLE, STO_FMT_JSONL, STO_FMT_CSV };

struct sto_out;

struct sto_out	*sto_out_new(enum sto_format, FILE *fp);
/* Writes (jsonl, csv) or buffers (table) one report. 0 or -1. */
int		 sto_out_row(struct sto_out *, const struct sto_rec *);
/* Writes what is buffered and frees. 0, or -1 on a write error. */
int		 sto_out_end(struct sto_out **);

/* Writes s as one RFC 4180 field (quoted when it must be). */
void	sto_csv_field(FILE *fp, const char *s);
/*
 * The tags of one facet joined with ',' ("seafood/export,coal/export" for
 * commodities). Caller frees; "" when the facet is empty.
 */
char	*sto_facet_join(const json_t *tags, const char *facet);
/* The provision ids joined with ','. Caller frees. */
char	*sto_provisions_join(const json_t *tags);

/* ---------------------------------------------------------------- metrics */

/*
 * yalu_store_* metrics (store_metrics.c): the registry, its endpoint when
 * conf has a port (a thread: create after yl_daemon_detach), and the
 * handles of the series. Every call accepts a NULL sm.
 */
struct sto_metrics;

/* Why a message became a dead letter: the reason labels. */
enum sto_dead_reason { STO_DEAD_EMPTY, STO_DEAD_UNDECODABLE,
	STO_DEAD_REJECTED, STO_DEAD_MAX };

struct sto_metrics *sto_metrics_new(const struct yl_metrics_conf *conf,
		    char *err, size_t errsz);
void		 sto_metrics_free(struct sto_metrics **);
struct yl_metrics *sto_metrics_registry(struct sto_metrics *);
void		 sto_metrics_consumed(struct sto_metrics *);
/* A batch committed: what it wrote, how many messages, in how long. */
void		 sto_metrics_batch(struct sto_metrics *, long long inserted,
		    long long updated, long long kept_newer, size_t messages,
		    double seconds);
/* A batch not archived (the transaction failed). */
void		 sto_metrics_batch_failed(struct sto_metrics *);
void		 sto_metrics_dead(struct sto_metrics *, enum sto_dead_reason);
/* A dead letter Kafka did not confirm. */
void		 sto_metrics_delivery_failed(struct sto_metrics *);
/* An offset commit to Kafka that failed. */
void		 sto_metrics_commit_failed(struct sto_metrics *);
/*
 * The archive's size on disk (db plus its -wal file) and report count; the
 * stat is skipped when the last one was under a second ago, unless force.
 */
void		 sto_metrics_archive(struct sto_metrics *, const char *db_path,
		    long long reports, int force);
/* One librdkafka statistics document: yalu_store_consumer_lag. */
void		 sto_metrics_lag(struct sto_metrics *, const char *json,
		    size_t len);
/* GET /health: 200 "ok", or 503 with why ("starting", "stopping"). */
void		 sto_metrics_health(struct sto_metrics *, int ok,
		    const char *why);

/* ---------------------------------------------------------------- daemon */

struct sto_stats {
	long long	inserted, updated, kept_newer;
	long long	dead;		/* dead-lettered */
	long long	batches;
	long long	archived;	/* reports in the archive at start */
};

struct sto;

/*
 * Opens the archive and Kafka (DLQ producer, consumer subscribed to the
 * tagged topic, topics ensured). Borrows c until sto_free; NULL with the
 * reason in err.
 */
struct sto	*sto_new(const struct sto_conf *c, char *err, size_t errsz);
/*
 * Consumes until SIGTERM (yl_sig_term), reloading on SIGHUP. Returns 0
 * after a clean drain, -1 after a failure that needs a restart.
 */
int		 sto_run(struct sto *, const char *config_path);
/*
 * Finishes the batch in progress, stores and commits offsets, closes the
 * consumer and flushes the producer. 0 or -1.
 */
int		 sto_drain(struct sto *);
void		 sto_free(struct sto **);
const struct sto_stats *sto_stats(const struct sto *);

#endif
