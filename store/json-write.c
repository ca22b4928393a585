/*
 * json-write.c - the compact JSON writer and the paths of values (see
 * json.h).
 *
 * Strings escape only '"', '\\' and control characters; numbers take the
 * shortest form that reads back to the same double, and never a form that
 * json_parse() (json-read.c) would refuse.  Paths live here because they
 * are written text: a key that is not an identifier is a JSON string.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json-internal.h"

/* Below 2^52 a double may have a fraction; from there on every one is an
 * integer. */
#define JSON_ALL_INTEGRAL 4503599627370496.0

/* ---- writing --------------------------------------------------------- */

/* Bytes a JSON string must escape (and the NUL that ends it): one table
 * look-up per byte in the copy loop, which dominates writing pages. */
static const unsigned char must_escape[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00-0x0f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10-0x1f */
	['"'] = 1, ['\\'] = 1,
};

void json_write_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *q = (const unsigned char *)s, *run;
	char esc[6];

	buf_addc(b, '"');
	for (;;) {
		run = q;
		while (!must_escape[*q])
			q++;
		if (q > run)
			buf_add(b, run, (size_t)(q - run));
		if (!*q)
			break;
		switch (*q) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\b': buf_add(b, "\\b", 2); break;
		case '\f': buf_add(b, "\\f", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		default:
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[*q >> 4];
			esc[5] = hex[*q & 15];
			buf_add(b, esc, 6);
			break;
		}
		q++;
	}
	buf_addc(b, '"');
}

/* Writes d with 15, 16 or 17 significant digits (%g), the fewest that
 * strtod reads back as d. */
static void shortest(char *tmp, size_t size, double d)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, size, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			return;
	}
}

/* Appends the decimal digits of m, with a '.' before the last point of
 * them (0: none) and as many leading zeros as that needs. */
static void write_digits(struct buf *b, int neg, uint64_t m, int point)
{
	char tmp[32], *q = tmp + sizeof(tmp);
	int n = 0;

	do {
		*--q = (char)('0' + m % 10);
		m /= 10;
		if (++n == point)
			*--q = '.';
	} while (m || n <= point); /* "0." before a fraction-only m */
	if (neg)
		*--q = '-';
	buf_add(b, q, (size_t)(tmp + sizeof(tmp) - q));
}

/*
 * Appends d if it is m / 10^k for an integer m below 10^15 and k <= 8, with
 * 1e-4 <= |d| < 1e15, using the smallest such k: the common 0.1 or 123.5.
 * That decimal is the one %.15g prints (fifteen digits always read back,
 * and their spacing is far wider than d's ulp, so d's nearest fifteen-digit
 * decimal is unique), in the range where %g keeps fixed notation; the
 * arithmetic spares the printf and strtod of the general case.  Returns 0
 * when d is not of this form.
 */
static int write_short_decimal(struct buf *b, double d, double mag)
{
	double scaled;
	uint64_t m;
	int k;

	if (mag < 1e-4 || mag >= 1e15)
		return 0;
	for (k = 1; k <= 8; k++) {
		scaled = mag * json_exact_pow10[k];
		if (scaled >= 1e15)
			return 0;
		m = (uint64_t)(scaled + 0.5);
		if ((double)m / json_exact_pow10[k] == mag) {
			write_digits(b, d < 0, m, k);
			return 1;
		}
	}
	return 0;
}

/*
 * Writes d in exponent form with the fewest mantissa digits that read back
 * to d.  Used for integral values beyond 2^53: json_parse() refuses such
 * integers written out in full (they cannot round-trip), so flokvm must
 * never print them that way, or a page it stored could not be read back.
 */
static void write_exponent(struct buf *b, double d)
{
	char tmp[40], *e, *q;

	for (int prec = 0; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	e = strchr(tmp, 'e');
	buf_add(b, tmp, (size_t)(e - tmp) + 2); /* mantissa, 'e', sign */
	for (q = e + 2; *q == '0' && q[1]; q++)
		;
	buf_adds(b, q);
}

void json_write_number(struct buf *b, double d)
{
	double mag = d < 0 ? -d : d;
	char tmp[40], *e, *q;

	if (!isfinite(d)) {
		/* JSON cannot spell it; JSON.stringify writes null too. */
		buf_adds(b, "null");
		return;
	}
	if (d == 0) {
		buf_addc(b, '0'); /* -0 too */
		return;
	}
	if (mag < 1e21 &&
	    (mag >= JSON_ALL_INTEGRAL || d == (double)(int64_t)d)) {
		if (mag <= JSON_MAX_SAFE_INT)
			write_digits(b, d < 0, (uint64_t)mag, 0);
		else
			write_exponent(b, d);
		return;
	}
	if (write_short_decimal(b, d, mag))
		return;
	shortest(tmp, sizeof(tmp), d);
	e = strchr(tmp, 'e');
	if (!e) {
		buf_adds(b, tmp);
		return;
	}
	/* printf pads the exponent to two digits; JavaScript does not. */
	buf_add(b, tmp, (size_t)(e - tmp) + 2); /* mantissa, 'e', sign */
	for (q = e + 2; *q == '0' && q[1]; q++)
		;
	buf_adds(b, q);
}

void json_write(struct buf *b, const cJSON *v)
{
	const cJSON *c;

	switch (v->type & 0xff) {
	case cJSON_False:
		buf_adds(b, "false");
		break;
	case cJSON_True:
		buf_adds(b, "true");
		break;
	case cJSON_Number:
		json_write_number(b, v->valuedouble);
		break;
	case cJSON_String:
		json_write_string(b, v->valuestring ? v->valuestring : "");
		break;
	case cJSON_Array:
		buf_addc(b, '[');
		for (c = v->child; c; c = c->next) {
			json_write(b, c);
			if (c->next)
				buf_addc(b, ',');
		}
		buf_addc(b, ']');
		break;
	case cJSON_Object:
		buf_addc(b, '{');
		for (c = v->child; c; c = c->next) {
			json_write_string(b, c->string ? c->string : "");
			buf_addc(b, ':');
			json_write(b, c);
			if (c->next)
				buf_addc(b, ',');
		}
		buf_addc(b, '}');
		break;
	default:
		/* null, and the raw/invalid types the header excludes */
		buf_adds(b, "null");
		break;
	}
}

/* ---- paths ----------------------------------------------------------- */

static int is_identifier(const char *k)
{
	const char *q;

	if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
	      *k == '_'))
		return 0;
	for (q = k + 1; *q; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		      is_digit(*q) || *q == '_'))
			return 0;
	return 1;
}

void json_path_key(struct buf *path, const char *key)
{
	if (is_identifier(key)) {
		if (path->len)
			buf_addc(path, '.');
		buf_adds(path, key);
	} else {
		buf_addc(path, '[');
		json_write_string(path, key);
		buf_addc(path, ']');
	}
}

void json_path_index(struct buf *path, size_t index)
{
	buf_printf(path, "[%zu]", index);
}
