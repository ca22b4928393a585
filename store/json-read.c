/*
 * json-read.c - the strict JSON reader (see json.h); json-write.c writes
 * what it reads, json-equal.c compares the trees.
 *
 * The reader is an explicit-stack state machine, not a recursive descent:
 * a page is untrusted input, and nesting must cost heap frames that the
 * depth limit caps, never C stack.  It keeps no path text while it works;
 * each open container remembers only its member count and the name of the
 * member being read, and the path is rendered when an error is reported.
 *
 * cJSON is used only for the tree.  Every allocation failure aborts, as in
 * buf.c: a half-built tree is of no use to anyone.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json-internal.h"

#define JSON_DEFAULT_DEPTH 64

/* Objects with fewer members than this find duplicate keys by comparing
 * the hashes of their names in a list; bigger ones switch to a hash table
 * so that thousands of keys stay linear. */
#define JSON_LINEAR_KEYS 16

/* Open containers kept inside the parser, since pages are rarely deeper.
 * A heap block of a kilobyte or more makes glibc consolidate all its free
 * small chunks first, which slowed a parse that follows the freeing of a
 * big tree by a third. */
#define JSON_INLINE_FRAMES 8

void json_die(void)
{
	fputs("flokvm: out of memory\n", stderr);
	abort();
}

static cJSON *json_new(cJSON *v)
{
	if (!v)
		json_die();
	return v;
}

/* The powers of ten that are exact doubles. */
const double json_exact_pow10[] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* ---- UTF-8 ---------------------------------------------------------- */

/*
 * Returns the offset of the first byte of the first invalid sequence in
 * s[0..len), or len when all of it is UTF-8.  Overlong forms, UTF-16
 * surrogates (U+D800..U+DFFF) and code points above U+10FFFF are invalid;
 * the allowed second-byte ranges below are what excludes them.
 */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned char c, lo, hi;
	uint64_t w;

	while (i < len) {
		/* Pages are mostly ASCII: skip it eight bytes at a time. */
		if (len - i >= 8) {
			memcpy(&w, s + i, 8);
			if (!(w & UINT64_C(0x8080808080808080))) {
				i += 8;
				continue;
			}
		}
		c = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong below U+0800 */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return i; /* continuation byte, 0xc0, 0xc1 or 0xf5.. */
		}
		if (len - i <= n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (k = 2; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += n + 1;
	}
	return len;
}

static void utf8_put(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, u, n);
}

/* ---- the reader's state --------------------------------------------- */

/* One member name of a big object; live only while gen matches the
 * object's, so a depth's table is reused without clearing. */
struct keyslot {
	const char *key; /* owned by the tree */
	uint64_t hash;
	uint64_t gen;
};

/* One open array or object.  Frames are kept when popped so that the next
 * container at the same depth reuses the key table. */
struct frame {
	cJSON *node;     /* owned by the tree */
	int obj;         /* 1 for an object */
	size_t n;        /* members attached so far */
	const char *key; /* object: name of the member last attached */
	uint64_t hashes[JSON_LINEAR_KEYS]; /* of the first members' names */
	uint64_t gen;    /* object in hash mode: its generation, else 0 */
	struct keyslot *slots;
	size_t cap, used;
};

struct parser {
	const char *text, *end;
	int max_depth;
	size_t wrappers;  /* json_opts.wrappers: levels that do not count */
	struct frame *frames;  /* inline, or on the heap when deeper */
	size_t depth, nframes; /* open containers; frames available */
	struct frame inline_frames[JSON_INLINE_FRAMES];
	uint64_t gen;          /* last generation handed out */
	struct buf key;        /* the member name just read */
	uint64_t key_hash;
	struct buf str;        /* string values, long numbers */
	cJSON *root;
	struct fk_err *err;
};

static void locate(const char *text, const char *at, size_t *line,
		   size_t *col)
{
	const char *bol = text, *nl;

	*line = 1;
	while ((nl = memchr(bol, '\n', (size_t)(at - bol)))) {
		(*line)++;
		bol = nl + 1;
	}
	*col = (size_t)(at - bol) + 1;
}

