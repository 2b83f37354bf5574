/* The configuration keys of config_keys.def as a table (section, key, type, default, allowed
 * values, documentation, field offset); the parsing and checking of one value against its key;
 * command-line overrides; and the INI writer. INI files are read in config_ini.c. */
#include "io/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/engine.h"
#include "io/atomic.h"
#include "io/config_table.h"

const gt_cfg_key gt_cfg_keys[GT_CFG_N_KEYS] = {
#define GT_KEY(field, section, key, type, def, allowed, doc)                               \
    {section, key, def, allowed, doc, GT_CFG_##type, offsetof(gt_config, field),            \
     sizeof(((gt_config *)0)->field)},
#include "io/config_keys.def"
#undef GT_KEY
};

/* ---- allowed values ------------------------------------------------------------------------- */

/* The registries that provided their names (gt_config_provide_names): set once at start. */
enum { MAX_PROVIDERS = 8 };
static struct { const char *registry; gt_cfg_names_fn names; } providers[MAX_PROVIDERS];
static int n_providers;

void gt_config_provide_names(const char *registry, gt_cfg_names_fn names) {
    for (int i = 0; i < n_providers; i++)
        if (strcmp(providers[i].registry, registry) == 0) {
            providers[i].names = names;
            return;
        }
    GT_CHECK(n_providers < MAX_PROVIDERS, "config: more than %d registries", MAX_PROVIDERS);
    providers[n_providers].registry = registry;
    providers[n_providers++].names = names;
}

/* The key's list of allowed values: its own, or its registry's names ("@loss"); NULL when the
 * registry was not provided. */
static const char *allowed_of(const gt_cfg_key *k) {
    if (k->allowed[0] != '@') return k->allowed;
    for (int i = 0; i < n_providers; i++)
        if (strcmp(providers[i].registry, k->allowed + 1) == 0) return providers[i].names();
    return NULL;
}

typedef struct { bool has_lo, has_hi, lo_open, hi_open; double lo, hi; } range;

/* "min..max" with optional bounds; "0<.." and "..<1" exclude the bound. */
static range parse_range(const char *allowed) {
    range r = {0};
    const char *dots = strstr(allowed, "..");
    if (!dots) return r;
    char *end;
    if (dots > allowed) {
        r.has_lo = true;
        r.lo = strtod(allowed, &end);
        r.lo_open = *end == '<';
    }
    const char *hi = dots + 2;
    r.hi_open = *hi == '<';
    hi += r.hi_open;
    if (*hi) {
        r.has_hi = true;
        r.hi = strtod(hi, NULL);
    }
    return r;
}

static bool in_range(const char *allowed, double v) {
    range r = parse_range(allowed);
    if (r.has_lo && (r.lo_open ? v <= r.lo : v < r.lo)) return false;
    return !(r.has_hi && (r.hi_open ? v >= r.hi : v > r.hi));
}

/* Whether v is one of the '|'-separated words of list. */
static bool in_list(const char *list, const char *v) {
    size_t n = strlen(v);
    for (const char *p = list; p; p = strchr(p, '|')) {
        p += *p == '|';
        if (strncmp(p, v, n) == 0 && (p[n] == '|' || p[n] == '\0')) return true;
    }
    return false;
}

/* "an integer >= 1", "a number > 0 and < 1", ... */
static void describe_range(const char *allowed, const char *kind, char *buf, size_t cap) {
    range r = parse_range(allowed);
    int n = snprintf(buf, cap, "%s", kind);
    if (r.has_lo) n += snprintf(buf + n, cap - (size_t)n, " %s %.15g", r.lo_open ? ">" : ">=", r.lo);
    if (r.has_hi)
        snprintf(buf + n, cap - (size_t)n, "%s %s %.15g", r.has_lo ? " and" : "",
                 r.hi_open ? "<" : "<=", r.hi);
}

/* What a key accepts, in words. */
static void describe(const gt_cfg_key *k, char *buf, size_t cap) {
    bool list = strchr(k->allowed, '|') != NULL;
    if (k->type == GT_CFG_ENUM && !allowed_of(k))
        snprintf(buf, cap, "a name of the %s registry, which was not provided", k->allowed + 1);
    else if ((k->type == GT_CFG_INT && list) || k->type == GT_CFG_ENUM)
        snprintf(buf, cap, "one of %s", allowed_of(k));
    else if (k->type == GT_CFG_INT || k->type == GT_CFG_FLOAT)
        describe_range(k->allowed, k->type == GT_CFG_INT ? "an integer" : "a number", buf, cap);
    else if (k->type == GT_CFG_BOOL)
        snprintf(buf, cap, "true or false");
    else
        snprintf(buf, cap, "text of at most %d characters", GT_CFG_STR_MAX - 1);
}

/* ---- parsing one value: each returns NULL, or what is wrong ---------------------------------- */

