/* growth_cases.h - stack-growth cases compiled four ways (gcc and clang,
 * -O0 and -O2: see the Makefile's GROWTH_VARIANTS). Each case runs in a
 * fresh G on the minimum stack, makes the stack move several times while
 * pointers into it are live, and returns 0, or the number of the first check
 * that failed. */
#ifndef GROWTH_CASES_H
#define GROWTH_CASES_H

typedef struct growth_case {
    const char *name;
    int (*fn)(void);
} growth_case;

#define GROWTH_NCASES 9
#define GROWTH_CAT2(a, b) a##b
#define GROWTH_CAT(a, b) GROWTH_CAT2(a, b)
#define GROWTH_TABLE(v) GROWTH_CAT(growth_cases_, v)

extern const growth_case growth_cases_gcc_O0[GROWTH_NCASES];
extern const growth_case growth_cases_gcc_O2[GROWTH_NCASES];
extern const growth_case growth_cases_clang_O0[GROWTH_NCASES];
extern const growth_case growth_cases_clang_O2[GROWTH_NCASES];

#endif
