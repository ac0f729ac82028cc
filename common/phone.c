/* phone.c - phone number normalisation (see phone.h). The per-country rules
 * are copied from libphonenumber's metadata (PhoneNumberMetadata.xml: the
 * international prefix, national prefix for parsing and its transform rule,
 * and the general national number pattern), so our results match its for
 * these countries. */
#include <pthread.h>
#include <regex.h>
#include <string.h>
#include "common/phone.h"
#include "common/xalloc.h"

#define RAW_MAX 24          /* digits accepted before parsing: IDD + E.164 */

struct region {
    const char *cc;
    const char *idd;        /* international prefix (libphonenumber regex) */
    const char *npfp;       /* national prefix for parsing, NULL if none */
    int         keep_group; /* transform rule: keep this group of npfp (after
                               (?: -> ( every "(" counts); 0 = strip */
    const char *pattern;    /* general national number pattern */
    regex_t     idd_re, npfp_re, pattern_re;
};

#define REGION(c, i, n, k, p) { .cc = c, .idd = i, .npfp = n, .keep_group = k, .pattern = p }
static struct region regions[] = {
    /* NANP: "00" added beside 011, see phone.h */
    REGION("1", "011|00", "1", 0, "[2-9]\\d{9}"),
    REGION("44", "00", "0", 0, "[1-357-9]\\d{9}|[18]\\d{8}|8\\d{6}"),
    REGION("49", "00", "0", 0,
      "[2579]\\d{5,14}|49(?:[34]0|69|8\\d)\\d\\d?|49(?:37|49|60|7[089]|9\\d)\\d{1,3}|"
      "49(?:2[024-9]|3[2-689]|7[1-7])\\d{1,8}|(?:1|[368]\\d|4[0-8])\\d{3,13}|"
      "49(?:[015]\\d|2[13]|31|[46][1-8])\\d{1,9}"),
    REGION("33", "00", "0", 0, "[1-9]\\d{8}"),
    REGION("91", "00", "0", 0, "(?:000800|[2-9]\\d\\d)\\d{7}|1\\d{7,12}"),
    REGION("55", "00(?:1[245]|2[1-35]|31|4[13]|[56]5|99)",
      "(?:0|90)(?:(1[245]|2[1-35]|31|4[13]|[56]5|99)(\\d{10,11}))?", 4,
      "(?:[1-46-9]\\d\\d|5(?:[0-46-9]\\d|5[0-46-9]))\\d{8}|[1-9]\\d{9}|[3589]\\d{8}|[34]\\d{7}"),
    REGION("52", "0[09]", "0(?:[12]|4[45])|1", 0,
      "1(?:(?:44|99)[1-9]|65[0-689])\\d{7}|(?:1(?:[017]\\d|[235][1-9]|4[0-35-9]|6[0-46-9]|"
      "8[1-79]|9[1-8])|[2-9]\\d)\\d{8}"),
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

/* Countries without a row above: "00" and trunk "0", any 4-15 digits. */
static struct region generic = REGION("", "00", "0", 0, NULL);

/* Every assigned country calling code (ITU-T E.164), as libphonenumber knows them. */
static const short country_codes[] = {
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52,
    53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94,
    95, 98, 211, 212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230,
    231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247,
    248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265,
    266, 267, 268, 269, 290, 291, 297, 298, 299, 350, 351, 352, 353, 354, 355, 356, 357,
    358, 359, 370, 371, 372, 373, 374, 375, 376, 377, 378, 380, 381, 382, 383, 385, 386,
    387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 590, 591,
    592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676, 677, 678, 679,
    680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850, 852, 853,
    855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966,
    967, 968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
};

/* libphonenumber's Java syntax to POSIX ERE: (?: -> (, \d -> [0-9]; the
 * whole is grouped and anchored (prefix patterns only at the start). */
static void
compile(regex_t *re, const char *java, bool whole)
{
    size_t  n = strlen(java);
    char   *ere = xmalloc(n * 5 + 8), *o = ere;

    *o++ = '^';
    *o++ = '(';
    for (const char *p = java; *p; p++) {
        if (p[0] == '(' && p[1] == '?' && p[2] == ':') {
            *o++ = '(';
            p += 2;
        } else if (p[0] == '\\' && p[1] == 'd') {
            memcpy(o, "[0-9]", 5);
            o += 5;
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o++ = ')';
    if (whole)
        *o++ = '$';
    *o = '\0';
    if (regcomp(re, ere, REG_EXTENDED) != 0)
        abort();                    /* the table is wrong: caught by the unit test */
    free(ere);
}

static void
compile_region(struct region *r)
{
    compile(&r->idd_re, r->idd, false);
    if (r->npfp)
        compile(&r->npfp_re, r->npfp, false);
    if (r->pattern)
        compile(&r->pattern_re, r->pattern, true);
}

static void
compile_all(void)
{
    for (size_t i = 0; i < NREGIONS; i++)
        compile_region(&regions[i]);
    compile_region(&generic);
}

static pthread_once_t compiled = PTHREAD_ONCE_INIT;

static const struct region *
region_for(const char *cc, size_t cclen)
{
    for (size_t i = 0; i < NREGIONS; i++)
        if (strlen(regions[i].cc) == cclen && memcmp(regions[i].cc, cc, cclen) == 0)
            return &regions[i];
    return NULL;
}

int
phone_cc_len(const char *digits)
{
    int v = 0;

    for (int len = 1; len <= 3 && digits[len - 1] >= '0' && digits[len - 1] <= '9'; len++) {
        v = v * 10 + (digits[len - 1] - '0');
        if (digits[0] == '0')
            return 0;
        for (size_t i = 0; i < sizeof(country_codes) / sizeof(country_codes[0]); i++)
            if (country_codes[i] == v)
                return len;
    }
    return 0;
}

/* Is nsn a valid national significant number of the country (r may be NULL:
 * a country without a row, then only the length counts)? */
static bool
nsn_valid(const struct region *r, const char *nsn, size_t cclen)
{
    size_t n = strlen(nsn);

    if (n < 2 || n + cclen > PHONE_MAX_DIGITS)
        return false;
    if (r == NULL || r->pattern == NULL)
        return n >= 4;
    return regexec(&r->pattern_re, nsn, 0, NULL, 0) == 0;
}

/* libphonenumber's maybeStripNationalPrefixAndCarrierCode: strips the trunk
 * prefix (or applies its transform rule) in place, unless that would turn a
 * valid number into an invalid one. */
static void
strip_national_prefix(const struct region *r, char *num)
{
    regmatch_t m[8];
    char       tmp[RAW_MAX + 1];
    bool       viable;

    if (r->npfp == NULL || num[0] == '\0' ||
        regexec(&r->npfp_re, num, 8, m, 0) != 0 || m[0].rm_eo == 0)
        return;
    viable = r->pattern ? regexec(&r->pattern_re, num, 0, NULL, 0) == 0 : false;
    /* + 1: compile() wraps the pattern in a group of its own */
    if (r->keep_group > 0 && m[r->keep_group + 1].rm_so >= 0) {
        regmatch_t *g = &m[r->keep_group + 1];
        size_t      glen = (size_t) (g->rm_eo - g->rm_so);

        memcpy(tmp, num + g->rm_so, glen);
        strcpy(tmp + glen, num + m[0].rm_eo);
    } else {
        strcpy(tmp, num + m[0].rm_eo);
    }
    if (viable && regexec(&r->pattern_re, tmp, 0, NULL, 0) != 0)
        return;
    strcpy(num, tmp);
}

static bool
finish(const char *cc, size_t cclen, const char *nsn, const struct region *r, char *out)
{
    if (!nsn_valid(r, nsn, cclen))
        return false;
    memcpy(out, cc, cclen);
    strcpy(out + cclen, nsn);
    return true;
}

/* digits begin with a country code. */
static bool
parse_international(const char *digits, char *out)
{
    int                  cclen = phone_cc_len(digits);
    const struct region *r;
    char                 nsn[RAW_MAX + 1];

    if (cclen == 0)
        return false;
    r = region_for(digits, (size_t) cclen);
    strcpy(nsn, digits + cclen);
    if (r != NULL) {
        char potential[RAW_MAX + 1];

        strcpy(potential, nsn);
        strip_national_prefix(r, potential);
        if (strcmp(potential, nsn) != 0 && nsn_valid(r, potential, (size_t) cclen))
            strcpy(nsn, potential);
    }
    return finish(digits, (size_t) cclen, nsn, r, out);
}

/* Keeps the digits of input; false if it holds anything but digits, one
 * leading '+' and the usual separators. */
static bool
extract_digits(const char *in, size_t len, char *digits, bool *plus)
{
    size_t n = 0;
    bool   seen_digit = false;

    *plus = false;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        if (c >= '0' && c <= '9') {
            if (n == RAW_MAX)
                return false;
            digits[n++] = c;
            seen_digit = true;
        } else if (c == '+' && !seen_digit) {   /* "++1..." too, like libphonenumber */
            *plus = true;
        } else if (!strchr(" -.()/\t", c) || c == '\0') {
            return false;
        }
    }
    digits[n] = '\0';
    return n > 0;
}

bool
phone_normalize(const char *input, size_t len, const char *default_cc, char *out)
{
    char                 digits[RAW_MAX + 1], nsn[RAW_MAX + 1];
    const struct region *r;
    size_t               cclen = default_cc ? strlen(default_cc) : 0;
    regmatch_t           m;
    bool                 plus;

    pthread_once(&compiled, compile_all);
    out[0] = '\0';
    if (!extract_digits(input, len, digits, &plus))
        return false;
    if (plus)
        return parse_international(digits, out);
    if (cclen == 0 || cclen > 3 || strspn(default_cc, "0123456789") != cclen)
        return false;
    r = region_for(default_cc, cclen);
    if (r == NULL)
        r = &generic;
    /* the region's international prefix; a country code never starts with 0 */
    if (regexec(&r->idd_re, digits, 1, &m, 0) == 0 && m.rm_eo > 0 &&
        digits[m.rm_eo] != '\0' && digits[m.rm_eo] != '0')
        return parse_international(digits + m.rm_eo, out);
    /* national digits that start with our own country code (maybeExtractCountryCode) */
    if (strncmp(digits, default_cc, cclen) == 0 && r != &generic) {
        char potential[RAW_MAX + 1];

        strcpy(potential, digits + cclen);
        strip_national_prefix(r, potential);
        if ((!nsn_valid(r, digits, cclen) && nsn_valid(r, potential, cclen)) ||
            strlen(digits) + cclen > PHONE_MAX_DIGITS + 1)
            return finish(default_cc, cclen, potential, r, out);
    }
    strcpy(nsn, digits);
    strip_national_prefix(r, nsn);
    return finish(default_cc, cclen, nsn, r == &generic ? NULL : r, out);
}

bool
phone_is_valid_e164(const char *digits)
{
    char out[PHONE_MAX_DIGITS + 1];
    size_t n = strlen(digits);

    if (n == 0 || n > PHONE_MAX_DIGITS || strspn(digits, "0123456789") != n)
        return false;
    pthread_once(&compiled, compile_all);
    return parse_international(digits, out) && strcmp(out, digits) == 0;
}
