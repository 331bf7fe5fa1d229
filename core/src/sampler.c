/* Core side of sampler plugins: the setup context and thin wrappers that check what a
 * plugin hands back, so a sampler bug surfaces as an error naming the sampler rather than
 * as an invalid measurement later. */
#include <litepred/sampler.h>

#include <string.h>

void lp_sampler_ctx_init(lp_sampler_ctx *ctx, const char *kernel_type, const lp_kernel_ops *kops,
                         uint64_t seed, const lp_prior *prior)
{
    int has_prior = prior && prior->n > 0 && prior->total > 0;
    *ctx = (lp_sampler_ctx){
        .size = sizeof *ctx,
        .kernel_type = kernel_type,
        .kernel = kops,
        .seed = seed,
        .prior = has_prior ? prior->cfgs : NULL,
        .prior_weights = has_prior ? prior->weights : NULL,
        .n_prior = has_prior ? prior->n : 0,
    };
}

static const lp_sampler_ops *sampler_ops(const lp_instance *inst, lp_err *err)
{
    if (!inst || inst->desc->kind != LP_KIND_SAMPLER) {
        lp_err_set(err, LP_EINVAL, "'%s' is not a sampler plugin", inst ? inst->desc->name : "(null)");
        return NULL;
    }
    return inst->desc->ops;
}

int lp_sampler_setup(lp_instance *inst, const lp_sampler_ctx *ctx, lp_err *err)
{
    const lp_sampler_ops *ops = sampler_ops(inst, err);
    if (!ops)
        return LP_EINVAL;
    if (!LP_OPS_HAS(ops, lp_sampler_ops, setup) || !LP_OPS_HAS(ops, lp_sampler_ops, sample))
        return lp_err_set(err, LP_EABI, "sampler '%s' lacks setup() or sample()", inst->desc->name);
    if (!ctx->kernel || !ctx->kernel_type)
        return lp_err_set(err, LP_EINVAL, "sampler '%s': the context names no kernel type",
                          inst->desc->name);
    int rc = ops->setup(inst->priv, ctx, err);
    if (rc < 0)
        lp_err_prefix(err, "sampler '%s' for %s: ", inst->desc->name, ctx->kernel_type);
    return rc;
}

int lp_sampler_sample(lp_instance *inst, const lp_kernel_ops *kops, size_t n, lp_kcfg *out,
                      lp_err *err)
{
    const lp_sampler_ops *ops = sampler_ops(inst, err);
    if (!ops)
        return LP_EINVAL;
    if (!LP_OPS_HAS(ops, lp_sampler_ops, sample))
        return lp_err_set(err, LP_EABI, "sampler '%s' lacks sample()", inst->desc->name);
    int rc = ops->sample(inst->priv, n, out, err);
    if (rc < 0)
        return lp_err_prefix(err, "sampler '%s': ", inst->desc->name);
    for (size_t i = 0; i < n; i++) {
        lp_err verr = {0};
        if (kops->valid(&out[i], &verr) < 0) {
            char text[256];
            lp_kcfg_format(kops->dims, kops->n_dims, &out[i], text, sizeof text);
            return lp_err_set(err, LP_EPLUGIN, "sampler '%s' drew an invalid config %s: %s",
                              inst->desc->name, text, verr.msg);
        }
    }
    return 0;
}

int lp_sampler_feedback(lp_instance *inst, const lp_kcfg *cfgs, const double *rel_err, size_t n,
                        lp_err *err)
{
    const lp_sampler_ops *ops = sampler_ops(inst, err);
    if (!ops)
        return LP_EINVAL;
    if (!LP_OPS_HAS(ops, lp_sampler_ops, feedback))
        return 0;
    int rc = ops->feedback(inst->priv, cfgs, rel_err, n, err);
    if (rc < 0)
        lp_err_prefix(err, "sampler '%s': ", inst->desc->name);
    return rc;
}
