/* semver.c — SemVer parsing, ordering and Masterminds-style constraints. */
#include "semver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SV_MAX_TERMS 64 /* constraint terms (after hyphen-range rewrite) */

/* Reads a run of decimal digits into *out; false on none or on overflow. */
static bool sv_number(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	*pp = p;
	return true;
}

/* [0-9A-Za-z-] is the SemVer identifier alphabet. */
static bool sv_ident_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-';
}

/* Scans dot-separated identifiers from *pp up to a char outside the alphabet
 * and copies them to out.  Prerelease numerics may not have leading zeros. */
static bool sv_idents(const char **pp, bool pre, char *out, size_t cap)
{
	const char *start = *pp, *p = *pp;
	for (;;) {
		const char *id = p;
		bool numeric = true;
		for (; sv_ident_char(*p); p++)
			if (*p < '0' || *p > '9')
				numeric = false;
		if (p == id)
			return false; /* empty identifier */
		if (pre && numeric && p - id > 1 && *id == '0')
			return false;
		if (*p != '.')
			break;
		p++;
	}
	if ((size_t)(p - start) >= cap)
		return false;
	memcpy(out, start, (size_t)(p - start));
	out[p - start] = '\0';
	*pp = p;
	return true;
}

/* Parses the -pre and +meta tail at p into v; false when malformed. */
static bool sv_tail(const char **pp, struct semver *v)
{
	const char *p = *pp;
	v->pre[0] = v->meta[0] = '\0';
	if (*p == '-') {
		p++;
		if (!sv_idents(&p, true, v->pre, sizeof v->pre))
			return false;
	}
	if (*p == '+') {
		p++;
		if (!sv_idents(&p, false, v->meta, sizeof v->meta))
			return false;
	}
	*pp = p;
	return true;
}

/* The whole NewVersion grammar; false when s is not a version. */
static bool sv_parse(const char *s, struct semver *v)
{
	const char *p = s;
	uint64_t part[3] = { 0, 0, 0 };
	if (*p == 'v')
		p++;
	for (int i = 0; i < 3; i++) {
		if (i > 0 && *p != '.')
			break;
		if (i > 0)
			p++;
		if (!sv_number(&p, &part[i]))
			return false;
	}
	v->major = part[0], v->minor = part[1], v->patch = part[2];
	if (!sv_tail(&p, v))
		return false;
	return *p == '\0';
}

cd_rc semver_parse(const char *s, struct semver *v, cd_err *err)
{
	if (s == NULL || !sv_parse(s, v))
		return cd_fail(err, CD_EINVAL, "\"%.100s\" is not a valid semantic version",
		               s ? s : "");
	return CD_OK;
}

/* True when the identifier id[0..n) is all digits. */
static bool sv_all_digits(const char *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (id[i] < '0' || id[i] > '9')
			return false;
	return n > 0;
}

/* SemVer 2.0 rule 11.4 for one identifier pair: numbers by value (no leading
 * zeros, so longer is bigger), numbers before words, words in ASCII order. */
static int sv_cmp_ident(const char *a, size_t na, const char *b, size_t nb)
{
	bool da = sv_all_digits(a, na), db = sv_all_digits(b, nb);
	if (da != db)
		return da ? -1 : 1;
	if (da && na != nb)
		return na < nb ? -1 : 1;
	int c = memcmp(a, b, na < nb ? na : nb);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return na == nb ? 0 : (na < nb ? -1 : 1);
}

/* Orders two prerelease strings; "" (a release) sorts after any prerelease. */
static int sv_cmp_pre(const char *a, const char *b)
{
	if (*a == '\0' || *b == '\0')
		return (*a == '\0') - (*b == '\0');
	for (;;) {
		size_t na = strcspn(a, "."), nb = strcspn(b, ".");
		int c = sv_cmp_ident(a, na, b, nb);
		if (c != 0)
			return c;
		a += na, b += nb;
		if (*a == '\0' || *b == '\0')
			return (*a != '\0') - (*b != '\0');
		a++, b++;
	}
}

/* -1, 0, 1 for two unsigned numbers. */
static int sv_cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

int semver_compare(const struct semver *a, const struct semver *b)
{
	int c = sv_cmp_u64(a->major, b->major);
	if (c == 0)
		c = sv_cmp_u64(a->minor, b->minor);
	if (c == 0)
		c = sv_cmp_u64(a->patch, b->patch);
	if (c == 0)
		c = sv_cmp_pre(a->pre, b->pre);
	return c;
}

int semver_compare_str(const char *a, const char *b)
{
	struct semver va, vb;
	bool oka = a != NULL && sv_parse(a, &va);
	bool okb = b != NULL && sv_parse(b, &vb);
	if (oka && okb)
		return semver_compare(&va, &vb);
	if (oka != okb)
		return oka ? -1 : 1;
	int c = strcmp(a ? a : "", b ? b : "");
	return (c > 0) - (c < 0);
}

