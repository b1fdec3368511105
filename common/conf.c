/*
 * conf.c - table-driven, strict YAML config loading.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "yalu/conf.h"

#define FIELD(base, off, type)	((type *)(void *)((char *)(base) + (off)))

void
yl_strlist_clear(struct yl_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
yl_strlist_add(struct yl_strlist *l, const char *s)
{
	char **v, *d;

	if ((d = strdup(s)) == NULL)
		return -1;
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		free(d);
		return -1;
	}
	l->v = v;
	l->v[l->n++] = d;
	return 0;
}

void
yl_kv_clear(struct yl_kv *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		free(kv->key[i]);
		free(kv->val[i]);
	}
	free(kv->key);
	free(kv->val);
	memset(kv, 0, sizeof(*kv));
}

int
yl_kv_set(struct yl_kv *kv, const char *key, const char *val)
{
	char **k, **v, *dk, *dv;
	size_t i;

	if ((dv = strdup(val)) == NULL)
		return -1;
	for (i = 0; i < kv->n; i++)
		if (strcmp(kv->key[i], key) == 0) {
			free(kv->val[i]);
			kv->val[i] = dv;
			return 0;
		}
	if ((dk = strdup(key)) == NULL) {
		free(dv);
		return -1;
	}
	if ((k = realloc(kv->key, (kv->n + 1) * sizeof(*k))) == NULL)
		goto fail;
	kv->key = k;
	if ((v = realloc(kv->val, (kv->n + 1) * sizeof(*v))) == NULL)
		goto fail;
	kv->val = v;
	kv->key[kv->n] = dk;
	kv->val[kv->n] = dv;
	kv->n++;
	return 0;
fail:
	free(dk);
	free(dv);
	return -1;
}

int
yl_parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "true", "yes", "on", NULL };
	static const char *no[] = { "false", "no", "off", NULL };
	int i;

	for (i = 0; yes[i]; i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
	for (i = 0; no[i]; i++)
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	return -1;
}

int
yl_conf_defaults(const struct yl_confkey *spec, void *base)
{
	const struct yl_confkey *k;

	for (k = spec; k->name != NULL; k++) {
		switch (k->kind) {
		case YL_CONF_STR:
			if (k->sdef != NULL &&
			    (*FIELD(base, k->off, char *) = strdup(k->sdef)) ==
			    NULL)
				return -1;
			break;
		case YL_CONF_INT:
			*FIELD(base, k->off, long long) = k->idef;
			break;
		case YL_CONF_BOOL:
			*FIELD(base, k->off, int) = (int)k->idef;
			break;
		case YL_CONF_SECTION:
			if (yl_conf_defaults(k->sub, (char *)base + k->off) ==
			    -1)
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

void
yl_conf_release(const struct yl_confkey *spec, void *base)
{
	const struct yl_confkey *k;

	for (k = spec; k->name != NULL; k++) {
		switch (k->kind) {
		case YL_CONF_STR:
			free(*FIELD(base, k->off, char *));
			*FIELD(base, k->off, char *) = NULL;
			break;
		case YL_CONF_STRLIST:
			yl_strlist_clear(FIELD(base, k->off, struct yl_strlist));
			break;
		case YL_CONF_KV:
			yl_kv_clear(FIELD(base, k->off, struct yl_kv));
			break;
		case YL_CONF_SECTION:
			yl_conf_release(k->sub, (char *)base + k->off);
			break;
		default:
			break;
		}
	}
}

static int
apply_key(const struct yl_ydoc *doc, const struct yl_confkey *k,
    const struct yl_ynode *v, void *base, struct yl_errs *errs)
{
	size_t i;

	switch (k->kind) {
	case YL_CONF_STR:
		if (v->type != YL_Y_SCALAR) {
			yl_errs_at(errs, doc, v, "%s: expected a string, got %s",
			    k->name, yl_ytype_name(v->type));
			return -1;
		}
		free(*FIELD(base, k->off, char *));
		*FIELD(base, k->off, char *) = strdup(v->str);
		return 0;
	case YL_CONF_INT: {
		char *end;
		long long x;

		if (v->type != YL_Y_SCALAR || !v->plain) {
			yl_errs_at(errs, doc, v, "%s: expected an integer",
			    k->name);
			return -1;
		}
		errno = 0;
		x = strtoll(v->str, &end, 10);
		if (errno != 0 || end == v->str || *end != '\0') {
			yl_errs_at(errs, doc, v, "%s: '%s' is not an integer",
			    k->name, v->str);
			return -1;
		}
		if (x < k->min || x > k->max) {
			yl_errs_at(errs, doc, v, "%s: %lld is out of range "
			    "[%lld, %lld]", k->name, x, k->min, k->max);
			return -1;
		}
		*FIELD(base, k->off, long long) = x;
		return 0;
	}
	case YL_CONF_BOOL: {
		int b;

		if (v->type != YL_Y_SCALAR || yl_parse_bool(v->str, &b) == -1) {
			yl_errs_at(errs, doc, v, "%s: expected true or false",
			    k->name);
			return -1;
		}
		*FIELD(base, k->off, int) = b;
		return 0;
	}
	case YL_CONF_STRLIST: {
		struct yl_strlist *l = FIELD(base, k->off, struct yl_strlist);
		int bad = 0;

		if (v->type != YL_Y_SEQ) {
			yl_errs_at(errs, doc, v, "%s: expected a list of strings",
			    k->name);
			return -1;
		}
		yl_strlist_clear(l);
		for (i = 0; i < v->n; i++) {
			if (v->kids[i]->type != YL_Y_SCALAR) {
				yl_errs_at(errs, doc, v->kids[i],
				    "%s: expected a string, got %s", k->name,
				    yl_ytype_name(v->kids[i]->type));
				bad = 1;
			} else if (yl_strlist_add(l, v->kids[i]->str) == -1)
				bad = 1;
		}
		return bad ? -1 : 0;
	}
	case YL_CONF_KV: {
		struct yl_kv *kv = FIELD(base, k->off, struct yl_kv);
		int bad = 0;

		if (v->type != YL_Y_MAP) {
			yl_errs_at(errs, doc, v, "%s: expected a map of "
			    "property: value", k->name);
			return -1;
		}
		for (i = 0; i + 1 < v->n; i += 2) {
			const struct yl_ynode *kk = v->kids[i], *vv =
			    v->kids[i + 1];

			if (kk->type != YL_Y_SCALAR ||
			    vv->type != YL_Y_SCALAR) {
				yl_errs_at(errs, doc, vv, "%s: property values "
				    "must be scalars", k->name);
				bad = 1;
				continue;
			}
			if (yl_kv_set(kv, kk->str, vv->str) == -1)
				bad = 1;
		}
		return bad ? -1 : 0;
	}
	case YL_CONF_SECTION:
		if (v->type != YL_Y_MAP) {
			yl_errs_at(errs, doc, v, "%s: expected a map", k->name);
			return -1;
		}
		return yl_conf_apply(doc, v, k->sub, (char *)base + k->off,
		    errs);
	}
	return -1;
}

int
yl_conf_apply(const struct yl_ydoc *doc, const struct yl_ynode *map,
    const struct yl_confkey *spec, void *base, struct yl_errs *errs)
{
	const struct yl_confkey *k;
	size_t i, j;
	int bad = 0;

	if (map == NULL)
		return 0;
	if (map->type != YL_Y_MAP) {
		yl_errs_at(errs, doc, map, "expected a map of settings");
		return -1;
	}
	for (i = 0; i + 1 < map->n; i += 2) {
		const struct yl_ynode *key = map->kids[i];

		if (key->type != YL_Y_SCALAR) {
			yl_errs_at(errs, doc, key, "keys must be strings");
			bad = 1;
			continue;
		}
		for (j = 0; j < i; j += 2)
			if (map->kids[j]->type == YL_Y_SCALAR &&
			    strcmp(map->kids[j]->str, key->str) == 0) {
				yl_errs_at(errs, doc, key, "duplicate key '%s' "
				    "(first at line %d)", key->str,
				    map->kids[j]->line);
				bad = 1;
			}
		for (k = spec; k->name != NULL; k++)
			if (strcmp(k->name, key->str) == 0)
				break;
		if (k->name == NULL) {
			yl_errs_at(errs, doc, key, "unknown key '%s'", key->str);
			bad = 1;
			continue;
		}
		if (apply_key(doc, k, map->kids[i + 1], base, errs) == -1)
			bad = 1;
	}
	return bad ? -1 : 0;
}

int
yl_conf_load(const char *path, const struct yl_confkey *spec, void *base,
    struct yl_errs *errs)
{
	char err[1024];
	struct yl_ydoc *doc;
	int rc;

	if ((doc = yl_ydoc_load(path, err, sizeof(err))) == NULL) {
		yl_errs_raw(errs, err);
		return -1;
	}
	rc = yl_conf_apply(doc, doc->root, spec, base, errs);
	yl_ydoc_free(&doc);
	return rc;
}
