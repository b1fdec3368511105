/*
 * store_db.c - the archive behind a small vtable, so that the daemon and
 * `yalu query` never name a storage engine. SQLite is the one backend
 * (store_sqlite.c); another would be one more file and one more table
 * entry.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sto_int.h"

struct sto_db {
	const struct sto_backend	*be;
	void				*h;
};

struct sto_db *
sto_db_open(const char *path, int flags, char *err, size_t errsz)
{
	const struct sto_backend *be = &sto_sqlite_backend;
	struct sto_db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	db->be = be;
	if ((db->h = be->open(path, flags, err, errsz)) == NULL) {
		free(db);
		return NULL;
	}
	return db;
}

void
sto_db_free(struct sto_db **pdb)
{
	struct sto_db *db;

	if (pdb == NULL || (db = *pdb) == NULL)
		return;
	db->be->close(db->h);
	free(db);
	*pdb = NULL;
}

int
sto_db_begin(struct sto_db *db, int flags, char *err, size_t errsz)
{
	return db->be->begin(db->h, flags, err, errsz);
}

int
sto_db_put(struct sto_db *db, const struct sto_rec *rec,
    enum sto_outcome *outcome, char *err, size_t errsz)
{
	return db->be->put(db->h, rec, outcome, err, errsz);
}

int
sto_db_commit(struct sto_db *db, char *err, size_t errsz)
{
	return db->be->commit(db->h, err, errsz);
}

void
sto_db_rollback(struct sto_db *db)
{
	db->be->rollback(db->h);
}

int
sto_db_count(struct sto_db *db, const struct sto_filter *f, long long *out,
    char *err, size_t errsz)
{
	return db->be->count(db->h, f, out, err, errsz);
}

int
sto_db_query(struct sto_db *db, const struct sto_filter *f, sto_row_fn fn,
    void *arg, char *err, size_t errsz)
{
	return db->be->query(db->h, f, fn, arg, err, errsz);
}
