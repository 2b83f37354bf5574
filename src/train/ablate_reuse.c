/* gantry ablate --reuse DIR (ablate.h): a run whose configuration another ablation has already
 * trained is taken from that ablation's folder instead of being trained again. A staged search
 * (issue 22) carries each stage's winner into the next as --set, so the next stage's baseline
 * combination is the same configuration, with the same seeds, as a run of the last stage.
 *
 * Two runs are the same when their fully resolved configurations are (the base file, every
 * --set and --vary and the seed resolved to every key's value), train.threads aside: it changes
 * a run's speed, never its numbers. The finished run's files are hard-linked (copied across
 * file systems) into the new run's folder; the old ablation's files are never written. */
#include "train/ablate_internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/config.h"
#include "io/files.h"

#define CONFIG_TEXT_MAX (64 * 1024)

int gt_ablate_config_text_(const gt_config *cfg, char **text, gt_error *err) {
    gt_config c = *cfg;
    c.train_threads = 0; /* speed, not numbers */
    *text = malloc(CONFIG_TEXT_MAX);
    if (!*text) return gt_error_set(err, "out of memory");
    if (gt_config_to_string(&c, *text, CONFIG_TEXT_MAX) < 0) {
        free(*text);
        *text = NULL;
        return gt_error_set(err, "a run's configuration does not fit in %d bytes", CONFIG_TEXT_MAX);
    }
    return 0;
}

/* The finished run in folder dir (its ablate.json says trained) with the configuration text
 * want: true, with its state object in *state (the caller frees it). */
static bool same_finished_run(const char *dir, const char *want, cJSON **state) {
    char path[GT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/ablate.json", dir);
    char *text = gt_read_file(path, (size_t)1 << 20, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "trained"))) {
        cJSON_Delete(j);
        return false;
    }
    snprintf(path, sizeof path, "%s/config.ini", dir);
    gt_config cfg;
    gt_error ignored;
    char *have = NULL;
    gt_config_defaults(&cfg);
    bool same = gt_config_load_file(&cfg, path, &ignored) == 0 &&
                gt_ablate_config_text_(&cfg, &have, &ignored) == 0 && strcmp(have, want) == 0;
    free(have);
    if (same) *state = j;
    else cJSON_Delete(j);
    return same;
}

int gt_ablate_find_reusable_(const char *const *ablations, int n, const char *want, char *found,
                             size_t cap, cJSON **state) {
    *state = NULL;
    for (int a = 0; a < n; a++) {
        char runs[GT_PATH_MAX + 8];
        snprintf(runs, sizeof runs, "%s/runs", ablations[a]);
        DIR *d = opendir(runs);
        if (!d) continue;
        const struct dirent *e;
        bool hit = false;
        while (!hit && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(found, cap, "%s/%s", runs, e->d_name);
            hit = same_finished_run(found, want, state);
        }
        closedir(d);
        if (hit) return 1;
    }
    return 0;
}

/* ---- linking a run's files ---------------------------------------------------------------- */

static int copy_file(const char *from, const char *to, gt_error *err) {
    size_t len = 0;
    char *data = gt_read_file(from, (size_t)1 << 34, &len);
    if (!data) return gt_error_set(err, "%s: cannot read: %s", from, strerror(errno));
    gt_atomic a;
    FILE *f = gt_atomic_open(to, &a, err);
    if (f && fwrite(data, 1, len, f) != len) {
        gt_atomic_abort(&a);
        f = NULL;
        gt_error_set(err, "%s: cannot write: %s", to, strerror(errno));
    }
    free(data);
    return f ? gt_atomic_commit(&a, err) : -1;
}

/* from's files (and those of its folders, one level down) into to, as hard links where the
 * file system allows, else copies; ablate.json and lock stay behind (they are the run's own). */
static int link_tree(const char *from, const char *to, int depth, gt_error *err) {
    DIR *d = opendir(from);
    if (!d) return gt_error_set(err, "%s: cannot list: %s", from, strerror(errno));
    int rc = 0;
    const struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "ablate.json") == 0 ||
            strcmp(e->d_name, "lock") == 0)
            continue;
        char src[GT_PATH_MAX + 256], dst[GT_PATH_MAX + 256];
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        struct stat st;
        if (stat(src, &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0 || (mkdir(dst, 0755) < 0 && errno != EEXIST))
                continue;
            rc = link_tree(src, dst, depth + 1, err);
        } else if (S_ISREG(st.st_mode)) {
            unlink(dst);
            if (link(src, dst) < 0) rc = copy_file(src, dst, err);
        }
    }
    closedir(d);
    return rc;
}

int gt_ablate_link_run_(const char *from, const char *to, gt_error *err) {
    return link_tree(from, to, 0, err);
}
