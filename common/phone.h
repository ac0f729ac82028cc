/* phone.h - phone number normalisation to wa_id (E.164 digits without '+').
 *
 * Parses as libphonenumber does (spec/CLARIFICATIONS.md §1), with the
 * business's country calling code as the default region: a leading '+' or the
 * region's international prefix means an international number; otherwise the
 * number is national, its trunk prefix is stripped and the default country
 * code is put in front. Validity is checked against libphonenumber's general
 * number pattern for the countries in phone.c's table (NANP 1, UK 44, DE 49,
 * FR 33, IN 91, BR 55, MX 52); for other countries a number only needs a known
 * country code and 4 to 15 digits in all. One deliberate difference from
 * libphonenumber: "00" is also accepted as an international prefix in NANP
 * (where 011 is the real one), as CLARIFICATIONS.md's examples require.
 * Pure: no I/O, no allocation visible to callers.
 */
#ifndef COMMON_PHONE_H
#define COMMON_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#define PHONE_MAX_DIGITS 15          /* E.164 */

/* Normalises input (len bytes, any common format: digits, a leading '+',
 * spaces, '-', '.', '/', parentheses) for a business whose country calling
 * code is default_cc ("1", "44"...). On success writes the wa_id (digits
 * only, NUL-terminated) to out, which holds PHONE_MAX_DIGITS + 1 bytes, and
 * returns true; returns false for anything that is not a valid number. */
bool phone_normalize(const char *input, size_t len, const char *default_cc, char *out);

/* Length (1-3) of the country calling code that digits starts with, or 0 if
 * no assigned code matches. */
int phone_cc_len(const char *digits);

/* true if digits (E.164 digits without '+') is a valid international number:
 * what the network considers reachable. */
bool phone_is_valid_e164(const char *digits);

#endif /* COMMON_PHONE_H */
