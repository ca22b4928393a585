/*
 * tap.h - a tiny Test Anything Protocol harness for the C unit tests.
 *
 * Each check prints "ok N - what" or "not ok N - what" with the file and
 * line of the failure; tap_done() prints the plan and returns the exit
 * status meson expects (0 when everything passed).
 */
#ifndef FLOKVM_TAP_H
#define FLOKVM_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...)                                                   \
	do {                                                                \
		int tap_c_ = (cond) ? 1 : 0;                                \
		printf("%sok %d - ", tap_c_ ? "" : "not ", ++tap_n);        \
		printf(__VA_ARGS__);                                        \
		printf("\n");                                               \
		if (!tap_c_) {                                              \
			tap_failed++;                                       \
			printf("#   failed at %s:%d: %s\n", __FILE__,       \
			       __LINE__, #cond);                            \
		}                                                           \
	} while (0)

#define TAP_STR_EQ(got, want, ...)                                          \
	do {                                                                \
		const char *tap_g_ = (got), *tap_w_ = (want);               \
		int tap_s_ = tap_g_ && tap_w_ && strcmp(tap_g_, tap_w_) == 0; \
		TAP_OK(tap_s_, __VA_ARGS__);                                \
		if (!tap_s_)                                                \
			printf("#   got:  %s\n#   want: %s\n",              \
			       tap_g_ ? tap_g_ : "(null)",                  \
			       tap_w_ ? tap_w_ : "(null)");                 \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
