/* The oneDNN engine: every primitive of graph.h through oneDNN's C API
 * (libdnnl 2.6, OpenMP runtime), fp32 or int8. NHWC activations; weights in
 * whatever blocked layout oneDNN picks for them, reordered once at prepare;
 * a user scratchpad so that run() never allocates. */
#include "onednn.h"

#include <oneapi/dnnl/dnnl_debug.h>
#include <dlfcn.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const lp_dn_precisions[] = {"fp32", "int8", NULL};

static const lp_option lp_dn_options[] = {
    {.name = "threads", .help = "OpenMP threads oneDNN runs with (fixed when a graph is prepared)",
     .type = LP_OPT_INT, .offset = offsetof(lp_dnnl, threads), .def_i = 1, .min = 1, .max = 256},
    {.name = "precision", .help = "fp32, or int8: u8/s8 activations, per-channel s8 weights, "
     "scales from an fp32 calibration run (conv2d, dense, pool, add, mul and data movement)",
     .type = LP_OPT_CHOICE, .offset = offsetof(lp_dnnl, precision), .def_s = "fp32",
     .choices = lp_dn_precisions},
    LP_OPT_END};

static int lp_dn_probe(lp_err *err)
{
    dnnl_engine_t eng = NULL;
    int rc = lp_dn_check(dnnl_engine_create(&eng, dnnl_cpu, 0), err, "probe",
                         "dnnl_engine_create");
    if (eng)
        dnnl_engine_destroy(eng);
    return rc;
}

/* Keeps the library that defines sym loaded for the life of the process. libgomp's idle
 * worker threads outlive any instance; unloading libgomp (and libdnnl, whose thread-local
 * state they hold) under them when the registry closes leaves threads on unmapped code. */
static void lp_dn_pin(void *sym)
{
    Dl_info info;
    if (dladdr(sym, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static int lp_dn_init(void *priv, lp_err *err)
{
    lp_dnnl *e = priv;
    lp_dn_pin((void *)dnnl_version);
    lp_dn_pin((void *)omp_get_max_threads);
    int rc = lp_dn_check(dnnl_engine_create(&e->eng, dnnl_cpu, 0), err, "init",
                         "dnnl_engine_create");
    if (rc)
        return rc;
    const dnnl_version_t *v = dnnl_version();
    /* The ISA oneDNN dispatches to decides which kernels run: part of the fingerprint. */
    const char *isa = dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa());
    if (strncmp(isa, "cpu_isa_", 8) == 0)
        isa += 8;
    snprintf(e->version, sizeof e->version, "oneDNN %d.%d.%d (%s, %s)", v->major, v->minor,
             v->patch, dnnl_runtime2str(v->cpu_runtime), isa);
    return 0;
}

static void lp_dn_fini(void *priv)
{
    lp_dnnl *e = priv;
    if (e->eng)
        dnnl_engine_destroy(e->eng);
    e->eng = NULL;
    /* Ends this thread's idle OpenMP workers (libgomp makes new ones on the next parallel
     * region), so they neither spin beside the next engine measured nor outlive the plugin;
     * LeakSanitizer also crashed scanning their thread-local storage at exit. */
    omp_pause_resource_all(omp_pause_hard);
}

static const char *lp_dn_version(void *priv)
{
    return ((lp_dnnl *)priv)->version;
}

static int lp_dn_threads(void *priv)
{
    return (int)((lp_dnnl *)priv)->threads;
}

static int lp_dn_supports(void *priv, const lp_graph *g, const lp_node *node, lp_err *err)
{
    if (!g || !node)
        return lp_err_set(err, LP_EINVAL, "onednn: supports without a graph or node");
    return lp_dn_supports_node(priv, g, node, err);
}

static const lp_engine_ops lp_dn_ops = {
    .size = sizeof(lp_engine_ops),
    .supports = lp_dn_supports,
    .prepare = lp_dn_prepare,
    .run = lp_dn_run,
    .output = lp_dn_output,
    .release = lp_dn_release,
    .version = lp_dn_version,
    .threads = lp_dn_threads,
};

static const lp_plugin_desc lp_dn_desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_ENGINE,
    .name = "onednn",
    .summary = "oneDNN 2.x (libdnnl): fused conv, inner product, matmul, ...; fp32 or int8",
    .options = lp_dn_options,
    .priv_size = sizeof(lp_dnnl),
    .ops = &lp_dn_ops,
    .probe = lp_dn_probe,
    .init = lp_dn_init,
    .fini = lp_dn_fini,
};

LP_PLUGIN_DEFINE(lp_dn_desc)