static const char *parse_int(const gt_cfg_key *k, const char *v, void *field) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end) return "not an integer";
    if (errno == ERANGE) return "too large";
    bool ok = strchr(k->allowed, '|') ? in_list(k->allowed, v) : in_range(k->allowed, (double)x);
    if (!ok) return "out of range";
    *(int64_t *)field = x;
    return NULL;
}

static const char *parse_float(const gt_cfg_key *k, const char *v, void *field) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end) return "not a number";
    if (!isfinite(x)) return "not a finite number";
    if (!in_range(k->allowed, x)) return "out of range";
    *(double *)field = x;
    return NULL;
}

static const char *parse_bool(const char *v, void *field) {
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *(bool *)field = strcasecmp(v, yes[i]) == 0;
            return NULL;
        }
    }
    return "not a boolean";
}

/* Text must survive an INI round trip: one line, and no " ;" (which starts a comment). */
static const char *parse_text(const gt_cfg_key *k, const char *v, void *field) {
    if (strlen(v) >= k->size) return "too long";
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < 0x20) return "contains a control character";
        if (*p == ';' && p > v && (p[-1] == ' ' || p[-1] == '\t'))
            return "contains ' ;', which would start a comment in an INI file";
    }
    if (k->type == GT_CFG_ENUM && !(allowed_of(k) && in_list(allowed_of(k), v)))
        return "not one of the allowed values";
    strcpy(field, v);
    return NULL;
}

static const char *parse_value(const gt_cfg_key *k, const char *v, gt_config *c) {
    void *field = (char *)c + k->offset;
    switch (k->type) {
    case GT_CFG_INT: return parse_int(k, v, field);
    case GT_CFG_FLOAT: return parse_float(k, v, field);
    case GT_CFG_BOOL: return parse_bool(v, field);
    default: return parse_text(k, v, field);
    }
}

int gt_cfg_apply(gt_config *c, int i, const char *value, const char *where, gt_error *err) {
    const gt_cfg_key *k = &gt_cfg_keys[i];
    const char *why = parse_value(k, value, c);
    if (!why) return 0;
    char allowed[300];
    describe(k, allowed, sizeof allowed);
    return gt_error_set(err, "%s: bad value for [%s] %s = '%.300s': %s; allowed: %s", where,
                        k->section, k->key, value, why, allowed);
}

/* ---- lookup ------------------------------------------------------------------------------- */

/* Whether key i is the first of its section in the table. */
static bool first_of_section(int i) {
    for (int j = 0; j < i; j++)
        if (strcmp(gt_cfg_keys[j].section, gt_cfg_keys[i].section) == 0) return false;
    return true;
}

/* Appends ", name" (or "name" first) to buf of cap bytes holding n characters. */
static int append_name(char *buf, size_t cap, int n, const char *name) {
    if ((size_t)n >= cap) return n;
    return n + snprintf(buf + n, cap - (size_t)n, "%s%s", n ? ", " : "", name);
}

int gt_cfg_check_section(const char *section, const char *where, gt_error *err) {
    char names[600] = "";
    int n = 0;
    for (int i = 0; i < GT_CFG_N_KEYS; i++) {
        if (strcmp(gt_cfg_keys[i].section, section) == 0) return 0;
        if (first_of_section(i)) n = append_name(names, sizeof names, n, gt_cfg_keys[i].section);
    }
    return gt_error_set(err, "%s: unknown section [%.100s]; the sections are: %s (hint: `gantry "
                        "config --defaults` lists every section and key)", where, section, names);
}

int gt_cfg_resolve(const char *section, const char *key, const char *where, gt_error *err) {
    if (!*section)
        return gt_error_set(err, "%s: key '%.100s' appears before any [section]", where, key);
    if (gt_cfg_check_section(section, where, err) != 0) return -1;
    char names[800] = "";
    int n = 0;
    for (int i = 0; i < GT_CFG_N_KEYS; i++) {
        if (strcmp(gt_cfg_keys[i].section, section) != 0) continue;
        if (strcmp(gt_cfg_keys[i].key, key) == 0) return i;
        n = append_name(names, sizeof names, n, gt_cfg_keys[i].key);
    }
    return gt_error_set(err, "%s: unknown key '%.100s' in [%s]; the keys of [%s] are: %s", where,
                        key, section, section, names);
}

void gt_config_defaults(gt_config *c) {
    memset(c, 0, sizeof *c);  /* padding too, so that equal configurations compare equal */
    for (int i = 0; i < GT_CFG_N_KEYS; i++) {
        const char *why = parse_value(&gt_cfg_keys[i], gt_cfg_keys[i].def, c);
        GT_CHECK(!why, "config_keys.def: [%s] %s: default '%s' is %s", gt_cfg_keys[i].section,
                 gt_cfg_keys[i].key, gt_cfg_keys[i].def, why);
    }
}

/* ---- command-line overrides ------------------------------------------------------------------ */

/* Copies [b, e) without surrounding blanks into dst; false if it does not fit. */
static bool copy_trimmed(char *dst, size_t cap, const char *b, const char *e) {
    while (b < e && (*b == ' ' || *b == '\t')) b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if ((size_t)(e - b) >= cap) return false;
    memcpy(dst, b, (size_t)(e - b));
    dst[e - b] = '\0';
    return true;
}

