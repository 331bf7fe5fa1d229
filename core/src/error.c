/* Errors: codes plus messages with context. */
#include <litepred/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lp_err_set(lp_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int lp_err_prefix(lp_err *err, const char *fmt, ...)
{
    if (!err)
        return LP_EINVAL;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* A message that no longer fits is cut at the end: the context comes first. */
    if (snprintf(err->msg, sizeof err->msg, "%s%s", prefix, old) >= (int)sizeof err->msg)
        err->msg[sizeof err->msg - 1] = '\0';
    return err->code;
}

void lp_err_clear(lp_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *lp_strerror(int code)
{
    switch (code) {
    case LP_OK: return "LP_OK";
    case LP_EINVAL: return "LP_EINVAL";
    case LP_ENOMEM: return "LP_ENOMEM";
    case LP_EIO: return "LP_EIO";
    case LP_ENOTFOUND: return "LP_ENOTFOUND";
    case LP_EABI: return "LP_EABI";
    case LP_EUNSUPPORTED: return "LP_EUNSUPPORTED";
    case LP_EEXIST: return "LP_EEXIST";
    case LP_EPARSE: return "LP_EPARSE";
    case LP_ESTORE: return "LP_ESTORE";
    case LP_EPLUGIN: return "LP_EPLUGIN";
    case LP_ECORRUPT: return "LP_ECORRUPT";
    case LP_EINTERRUPTED: return "LP_EINTERRUPTED";
    default: return "LP_E(unknown)";
    }
}

static const char *const kind_names[LP_KIND_COUNT + 1] = {
    NULL, "engine", "kernel", "sampler", "similarity", "predictor"};

const char *lp_kind_name(lp_kind kind)
{
    if ((int)kind < 1 || (int)kind > LP_KIND_COUNT)
        return NULL;
    return kind_names[kind];
}

lp_kind lp_kind_parse(const char *name)
{
    if (!name)
        return 0;
    for (int k = 1; k <= LP_KIND_COUNT; k++) {
        size_t n = strlen(kind_names[k]);
        if (!strcmp(name, kind_names[k]) ||
            (!strncmp(name, kind_names[k], n) && !strcmp(name + n, "s")))
            return (lp_kind)k;
    }
    if (!strcmp(name, "similarities"))
        return LP_KIND_SIMILARITY;
    return 0;
}
