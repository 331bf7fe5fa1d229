/* Progress of long work: a redrawn bar on a terminal, plain periodic lines
 * otherwise (logs and CI), nothing with --quiet. */
#include <litepred/litepred.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Non-terminal output prints at most one line per this many nanoseconds. */
#define LINE_INTERVAL_NS 10000000000ull
/* A terminal bar is redrawn at most this often. */
#define BAR_INTERVAL_NS 100000000ull

struct lp_progress {
    char label[64];
    uint64_t total, done, start_ns, last_ns;
    int quiet, tty;
};

lp_progress *lp_progress_start(const char *label, uint64_t total, int quiet)
{
    lp_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "working");
    p->total = total;
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->start_ns = p->last_ns = lp_now_ns();
    return p;
}

static void fmt_duration(double s, char *buf, size_t size)
{
    if (s < 0 || s > 1e7)
        snprintf(buf, size, "?");
    else if (s >= 3600)
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, size, "%.0fs", s);
}

static void draw(lp_progress *p, uint64_t now, int final)
{
    double el = (double)(now - p->start_ns) / 1e9;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32] = "", elapsed[32];
    fmt_duration(el, elapsed, sizeof elapsed);
    if (p->total && rate > 0 && !final)
        fmt_duration((double)(p->total - (p->done < p->total ? p->done : p->total)) / rate, eta,
                     sizeof eta);
    if (p->tty) {
        char bar[31];
        int fill = p->total ? (int)(30.0 * (double)p->done / (double)p->total) : 0;
        if (fill > 30)
            fill = 30;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(30 - fill));
        bar[30] = '\0';
        if (p->total)
            fprintf(stderr, "\r%s [%s] %llu/%llu %.1f/s %s %s%s", p->label, bar,
                    (unsigned long long)p->done, (unsigned long long)p->total, rate,
                    final ? "in" : "ETA", final ? elapsed : eta, final ? "\n" : "\033[K");
        else
            fprintf(stderr, "\r%s %llu %.1f/s %s%s", p->label, (unsigned long long)p->done, rate,
                    elapsed, final ? "\n" : "\033[K");
    } else if (p->total) {
        fprintf(stderr, "%s: %llu/%llu (%.0f%%) %.1f/s, %s %s\n", p->label,
                (unsigned long long)p->done, (unsigned long long)p->total,
                100.0 * (double)p->done / (double)p->total, rate, final ? "took" : "ETA",
                final ? elapsed : eta);
    } else {
        fprintf(stderr, "%s: %llu done, %.1f/s, %s\n", p->label, (unsigned long long)p->done,
                rate, elapsed);
    }
    fflush(stderr);
}

void lp_progress_update(lp_progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    if (p->quiet)
        return;
    uint64_t now = lp_now_ns();
    if (now - p->last_ns < (p->tty ? BAR_INTERVAL_NS : LINE_INTERVAL_NS))
        return;
    p->last_ns = now;
    draw(p, now, 0);
}

void lp_progress_end(lp_progress *p)
{
    if (!p)
        return;
    if (!p->quiet)
        draw(p, lp_now_ns(), 1);
    free(p);
}
