/* Reading INI configuration files and text through libinih, with file:line in every error: a
 * reader wrapper feeds libinih one line at a time (so it counts lines exactly), strips leading
 * blanks (libinih would take an indented line as a continuation) and checks section names. */
#include <errno.h>
#include <stdbool.h>
#include <ini.h>
#include <string.h>

#include "io/config.h"
#include "io/config_table.h"

#define RAW_LINE_MAX 1024

/* One source being parsed: a file or a string, and where we are in it. */
typedef struct {
    gt_config *c;
    const char *origin;
    gt_error *err;
    FILE *fp;
    const char *text;
    int line;
    int err_line;                 /* the line of the first error, 0 while there is none */
    int set_on[GT_CFG_N_KEYS];    /* the line that set each key, 0 if none did */
} ini_source;

static void where(const ini_source *s, int line, char *buf, size_t cap) {
    snprintf(buf, cap, "%.600s:%d", s->origin, line);
}

enum { LINE_TOO_LONG = -1, LINE_HAS_NUL = -2 };

/* The next line of a file into buf, byte by byte so that a NUL byte inside it is seen (fgets
 * would hide the rest of the line behind it). */
static int next_file_line(FILE *fp, char *buf, size_t cap) {
    size_t n = 0;
    bool nul = false;
    int ch;
    while (n + 1 < cap && (ch = getc(fp)) != EOF) {
        nul = nul || ch == '\0';
        buf[n++] = (char)ch;
        if (ch == '\n') break;
    }
    buf[n] = '\0';
    if (n == 0) return 0;
    if (nul) return LINE_HAS_NUL;
    if (n + 1 == cap && buf[n - 1] != '\n' && (ch = getc(fp)) != EOF) {
        ungetc(ch, fp);
        return LINE_TOO_LONG;
    }
    return 1;
}

/* The next line into buf: 1, 0 at the end, LINE_TOO_LONG when it is longer than cap - 1
 * bytes, LINE_HAS_NUL when it holds a NUL byte (files only: a string ends at its first). */
static int next_line(ini_source *s, char *buf, size_t cap) {
    if (s->fp) return next_file_line(s->fp, buf, cap);
    if (!*s->text) return 0;
    const char *nl = strchr(s->text, '\n');
    size_t n = nl ? (size_t)(nl - s->text) + 1 : strlen(s->text);
    const char *line = s->text;
    s->text += n;
    if (n >= cap) return LINE_TOO_LONG;
    memcpy(buf, line, n);
    buf[n] = '\0';
    return 1;
}

static int fail_line(ini_source *s, const char *what) {
    char at[700];
    where(s, s->line, at, sizeof at);
    s->err_line = s->line;
    return gt_error_set(s->err, "%s: %s", at, what);
}

/* "[name]" must name a known section (libinih reports a missing ']' as a syntax error). */
static int check_section_line(ini_source *s, const char *p) {
    const char *close = strchr(p, ']');
    if (!close) return 0;
    char name[RAW_LINE_MAX], at[700];
    memcpy(name, p + 1, (size_t)(close - p - 1));
    name[close - p - 1] = '\0';
    where(s, s->line, at, sizeof at);
    if (gt_cfg_check_section(name, at, s->err) == 0) return 0;
    s->err_line = s->line;
    return -1;
}

static char *read_line(char *out, int num, void *user) {
    ini_source *s = user;
    char raw[RAW_LINE_MAX];
    int got = s->err_line ? 0 : next_line(s, raw, sizeof raw);
    if (got == 0) return NULL;
    s->line++;
    const char *p = raw + strspn(raw, " \t");
    char what[80];
    snprintf(what, sizeof what, "the line is longer than %d characters", num - 3);
    if (got == LINE_HAS_NUL) {
        fail_line(s, "the line holds a NUL byte (a binary or damaged file?); a configuration is text");
        return NULL;
    }
    if (got < 0 || strlen(p) + 3 > (size_t)num) {
        fail_line(s, what);
        return NULL;
    }
    if (*p == '[' && check_section_line(s, p) != 0) return NULL;
    strcpy(out, p);
    return out;
}

static int on_key(void *user, const char *section, const char *key, const char *value) {
    ini_source *s = user;
    char at[700];
    where(s, s->line, at, sizeof at);
    int i = gt_cfg_resolve(section, key, at, s->err);
    if (i >= 0 && s->set_on[i]) {
        gt_error_set(s->err, "%s: [%s] %s is set twice (first on line %d)", at, section, key,
                     s->set_on[i]);
        i = -1;
    }
    if (i < 0 || gt_cfg_apply(s->c, i, value, at, s->err) != 0) {
        s->err_line = s->line;
        return 0;
    }
    s->set_on[i] = s->line;
    return 1;
}

/* Parses s into a copy of *c and stores it only when the whole source is valid. */
static int parse_source(ini_source *s, gt_config *c) {
    gt_config copy = *c;
    s->c = &copy;
    int rc = ini_parse_stream(read_line, s, on_key, s);
    if (rc > 0 && (!s->err_line || rc < s->err_line)) {
        s->line = rc;
        return fail_line(s, "syntax error: expected [section], key = value, or a ; comment");
    }
    if (rc < 0) return gt_error_set(s->err, "%s: out of memory while parsing", s->origin);
    if (s->err_line) return -1;
    *c = copy;
    return 0;
}

int gt_config_load_file(gt_config *c, const char *path, gt_error *err) {
    ini_source s = {.origin = path, .err = err, .fp = fopen(path, "r")};
    if (!s.fp)
        return gt_error_set(err, "cannot open config file '%s': %s%s", path, strerror(errno),
                            errno == ENOENT ? " (hint: `gantry config --defaults` prints a "
                                              "complete file to start from)" : "");
    int rc = parse_source(&s, c);
    fclose(s.fp);
    return rc;
}

int gt_config_from_string(gt_config *c, const char *ini_text, const char *origin, gt_error *err) {
    ini_source s = {.origin = origin, .err = err, .text = ini_text};
    return parse_source(&s, c);
}
