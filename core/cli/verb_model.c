/* `litepred model show FILE`: a model's kernels with their cost and shapes. */
#include "cli.h"

#include <litepred/model.h>
#include <stdio.h>
#include <string.h>

static void model_usage(FILE *f)
{
    fprintf(f, "usage: litepred model show FILE\n"
               "\n"
               "Loads a model file (configs/models/*.yaml, or one written by `litepred space\n"
               "sample`), resolves every kernel config through its kernel plugin and checks\n"
               "that each kernel's input shapes match what feeds them. Prints one row per\n"
               "entry (index, type, config, MACs, params, output shape), then the totals.\n"
               "\n"
               "Exit status: 0 ok; 2 usage error or an inconsistent model (the message names\n"
               "the entry's index, its type and both shapes); 1 the file cannot be read.\n");
}

/* 1234567 -> "1.23M": rows stay narrow, the totals line also prints exact counts. */
static char *human(double v, char *buf, size_t size)
{
    if (v >= 1e9)
        snprintf(buf, size, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, size, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, size, "%.2fK", v / 1e3);
    else
        snprintf(buf, size, "%.0f", v);
    return buf;
}

static void show_row(const lp_model *m, size_t i)
{
    const lp_mnode *k = &m->k[i];
    lp_cost c;
    char macs[32], params[32], shape[64], in[64] = "";
    size_t len = 0;
    lp_model_entry_cost(m, i, &c);
    for (int j = 0; j < k->n_in; j++) {
        if (k->in[j] == LP_MODEL_INPUT)
            len += (size_t)snprintf(in + len, sizeof in - len, "%sinput", j ? "," : "");
        else
            len += (size_t)snprintf(in + len, sizeof in - len, "%s%d", j ? "," : "", k->in[j]);
    }
    const char *cfg = k->config;
    char opcfg[64];
    if (k->op == LP_MOP_TOKENS) {
        snprintf(opcfg, sizeof opcfg, "cls=%d", k->arg);
        cfg = opcfg;
    } else if (k->op == LP_MOP_TOKEN_POOL) {
        snprintf(opcfg, sizeof opcfg, "mode=%s", k->arg == LP_TOKEN_POOL_CLS ? "cls" : "mean");
        cfg = opcfg;
    }
    printf("%5zu  %-15s %-48s %-9s %9s %9s  %s\n", i, k->type, cfg, in, human(c.macs, macs, sizeof macs),
           human(c.true_params, params, sizeof params), lp_shape_str(&k->out, shape, sizeof shape));
}

static int model_show(lp_cli *cli, const char *path)
{
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    lp_model *m = NULL;
    lp_err err = {0};
    int rc = lp_model_load(reg, path, &m, &err);
    if (rc < 0) {
        fprintf(stderr, "litepred model: %s\n", err.msg);
        return rc == LP_EINVAL || rc == LP_EPARSE ? LP_EXIT_USAGE : LP_EXIT_FAIL;
    }
    lp_model_totals t;
    char a[32], b[32], c[32];
    lp_model_totals_get(m, &t);
    printf("model %s%s%s%s: input 1x%lldx%lldx%lld, %zu entries\n", m->name,
           m->space ? " (space " : "", m->space ? m->space : "", m->space ? ")" : "",
           (long long)m->input_hw, (long long)m->input_hw, (long long)m->input_c, m->n);
    printf("%5s  %-15s %-48s %-9s %9s %9s  %s\n", "idx", "type", "config", "in", "MACs", "params",
           "output");
    for (size_t i = 0; i < m->n; i++)
        show_row(m, i);
    printf("total: %zu kernels, %.0f MACs (%s), %.0f params (%s), %s FLOPs\n", t.n_kernels,
           t.macs, human(t.macs, a, sizeof a), t.params, human(t.params, b, sizeof b),
           human(t.flops, c, sizeof c));
    lp_model_free(m);
    return LP_EXIT_OK;
}

int lp_cli_model(lp_cli *cli, int argc, char **argv)
{
    if (lp_cli_wants_help(argc, argv)) {
        model_usage(stdout);
        return LP_EXIT_OK;
    }
    if (argc < 2) {
        model_usage(stderr);
        return LP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "show"))
        return lp_cli_usage_error("model", "unknown subcommand '%s' (expected: show)", argv[1]);
    if (argc != 3)
        return lp_cli_usage_error("model", "show takes exactly one FILE");
    if (argv[2][0] == '-')
        return lp_cli_usage_error("model", "unknown option '%s'", argv[2]);
    return model_show(cli, argv[2]);
}