int gt_config_set(gt_config *c, const char *assignment, const char *origin, gt_error *err) {
    const char *eq = strchr(assignment, '=');
    const char *dot = NULL;
    for (const char *p = assignment; eq && p < eq; p++)
        if (*p == '.') dot = p;
    char section[128], key[128], value[1024];
    if (!eq || !dot || !copy_trimmed(section, sizeof section, assignment, dot) ||
        !copy_trimmed(key, sizeof key, dot + 1, eq) ||
        !copy_trimmed(value, sizeof value, eq + 1, eq + 1 + strlen(eq + 1)))
        return gt_error_set(err, "%s: '%.200s' is not section.key=value (e.g. train.steps=1000, "
                            "model.g.width=64)", origin, assignment);
    int i = gt_cfg_resolve(section, key, origin, err);
    return i < 0 ? -1 : gt_cfg_apply(c, i, value, origin, err);
}

/* ---- writing ------------------------------------------------------------------------------ */

/* The shortest text that reads back as exactly v. */
static void format_double(double v, char *buf, size_t cap) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void format_value(const gt_cfg_key *k, const gt_config *c, char *buf, size_t cap) {
    const void *field = (const char *)c + k->offset;
    switch (k->type) {
    case GT_CFG_INT: snprintf(buf, cap, "%lld", (long long)*(const int64_t *)field); break;
    case GT_CFG_FLOAT: format_double(*(const double *)field, buf, cap); break;
    case GT_CFG_BOOL: snprintf(buf, cap, "%s", *(const bool *)field ? "true" : "false"); break;
    default: snprintf(buf, cap, "%s", (const char *)field); break;
    }
}

int gt_config_next_difference(const gt_config *a, const gt_config *b, int *from, gt_config_difference *d) {
    for (int i = *from; i < GT_CFG_N_KEYS; i++) {
        format_value(&gt_cfg_keys[i], a, d->a, sizeof d->a);
        format_value(&gt_cfg_keys[i], b, d->b, sizeof d->b);
        if (strcmp(d->a, d->b) == 0) continue;
        d->section = gt_cfg_keys[i].section;
        d->key = gt_cfg_keys[i].key;
        *from = i + 1;
        return 1;
    }
    *from = GT_CFG_N_KEYS;
    return 0;
}

/* "; text" word-wrapped at about 96 columns: libinih rejects lines of 200 characters or more,
 * comments included, so a long key description must not make the file unreadable. */
static void emit_comment(FILE *out, const char *text) {
    enum { WIDTH = 94 };
    while (*text) {
        size_t n = strlen(text);
        if (n > WIDTH) {
            n = WIDTH;
            while (n > 0 && text[n] != ' ') n--;
            if (n == 0) n = WIDTH;
        }
        fprintf(out, "; %.*s\n", (int)n, text);
        text += n;
        while (*text == ' ') text++;
    }
}

static void emit_key(FILE *out, const gt_cfg_key *k, const gt_config *c, bool comments) {
    char value[GT_CFG_STR_MAX];
    format_value(k, c, value, sizeof value);
    if (comments) {
        char allowed[300], line[800];
        describe(k, allowed, sizeof allowed);
        snprintf(line, sizeof line, "%s (%s; default %s)", k->doc, allowed,
                 *k->def ? k->def : "empty");
        emit_comment(out, line);
    }
    fprintf(out, "%s = %s\n", k->key, value);
}

/* Sections in order of their first key, each with all its keys. */
static void emit_ini(FILE *out, const gt_config *c, bool comments) {
    for (int i = 0; i < GT_CFG_N_KEYS; i++) {
        if (!first_of_section(i)) continue;
        fprintf(out, "%s[%s]\n", i ? "\n" : "", gt_cfg_keys[i].section);
        for (int j = i; j < GT_CFG_N_KEYS; j++)
            if (strcmp(gt_cfg_keys[j].section, gt_cfg_keys[i].section) == 0)
                emit_key(out, &gt_cfg_keys[j], c, comments);
    }
}

int gt_config_write(const gt_config *c, const char *path, gt_error *err) {
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (!f) return -1;
    fprintf(f, "; gantry configuration, fully resolved\n\n");
    emit_ini(f, c, true);
    return gt_atomic_commit(&a, err);
}

void gt_config_print_defaults(FILE *out) {
    gt_config d;
    gt_config_defaults(&d);
    fprintf(out, "; gantry configuration: every key with its default\n\n");
    emit_ini(out, &d, true);
}

int gt_config_to_string(const gt_config *c, char *buf, size_t cap) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return -1;
    emit_ini(f, c, false);
    int rc = fclose(f) == 0 && len < cap && len <= INT32_MAX ? (int)len : -1;
    if (rc >= 0) memcpy(buf, text, len + 1);
    free(text);
    return rc;
}
