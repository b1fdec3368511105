/*
 * report.h - the report model and its JSON form, the message on reports.raw.
 *
 *   {"id": "r-5f0c...", "source": "...", "received_at": "2026-11-24T10:00:00Z",
 *    "published_at": "...", "title": "...", "body": "...", "meta": {...}}
 *
 * Only "body" is required. Strings are strict UTF-8 (jansson refuses
 * anything else, and "\u0000"); "meta" must be an object.
 */
#ifndef YALU_REPORT_H
#define YALU_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct yl_report {
	char	*id;
	char	*source;
	char	*received_at;
	char	*published_at;
	char	*title;
	char	*body;		/* NUL-terminated, no NUL inside */
	size_t	 body_len;
	json_t	*meta;		/* object or NULL, owned */
};

#define YL_REPORT_STRICT	0x1	/* unknown top-level fields are errors */
#define YL_REPORT_EXTRA_OK	0x2	/* ignore ruleset/tags/... of tagged form */

/*
 * Parses one JSON report from buf[0..len). Returns 0 and *out, or -1 with
 * the reason in err ("line 1 col 17: unexpected token", "body: missing").
 */
int	yl_report_parse(const char *buf, size_t len, int flags,
	    struct yl_report **out, char *err, size_t errsz);
/* Same from a parsed object (borrowed). */
int	yl_report_from_json(json_t *obj, int flags, struct yl_report **out,
	    char *err, size_t errsz);
/* Builds a report from a raw body (copied). */
struct yl_report *yl_report_new(const char *body, size_t len);
/* New reference: an object with every field that is set. */
json_t	*yl_report_to_json(const struct yl_report *);
void	 yl_report_free(struct yl_report **);

/* Sets a string field (copies); 0 or -1. */
int	 yl_report_set(char **field, const char *val);
/*
 * The content id of a body: "r-" and 16 hex digits of a 64-bit FNV-1a hash
 * over the body with white space runs folded, so that the same text sent
 * twice, even re-wrapped, gets the same id. Writes into buf (>= 20 bytes).
 */
void	 yl_report_content_id(const char *body, size_t len, char *buf,
	    size_t bufsz);

/* 64-bit FNV-1a, chained through h (start with YL_FNV_OFFSET). */
#define YL_FNV_OFFSET	0xcbf29ce484222325ULL
uint64_t yl_hash64(uint64_t h, const void *p, size_t len);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (>= 32 bytes). */
void	 yl_now_iso(char *buf, size_t bufsz);

#endif
