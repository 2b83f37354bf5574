/* Headless Chromium for the report tests: chromium runs in a process group of its own, killed
 * with its helpers when it overstays; a check script's answer comes back through --dump-dom as
 * the text of <pre id="verdict">. */
#include "chromium.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_support.h"

enum { CHROMIUM_TIMEOUT_MS = 60000 };

bool chromium_present(void) { return access(CHROMIUM, X_OK) == 0; }

/* Runs chromium headless with extra arguments (NULL-terminated, at most 8), stdout to
 * stdout_path (NULL: discarded); its exit status, -1 when it could not run or overstayed. */
static int run_chromium(const char *profile, const char *stdout_path, const char *const *extra) {
    char profile_arg[600];
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    const char *argv[24] = {CHROMIUM,           "--headless",
                            "--no-sandbox",     "--disable-gpu",
                            "--disable-quic",   "--no-first-run",
                            "--disable-sync",   "--disable-background-networking",
                            "--disable-component-update", profile_arg};
    int n = 10;
    for (int i = 0; extra[i] && n < 23; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int out = open(stdout_path ? stdout_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_WRONLY);
        if (out < 0 || null < 0 || dup2(out, 1) < 0 || dup2(null, 2) < 0) _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0) return -1;
    int status = 0;
    for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 100) {
        if (waited >= CHROMIUM_TIMEOUT_MS) {
            fprintf(stderr, "  chromium did not finish in %d ms\n", CHROMIUM_TIMEOUT_MS);
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        cli_sleep_ms(100);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool chromium_screenshot(const char *html, const char *shot, int w, int h, const char *profile) {
    char shot_arg[600], size_arg[64], url[600];
    snprintf(shot_arg, sizeof shot_arg, "--screenshot=%s", shot);
    snprintf(size_arg, sizeof size_arg, "--window-size=%d,%d", w, h);
    snprintf(url, sizeof url, "file://%s", html);
    const char *extra[] = {"--hide-scrollbars", shot_arg, size_arg, url, NULL};
    return run_chromium(profile, NULL, extra) == 0;
}

/* The page without its Content-Security-Policy <meta>, with the check script before </body>. */
static char *page_with_script(const char *page, const char *script) {
    static const char csp[] = "<meta http-equiv=\"Content-Security-Policy\"";
    static const char head[] =
        "<script>(function () { var p = document.createElement('pre'); p.id = 'verdict';\n"
        "try { p.textContent = (function () {\n";
    static const char tail[] =
        "\n})(); } catch (e) { p.textContent = 'error: ' + e; }\n"
        "document.body.appendChild(p); })();</script>\n";
    const char *meta = strstr(page, csp), *meta_end = meta ? strchr(meta, '>') : NULL;
    const char *body_end = strstr(page, "</body>");
    if (!meta_end || !body_end || body_end < meta_end) return NULL;
    size_t cap = strlen(page) + strlen(script) + sizeof head + sizeof tail;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    snprintf(out, cap, "%.*s%.*s%s%s%s%s", (int)(meta - page), page,
             (int)(body_end - meta_end - 1), meta_end + 1, head, script, tail, body_end);
    return out;
}

char *chromium_eval(const char *html, const char *script, const char *scratch) {
    char *page = cli_read_file(html, NULL);
    char *checked = page ? page_with_script(page, script) : NULL;
    free(page);
    char check[600], dom[600], url[700], profile[600];
    snprintf(check, sizeof check, "%s/check.html", scratch);
    snprintf(dom, sizeof dom, "%s/dom.html", scratch);
    snprintf(profile, sizeof profile, "%s/chromium-profile", scratch);
    snprintf(url, sizeof url, "file://%s", check);
    bool written = checked && cli_write_file(check, checked, strlen(checked));
    free(checked);
    const char *extra[] = {"--window-size=1200,2000", "--dump-dom", url, NULL};
    if (!written || run_chromium(profile, dom, extra) != 0) return NULL;
    char *text = cli_read_file(dom, NULL);
    const char *start = text ? strstr(text, "<pre id=\"verdict\">") : NULL;
    const char *end = start ? strstr(start, "</pre>") : NULL;
    char *verdict = NULL;
    if (end) {
        start += strlen("<pre id=\"verdict\">");
        verdict = strndup(start, (size_t)(end - start));
    }
    free(text);
    return verdict;
}
