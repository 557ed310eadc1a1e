/* numparse.h: checked number parsing for every user-given number (command-line options,
 * config values, agent options). A string parses only when it is a whole number of the
 * asked kind: no empty string, no trailing text, no overflow, no NaN or infinity. The callers
 * add the range check and the message naming the option, key or file line. */
#ifndef PAMOE_NUMPARSE_H
#define PAMOE_NUMPARSE_H

/* Finite double (an underflow gives 0 or a denormal); leading/trailing blanks are not
 * accepted. 0 or -1. */
int pm_parse_double(const char *s, double *out);
/* Base-10 integer that fits a long long. 0 or -1. */
int pm_parse_ll(const char *s, long long *out);
/* Base-10 non-negative integer that fits an unsigned long long (no sign). 0 or -1. */
int pm_parse_ull(const char *s, unsigned long long *out);
#endif
