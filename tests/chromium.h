/* Headless Chromium (Debian's /usr/bin/chromium) for the report tests: a screenshot of a page,
 * and a check script run on the laid-out page, which reads what the browser drew (element
 * counts, positions, texts) and answers with one line of text. */
#ifndef GT_TEST_CHROMIUM_H
#define GT_TEST_CHROMIUM_H

#include <stdbool.h>

#define CHROMIUM "/usr/bin/chromium"

/* Whether chromium is installed (tests skip their browser checks when it is not). */
bool chromium_present(void);

/* Renders file://html at w x h px into the PNG shot; profile is a scratch folder for the
 * browser's state. False when chromium fails or takes over a minute. */
bool chromium_screenshot(const char *html, const char *shot, int w, int h, const char *profile);

/* Opens a copy of the page html (written to scratch/check.html, without the page's
 * Content-Security-Policy, which forbids scripts) in a 1200 px wide window, runs the body of
 * the JavaScript function `script` once the page is laid out, and returns the string it returns
 * (malloc'd; "error: ..." when it throws), or NULL when chromium fails. */
char *chromium_eval(const char *html, const char *script, const char *scratch);

#endif