/* The path of the value being read.  Every open container but the top one
 * is in the middle of reading its last attached member; the top one's own
 * member counts only when pending (a value was due or is half read). */
static void render_path(const struct parser *p, int pending, struct buf *path)
{
	const struct frame *f;
	size_t i;
	int top;

	for (i = 0; i < p->depth; i++) {
		f = &p->frames[i];
		top = i + 1 == p->depth;
		if (top && !pending)
			break;
		if (!f->obj)
			json_path_index(path, top ? f->n : f->n - 1);
		else
			json_path_key(path, top ? p->key.p : f->key);
	}
}

/*
 * Shortens b to about max bytes by replacing its middle with "...", cutting
 * only between UTF-8 characters, so that a huge key or a path thousands of
 * levels deep cannot push the problem itself out of the message.
 */
static void clip_middle(struct buf *b, size_t max)
{
	size_t head, tail;

	if (b->len <= max)
		return;
	head = max / 2 - 2;
	tail = b->len - (max / 2 - 2);
	while (head > 0 && ((unsigned char)b->p[head] & 0xc0) == 0x80)
		head--;
	while (tail < b->len && ((unsigned char)b->p[tail] & 0xc0) == 0x80)
		tail++;
	memcpy(b->p + head, "...", 3);
	memmove(b->p + head + 3, b->p + tail, b->len - tail + 1);
	b->len = head + 3 + (b->len - tail);
}

/*
 * Fills p->err with "line L, column C: PATH: problem" for the byte at and
 * returns FK_EDATA.  pending says whether PATH includes the member the top
 * container is reading (see render_path).
 */