/* ---- constraints ------------------------------------------------------ */

enum sv_op { OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_TILDE, OP_CARET };

/* One comparison of an AND group.  Wildcard or missing parts are zero in v
 * and flagged: any_dirty (major is x), minor_dirty (1.x, "1"), patch_dirty. */
struct sv_term {
	enum sv_op op;
	struct semver v;
	bool any_dirty, minor_dirty, patch_dirty;
	int group;
};

struct sv_set {
	struct sv_term t[SV_MAX_TERMS];
	int n, ngroups;
};

/* True for the wildcard spellings x, X and *. */
static bool sv_is_x(char c)
{
	return c == 'x' || c == 'X' || c == '*';
}

/* Reads one constraint version part (number or wildcard); *wild tells which. */
static bool sv_cpart(const char **pp, uint64_t *out, bool *wild)
{
	if (sv_is_x(**pp)) {
		(*pp)++;
		*out = 0, *wild = true;
		return true;
	}
	*wild = false;
	return sv_number(pp, out);
}

/* Parses a constraint version token tok[0..n) ("1.2.x", "v1", "*") into t. */
static bool sv_cversion(const char *tok, size_t n, struct sv_term *t)
{
	char buf[300];
	const char *p = buf;
	uint64_t part[3] = { 0, 0, 0 };
	bool wild[3] = { false, true, true };
	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, tok, n);
	buf[n] = '\0';
	if (*p == 'v')
		p++;
	for (int i = 0; i < 3; i++) {
		if (i > 0 && *p != '.')
			break;
		if (i > 0)
			p++;
		if (!sv_cpart(&p, &part[i], &wild[i]))
			return false;
	}
	if (!sv_tail(&p, &t->v) || *p != '\0')
		return false;
	t->any_dirty = wild[0];
	t->minor_dirty = wild[0] || wild[1];
	t->patch_dirty = t->minor_dirty || wild[2];
	t->v.major = wild[0] ? 0 : part[0];
	t->v.minor = t->minor_dirty ? 0 : part[1];
	t->v.patch = t->patch_dirty ? 0 : part[2];
	return true;
}

/* Reads an operator at *pp (longest first); OP_EQ when there is none. */
static enum sv_op sv_read_op(const char **pp)
{
	static const struct { const char *s; enum sv_op op; } ops[] = {
		{ "!=", OP_NE }, { ">=", OP_GE }, { "=>", OP_GE }, { "<=", OP_LE },
		{ "=<", OP_LE }, { "~>", OP_TILDE }, { ">", OP_GT }, { "<", OP_LT },
		{ "=", OP_EQ }, { "~", OP_TILDE }, { "^", OP_CARET },
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t l = strlen(ops[i].s);
		if (strncmp(*pp, ops[i].s, l) == 0) {
			*pp += l;
			return ops[i].op;
		}
	}
	return OP_EQ;
}

/* Skips blanks (spaces and tabs). */
static const char *sv_skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Length of the version token at p: up to a blank, a comma or "|". */
static size_t sv_token_len(const char *p)
{
	return strcspn(p, " \t,|");
}

/* Appends a term to set; false when the set is full. */
static bool sv_push(struct sv_set *set, const struct sv_term *t)
{
	if (set->n >= SV_MAX_TERMS)
		return false;
	set->t[set->n] = *t;
	set->t[set->n].group = set->ngroups;
	set->n++;
	return true;
}

/* Parses one "op version" (or "a - b" hyphen range) at *pp into set. */
static bool sv_parse_term(const char **pp, struct sv_set *set)
{
	const char *p = *pp;
	struct sv_term t, hi;
	t.op = sv_read_op(&p);
	bool bare = p == *pp;
	p = sv_skip_ws(p);
	size_t n = sv_token_len(p);
	if (!sv_cversion(p, n, &t))
		return false;
	p += n;
	const char *q = sv_skip_ws(p);
	if (bare && q > p && q[0] == '-' && (q[1] == ' ' || q[1] == '\t')) {
		q = sv_skip_ws(q + 1);
		n = sv_token_len(q);
		if (!sv_cversion(q, n, &hi))
			return false;
		t.op = OP_GE, hi.op = OP_LE;
		*pp = q + n;
		return sv_push(set, &t) && sv_push(set, &hi);
	}
	*pp = p;
	return sv_push(set, &t);
}

/* Parses a whole constraint string into set; false when malformed. */
static bool sv_parse_constraint(const char *s, struct sv_set *set)
{
	const char *p = s;
	set->n = 0, set->ngroups = 0;
	for (;;) {
		int before = set->n;
		p = sv_skip_ws(p);
		while (*p != '\0' && *p != '|') {
			if (!sv_parse_term(&p, set))
				return false;
			p = sv_skip_ws(p);
			if (*p == ',')
				p = sv_skip_ws(p + 1);
		}
		if (set->n == before)
			return false; /* empty group */
		set->ngroups++;
		if (*p == '\0')
			return true;
		if (strncmp(p, "||", 2) != 0)
			return false;
		p += 2;
	}
}

/* ~1.2.3 is >=1.2.3 <1.3.0; ~1 and ~1.x are >=1.0.0 <2.0.0. */
static bool sv_tilde(const struct semver *v, const struct sv_term *t)
{
	if (t->any_dirty)
		return true;
	if (semver_compare(v, &t->v) < 0 || v->major != t->v.major)
		return false;
	return t->minor_dirty || v->minor == t->v.minor;
}

/* ^1.2.3 is <2.0.0; ^0.2.3 is <0.3.0; ^0.0.3 is exactly 0.0.3. */
static bool sv_caret(const struct semver *v, const struct sv_term *t)
{
	if (t->any_dirty)
		return true;
	if (semver_compare(v, &t->v) < 0)
		return false;
	if (t->v.major > 0 || t->minor_dirty)
		return v->major == t->v.major;
	if (v->major > 0)
		return false;
	if (t->v.minor > 0 || t->patch_dirty)
		return v->minor == t->v.minor;
	return v->minor == 0 && v->patch == t->v.patch;
}

/* ">1.x" means a later major, ">1.2.x" a later minor (Masterminds). */
static bool sv_greater(const struct semver *v, const struct sv_term *t)
{
	if (t->any_dirty)
		return false;
	if (!t->patch_dirty)
		return semver_compare(v, &t->v) > 0;
	if (v->major != t->v.major)
		return v->major > t->v.major;
	return !t->minor_dirty && v->minor > t->v.minor;
}

/* "<=1.x" includes all of 1.x, "<=1.2.x" all of 1.2.x. */
static bool sv_less_equal(const struct semver *v, const struct sv_term *t)
{
	if (t->any_dirty)
		return true;
	if (!t->patch_dirty)
		return semver_compare(v, &t->v) <= 0;
	if (v->major != t->v.major)
		return v->major < t->v.major;
	return t->minor_dirty || v->minor <= t->v.minor;
}

/* One term against one version. */
static bool sv_term_ok(const struct semver *v, const struct sv_term *t)
{
	switch (t->op) {
	case OP_EQ:
		if (t->patch_dirty)
			return sv_tilde(v, t);
		return semver_compare(v, &t->v) == 0;
	case OP_NE:
		if (t->patch_dirty) /* "!=1.2.x": outside 1.2.x */
			return !sv_tilde(v, t);
		return semver_compare(v, &t->v) != 0;
	case OP_GT: return sv_greater(v, t);
	case OP_GE: return t->any_dirty || semver_compare(v, &t->v) >= 0;
	case OP_LT: return !t->any_dirty && semver_compare(v, &t->v) < 0;
	case OP_LE: return sv_less_equal(v, t);
	case OP_TILDE: return sv_tilde(v, t);
	case OP_CARET: return sv_caret(v, t);
	}
	return false;
}

/* True when every term of group g accepts v; a prerelease v needs a term of
 * the group that names a prerelease. */
static bool sv_group_ok(const struct sv_set *set, int g, const struct semver *v)
{
	bool pre_allowed = false;
	for (int i = 0; i < set->n; i++)
		if (set->t[i].group == g && set->t[i].v.pre[0] != '\0')
			pre_allowed = true;
	if (v->pre[0] != '\0' && !pre_allowed)
		return false;
	for (int i = 0; i < set->n; i++)
		if (set->t[i].group == g && !sv_term_ok(v, &set->t[i]))
			return false;
	return true;
}

/* True when some OR group accepts v. */
static bool sv_set_ok(const struct sv_set *set, const struct semver *v)
{
	for (int g = 0; g < set->ngroups; g++)
		if (sv_group_ok(set, g, v))
			return true;
	return false;
}

/* The highest of versions[] accepted by set; false when none is. */
static bool sv_pick(const struct sv_set *set, const char *const *versions, size_t n,
                    size_t *best)
{
	struct semver cur, top;
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		if (versions[i] == NULL || !sv_parse(versions[i], &cur) || !sv_set_ok(set, &cur))
			continue;
		if (!found || semver_compare(&cur, &top) > 0) {
			top = cur, *best = i;
			found = true;
		}
	}
	return found;
}

cd_rc semver_constraint_best(const char *constraint, const char *const *versions,
                             size_t n, size_t *best, cd_err *err)
{
	struct sv_set *set = malloc(sizeof *set); /* ~20 KiB: off the stack */
	cd_rc rc = CD_OK;
	if (set == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (constraint == NULL || !sv_parse_constraint(constraint, set))
		rc = cd_fail(err, CD_EINVAL, "version constraint \"%.100s\" is invalid",
		             constraint ? constraint : "");
	else if (!sv_pick(set, versions, n, best))
		rc = cd_fail(err, CD_ENOTFOUND, "no version matches \"%.100s\"", constraint);
	free(set);
	return rc;
}