static int parse_fail(struct parser *p, const char *at, int pending,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int parse_fail(struct parser *p, const char *at, int pending,
		      const char *fmt, ...)
{
	char problem[1024];
	struct buf path = {0};
	size_t line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	locate(p->text, at, &line, &col);
	render_path(p, pending, &path);
	clip_middle(&path, 960);
	fk_fail(p->err, FK_EDATA, "line %zu, column %zu: %s%s%s", line, col,
		path.len ? path.p : "", path.len ? ": " : "", problem);
	buf_release(&path);
	return FK_EDATA;
}

/* Describes the byte at for "expected X, found Y" messages. */
static const char *found(const struct parser *p, const char *at, char *tmp,
			 size_t size)
{
	unsigned char c;

	if (at == p->end)
		return "end of input";
	c = (unsigned char)*at;
	if (c > 0x20 && c < 0x7f)
		snprintf(tmp, size, "'%c'", c);
	else
		snprintf(tmp, size, "byte 0x%02x", c);
	return tmp;
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
		s++;
	return s;
}

/* ---- duplicate keys -------------------------------------------------- */

static uint64_t key_hash(const char *k, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static void key_put(struct keyslot *slots, size_t cap, const char *key,
		    uint64_t hash, uint64_t gen)
{
	size_t i = (size_t)hash & (cap - 1);

	while (slots[i].gen == gen)
		i = (i + 1) & (cap - 1);
	slots[i].key = key;
	slots[i].hash = hash;
	slots[i].gen = gen;
}

/* Adds key (owned by f's tree) to f's set: its hash to the list while the
 * object is small, the key to the hash table afterwards. */
static void key_insert(struct frame *f, const char *key, uint64_t hash)
{
	struct keyslot *slots;
	size_t cap, i;

	if (!f->gen) {
		if (f->n < JSON_LINEAR_KEYS)
			f->hashes[f->n] = hash;
		return;
	}
	if ((f->used + 1) * 2 > f->cap) {
		cap = f->cap ? f->cap * 2 : 64;
		slots = calloc(cap, sizeof(*slots));
		if (!slots)
			json_die();
		for (i = 0; i < f->cap; i++)
			if (f->slots[i].gen == f->gen)
				key_put(slots, cap, f->slots[i].key,
					f->slots[i].hash, f->gen);
		free(f->slots);
		f->slots = slots;
		f->cap = cap;
	}
	key_put(f->slots, f->cap, key, hash, f->gen);
	f->used++;
}

/* Whether the object f already has a member named p->key. */
static int key_seen(struct parser *p, struct frame *f)
{
	const char *key = p->key.p;
	const cJSON *c;
	size_t i;

	if (!f->gen) {
		if (f->n < JSON_LINEAR_KEYS) {
			for (i = 0; i < f->n; i++) {
				if (f->hashes[i] != p->key_hash)
					continue;
				for (c = f->node->child; c; c = c->next)
					if (strcmp(c->string, key) == 0)
						return 1;
				return 0;
			}
			return 0;
		}
		f->gen = ++p->gen;
		f->used = 0;
		for (i = 0, c = f->node->child; c; c = c->next, i++)
			key_insert(f, c->string, f->hashes[i]);
	}
	i = (size_t)p->key_hash & (f->cap - 1);
	while (f->slots[i].gen == f->gen) {
		if (f->slots[i].hash == p->key_hash &&
		    strcmp(f->slots[i].key, key) == 0)
			return 1;
		i = (i + 1) & (f->cap - 1);
	}
	return 0;
}

/* ---- building the tree ----------------------------------------------- */

/* Hands v to the top container (the member name is p->key), or makes it
 * the root. */
static void attach(struct parser *p, cJSON *v)
{
	struct frame *f;

	if (!p->depth) {
		p->root = v;
		return;
	}
	f = &p->frames[p->depth - 1];
	if (!f->obj) {
		if (!cJSON_AddItemToArray(f->node, v))
			json_die();
	} else {
		if (!cJSON_AddItemToObject(f->node, p->key.p, v))
			json_die();
		f->key = v->string;
		key_insert(f, v->string, p->key_hash);
	}
	f->n++;
}

static int open_container(struct parser *p, const char *at, int obj)
{
	struct frame *f;
	cJSON *v;
	size_t n;

	if (p->depth >= (size_t)p->max_depth + p->wrappers)
		return parse_fail(p, at, 1, "nesting deeper than %d",
				  p->max_depth);
	v = json_new(obj ? cJSON_CreateObject() : cJSON_CreateArray());
	attach(p, v);
	if (p->depth == p->nframes) {
		n = p->nframes * 2;
		if (p->frames == p->inline_frames) {
			f = malloc(n * sizeof(*f));
			if (f)
				memcpy(f, p->frames, p->nframes * sizeof(*f));
		} else {
			f = realloc(p->frames, n * sizeof(*f));
		}
		if (!f)
			json_die();
		memset(f + p->nframes, 0, (n - p->nframes) * sizeof(*f));
		p->frames = f;
		p->nframes = n;
	}
	f = &p->frames[p->depth++];
	f->node = v;
	f->obj = obj;
	f->n = 0;
	f->key = NULL;
	f->gen = 0;
	return FK_OK;
}

/* ---- tokens ---------------------------------------------------------- */

static int hex4(const char *s, const char *end)
{
	int v = 0, i, d;

	if (end - s < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Decodes the escape at *sp (a backslash) into out and moves *sp past it. */
static int read_escape(struct parser *p, const char **sp, struct buf *out,
		       int pending)
{
	const char *s = *sp, *end = p->end;
	int cp, lo;
	char c;

	if (end - s < 2)
		return parse_fail(p, s, pending, "unterminated string");
	switch (s[1]) {
	case '"': c = '"'; break;
	case '\\': c = '\\'; break;
	case '/': c = '/'; break;
	case 'b': c = '\b'; break;
	case 'f': c = '\f'; break;
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'u':
		cp = hex4(s + 2, end);
		if (cp < 0)
			return parse_fail(p, s, pending,
					  "invalid \\u escape (four hex digits needed)");
		if (cp == 0)
			return parse_fail(p, s, pending,
					  "\\u0000 is not allowed in strings");
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return parse_fail(p, s, pending,
					  "lone surrogate escape \\u%.4s", s + 2);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			lo = end - s >= 8 && s[6] == '\\' && s[7] == 'u' ?
				     hex4(s + 8, end) : -1;
			if (lo < 0xdc00 || lo > 0xdfff)
				return parse_fail(p, s, pending,
						  "lone surrogate escape \\u%.4s",
						  s + 2);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			s += 6;
		}
		utf8_put(out, (unsigned long)cp);
		*sp = s + 6;
		return FK_OK;
	default: {
		char tmp[16];

		return parse_fail(p, s, pending,
				  "invalid escape (backslash before %s)",
				  found(p, s + 1, tmp, sizeof(tmp)));
	}
	}
	buf_addc(out, c);
	*sp = s + 2;
	return FK_OK;
}

/*
 * Returns the first byte in [s, end) that ends a plain run of a string:
 * '"', '\\', a control character, or end.  Strings are most of a page, so
 * eight bytes are tested at a time: a byte b of word w is flagged when
 * b - x borrows into its top bit while b's own top bit is clear, which
 * happens exactly for b < x (the classic "has less than" trick, applied to
 * w for < 0x20 and to w with '"' or '\\' xor-ed away for == 0).
 */
static const char *plain_run(const char *s, const char *end)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t highs = UINT64_C(0x8080808080808080);
	uint64_t w, q, b, stop;

	while (end - s >= 8) {
		memcpy(&w, s, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		stop = (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
			((b - ones) & ~b)) & highs;
		if (stop) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* No borrow reaches the lowest flagged byte, so it is
			 * exactly the first stop byte. */
			return s + (__builtin_ctzll(stop) >> 3);
#else
			break;
#endif
		}
		s += 8;
	}
	while (s < end && (unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
		s++;
	return s;
}

/*
 * Reads the string literal at *sp (its opening quote) into out, which is
 * reset first, and moves *sp past the closing quote.  The text is known to
 * be UTF-8 already, so bytes from 0x20 up are copied in runs.
 */
static int read_string(struct parser *p, const char **sp, struct buf *out,
		       int pending)
{
	const char *s = *sp + 1, *end = p->end, *run;
	unsigned char c;

	buf_reset(out);
	for (;;) {
		run = s;
		s = plain_run(s, end);
		if (s > run)
			buf_add(out, run, (size_t)(s - run));
		if (s == end)
			return parse_fail(p, *sp, pending, "unterminated string");
		c = (unsigned char)*s;
		if (c == '"')
			break;
		if (c < 0x20)
			return parse_fail(p, s, pending,
					  "raw control character 0x%02x in a string (escape it)",
					  c);
		if (read_escape(p, &s, out, pending) != FK_OK)
			return FK_EDATA;
	}
	*sp = s + 1;
	return FK_OK;
}

/*
 * Converts the checked number literal [s, end) without strtod when that is
 * exact: at most 15 significant digits make an integer m below 2^53, and
 * 10^e for |e| <= 22 is a double too, so m * 10^e or m / 10^-e is one
 * correctly rounded operation (Clinger's fast path).  Returns 0 for the
 * other literals, which strtod converts.
 */
static int fast_number(const char *s, const char *end, double *d)
{
	int neg = 0, ndigits = 0, e = 0, x = 0, eneg = 0;
	uint64_t m = 0;
	double v;

#if FLT_EVAL_METHOD != 0
	return 0; /* x87-style excess precision would round twice */
#endif
	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; s < end && is_digit(*s); s++) {
		m = m * 10 + (uint64_t)(*s - '0');
		if (m && ++ndigits > 15)
			return 0;
	}
	if (s < end && *s == '.') {
		for (s++; s < end && is_digit(*s); s++) {
			m = m * 10 + (uint64_t)(*s - '0');
			e--;
			if (m && ++ndigits > 15)
				return 0;
		}
	}
	if (s < end) { /* the exponent: 'e' or 'E', a sign, digits */
		s++;
		if (*s == '+' || *s == '-')
			eneg = *s++ == '-';
		for (; s < end; s++) {
			if (x > 1000)
				return 0;
			x = x * 10 + (*s - '0');
		}
		e += eneg ? -x : x;
	}
	if (e < -22 || e > 22)
		return 0;
	v = (double)m;
	v = e < 0 ? v / json_exact_pow10[-e] : v * json_exact_pow10[e];
	*d = neg ? -v : v;
	return 1;
}

/* Converts the checked number literal [s, end) with strtod. */
static int slow_number(struct parser *p, const char *s, const char *end,
		       double *d)
{
	size_t n = (size_t)(end - s);
	char small[64], *copy;

	/* strtod needs a terminated copy: the text need not end in a NUL. */
	if (n < sizeof(small)) {
		memcpy(small, s, n);
		small[n] = '\0';
		copy = small;
	} else {
		buf_reset(&p->str);
		buf_add(&p->str, s, n);
		copy = p->str.p;
	}
	/* strtod follows LC_NUMERIC; flokvm never calls setlocale(), so the
	 * "C" locale's '.' is the decimal point.  The grammar was checked, so
	 * strtod consumes exactly these bytes.  Underflow to zero or to a
	 * subnormal is accepted: the value is still finite. */
	*d = strtod(copy, NULL);
	if (!isfinite(*d))
		return parse_fail(p, s, 1,
				  "number out of range (not a finite double)");
	return FK_OK;
}

/* Reads the number at *sp into *d and moves *sp past it. */
static int read_number(struct parser *p, const char **sp, double *d)
{
	const char *start = *sp, *s = start, *end = p->end, *digits;
	size_t ndigits;
	int integer = 1;

	if (*s == '-')
		s++;
	digits = s;
	if (s == end || !is_digit(*s))
		return parse_fail(p, start, 1,
				  "invalid number (a digit must follow '-')");
	if (*s == '0') {
		s++;
		if (s < end && is_digit(*s))
			return parse_fail(p, start, 1,
					  "invalid number (leading zero)");
	} else {
		while (s < end && is_digit(*s))
			s++;
	}
	ndigits = (size_t)(s - digits);
	if (s < end && *s == '.') {
		s++;
		if (s == end || !is_digit(*s))
			return parse_fail(p, start, 1,
					  "invalid number (a digit must follow '.')");
		while (s < end && is_digit(*s))
			s++;
		integer = 0;
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < end && (*s == '+' || *s == '-'))
			s++;
		if (s == end || !is_digit(*s))
			return parse_fail(p, start, 1,
					  "invalid number (exponent without digits)");
		while (s < end && is_digit(*s))
			s++;
		integer = 0;
	}
	/* Compare the digits, not the double: 2^53 + 1 reads as 2^53. */
	if (integer && (ndigits > 16 ||
			(ndigits == 16 &&
			 memcmp(digits, "9007199254740992", 16) > 0)))
		return parse_fail(p, start, 1,
				  "integer beyond 2^53 cannot round-trip; quote it");

	if (!fast_number(start, s, d) && slow_number(p, start, s, d) != FK_OK)
		return FK_EDATA;
	*sp = s;
	return FK_OK;
}

/* ---- the state machine ----------------------------------------------- */

enum state {
	WANT_VALUE,  /* at a value (after '[', ',' in an array, ':' or start) */
	WANT_MEMBER, /* at a member name (after '{' or ',' in an object) */
	AFTER_VALUE, /* a value is complete */
};

static int parse_text(struct parser *p, int allow_empty)
{
	const char *s, *end = p->end, *at;
	enum state st = WANT_VALUE;
	struct frame *f;
	struct buf quoted = {0};
	char tmp[16];
	cJSON *v;
	double d = 0;

	s = skip_ws(p->text, end);
	if (s == end)
		return allow_empty ? FK_OK : parse_fail(p, s, 0, "empty input");
	for (;;) {
		switch (st) {
		case WANT_VALUE:
			s = skip_ws(s, end);
			if (s == end)
				return parse_fail(p, s, 1,
						  "expected a value, found end of input");
			switch (*s) {
			case '{':
			case '[':
				if (open_container(p, s, *s == '{') != FK_OK)
					return FK_EDATA;
				f = &p->frames[p->depth - 1];
				s = skip_ws(s + 1, end);
				if (s < end && *s == (f->obj ? '}' : ']')) {
					s++;
					p->depth--;
					st = AFTER_VALUE;
				} else {
					st = f->obj ? WANT_MEMBER : WANT_VALUE;
				}
				continue;
			case '"':
				if (read_string(p, &s, &p->str, 1) != FK_OK)
					return FK_EDATA;
				v = json_new(cJSON_CreateString(p->str.p));
				break;
			case 't':
			case 'f':
			case 'n':
				if (end - s >= 4 && memcmp(s, "true", 4) == 0) {
					v = json_new(cJSON_CreateTrue());
					s += 4;
				} else if (end - s >= 5 &&
					   memcmp(s, "false", 5) == 0) {
					v = json_new(cJSON_CreateFalse());
					s += 5;
				} else if (end - s >= 4 &&
					   memcmp(s, "null", 4) == 0) {
					v = json_new(cJSON_CreateNull());
					s += 4;
				} else {
					return parse_fail(p, s, 1,
							  "invalid literal (true, false or null expected)");
				}
				break;
			default:
				if (*s != '-' && !is_digit(*s))
					return parse_fail(p, s, 1,
							  "expected a value, found %s",
							  found(p, s, tmp, sizeof(tmp)));
				if (read_number(p, &s, &d) != FK_OK)
					return FK_EDATA;
				v = json_new(cJSON_CreateNumber(d));
				break;
			}
			attach(p, v);
			st = AFTER_VALUE;
			break;

		case WANT_MEMBER:
			if (s == end || *s != '"')
				return parse_fail(p, s, 0,
						  "expected a member name, found %s",
						  found(p, s, tmp, sizeof(tmp)));
			at = s;
			if (read_string(p, &s, &p->key, 0) != FK_OK)
				return FK_EDATA;
			p->key_hash = key_hash(p->key.p, p->key.len);
			if (key_seen(p, &p->frames[p->depth - 1])) {
				json_write_string(&quoted, p->key.p);
				clip_middle(&quoted, 200);
				parse_fail(p, at, 0, "duplicate key %s", quoted.p);
				buf_release(&quoted);
				return FK_EDATA;
			}
			s = skip_ws(s, end);
			if (s == end || *s != ':')
				return parse_fail(p, s, 1,
						  "expected ':' after the member name, found %s",
						  found(p, s, tmp, sizeof(tmp)));
			s++;
			st = WANT_VALUE;
			break;

		case AFTER_VALUE:
			s = skip_ws(s, end);
			if (!p->depth) {
				if (s != end)
					return parse_fail(p, s, 0,
							  "trailing garbage after the JSON value");
				return FK_OK;
			}
			f = &p->frames[p->depth - 1];
			if (s < end && *s == ',') {
				s = skip_ws(s + 1, end);
				st = f->obj ? WANT_MEMBER : WANT_VALUE;
			} else if (s < end && *s == (f->obj ? '}' : ']')) {
				s++;
				p->depth--;
			} else {
				return parse_fail(p, s, 0,
						  "expected ',' or '%c', found %s",
						  f->obj ? '}' : ']',
						  found(p, s, tmp, sizeof(tmp)));
			}
			break;
		}
	}
}

int json_parse(const char *text, size_t len, const struct json_opts *opts,
	       cJSON **out, struct fk_err *err)
{
	struct parser p;
	size_t bad, line, col, i;
	int rc;

	*out = NULL;
	if (!text)
		text = "";
	bad = utf8_check((const unsigned char *)text, len);
	if (bad < len) {
		locate(text, text + bad, &line, &col);
		return fk_fail(err, FK_EDATA,
			       "line %zu, column %zu: invalid UTF-8 (byte 0x%02x)",
			       line, col, (unsigned char)text[bad]);
	}

	memset(&p, 0, sizeof(p));
	p.frames = p.inline_frames;
	p.nframes = JSON_INLINE_FRAMES;
	p.text = text;
	p.end = text + len;
	p.max_depth = opts && opts->max_depth > 0 ? opts->max_depth :
						     JSON_DEFAULT_DEPTH;
	p.wrappers = opts && opts->wrappers > 0 ? (size_t)opts->wrappers : 0;
	p.err = err;
	/* Both scratch buffers must be strings even when a literal is "". */
	buf_grow(&p.key, 0);
	buf_grow(&p.str, 0);

	rc = parse_text(&p, opts ? opts->allow_empty : 0);

	for (i = 0; i < p.nframes; i++)
		free(p.frames[i].slots);
	if (p.frames != p.inline_frames)
		free(p.frames);
	buf_release(&p.key);
	buf_release(&p.str);
	if (rc != FK_OK) {
		cJSON_Delete(p.root);
		return rc;
	}
	*out = p.root;
	return FK_OK;
}
