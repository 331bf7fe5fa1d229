/* `litepred plugins [KIND]` and `litepred help KIND/NAME`: both print straight
 * from the descriptors, so listings cannot drift from what loads. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int lp_cli_plugins(lp_cli *cli, int argc, char **argv)
{
    if (lp_cli_wants_help(argc, argv)) {
        printf("usage: litepred plugins [KIND]\n\n"
               "Lists every loaded plugin: kind, name, summary and the file it came from.\n"
               "KIND filters: engine, kernel, sampler, similarity, predictor.\n");
        return LP_EXIT_OK;
    }
    if (argc > 2)
        return lp_cli_usage_error("plugins", "expected at most one KIND");
    lp_kind only = 0;
    if (argc == 2 && !(only = lp_kind_parse(argv[1])))
        return lp_cli_usage_error("plugins", "unknown kind '%s' (kinds: engine, kernel, sampler, "
                                             "similarity, predictor)", argv[1]);
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    printf("%-10s %-16s %-58s %s\n", "KIND", "NAME", "SUMMARY", "FILE");
    size_t shown = 0;
    for (size_t i = 0; i < lp_registry_count(reg); i++) {
        const lp_plugin *p = lp_registry_at(reg, i);
        const lp_plugin_desc *d = lp_plugin_descriptor(p);
        if (only && d->kind != only)
            continue;
        printf("%-10s %-16s %-58s %s\n", lp_kind_name(d->kind), d->name,
               d->summary ? d->summary : "", lp_plugin_path(p));
        shown++;
    }
    fprintf(stderr, "%zu plugin%s\n", shown, shown == 1 ? "" : "s");
    return LP_EXIT_OK;
}

static void print_range(const lp_option *o, char *buf, size_t size)
{
    buf[0] = '\0';
    if (o->type == LP_OPT_CHOICE) {
        size_t len = 0;
        for (int i = 0; o->choices[i] && len < size; i++)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "|" : "", o->choices[i]);
    } else if ((o->type == LP_OPT_INT || o->type == LP_OPT_DOUBLE) && o->min <= o->max &&
               (o->min != 0 || o->max != 0)) {
        snprintf(buf, size, "[%g, %g]", o->min, o->max);
    }
}

static void print_options(const lp_option *table)
{
    char def[128], range[256];
    if (!table || !table->name) {
        printf("  (no options)\n");
        return;
    }
    printf("  %-14s %-7s %-12s %-22s %s\n", "OPTION", "TYPE", "DEFAULT", "RANGE/CHOICES", "HELP");
    for (const lp_option *o = table; o->name; o++) {
        print_range(o, range, sizeof range);
        printf("  %-14s %-7s %-12s %-22s %s\n", o->name, lp_opt_type_name(o->type),
               lp_option_default_str(o, def, sizeof def), range, o->help ? o->help : "");
    }
}

static void print_kernel_dims(const lp_kernel_ops *ops)
{
    if (!LP_OPS_HAS(ops, lp_kernel_ops, dims))
        return;
    printf("\nconfiguration dims (%zu features):\n", ops->n_features);
    for (size_t i = 0; i < ops->n_dims; i++) {
        const lp_dim *d = &ops->dims[i];
        char vals[512];
        size_t len = 0;
        vals[0] = '\0';
        if (d->labels)
            for (int j = 0; d->labels[j] && len < sizeof vals; j++)
                len += (size_t)snprintf(vals + len, sizeof vals - len, "%s%s", j ? "|" : "",
                                        d->labels[j]);
        else if (d->values)
            for (size_t j = 0; j < d->n_values && len < sizeof vals; j++)
                len += (size_t)snprintf(vals + len, sizeof vals - len, "%s%d", j ? "," : "",
                                        d->values[j]);
        else
            snprintf(vals, sizeof vals, "%d..%d step %d", d->min, d->max, d->step);
        printf("  %-8s %-30s %s\n", d->name, vals, d->help ? d->help : "");
    }
}

int lp_cli_help(lp_cli *cli, int argc, char **argv)
{
    if (argc != 2 || lp_cli_wants_help(argc, argv)) {
        FILE *f = argc == 2 ? stdout : stderr;
        fprintf(f, "usage: litepred help KIND/NAME\n\n"
                   "Prints a plugin's options (name, type, default, range or choices, help),\n"
                   "straight from its option table. Example: litepred help engine/native\n");
        return argc == 2 ? LP_EXIT_OK : LP_EXIT_USAGE;
    }
    char kind_s[32];
    const char *slash = strchr(argv[1], '/');
    if (!slash || slash == argv[1] || (size_t)(slash - argv[1]) >= sizeof kind_s || !slash[1])
        return lp_cli_usage_error("help", "expected KIND/NAME, got '%s'", argv[1]);
    memcpy(kind_s, argv[1], (size_t)(slash - argv[1]));
    kind_s[slash - argv[1]] = '\0';
    lp_kind kind = lp_kind_parse(kind_s);
    if (!kind)
        return lp_cli_usage_error("help", "unknown kind '%s' (kinds: engine, kernel, sampler, "
                                          "similarity, predictor)", kind_s);
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    const lp_plugin *p = lp_registry_find(reg, kind, slash + 1);
    if (!p) {
        char names[1024];
        fprintf(stderr, "litepred help: unknown %s plugin '%s' (available: %s)\n",
                lp_kind_name(kind), slash + 1, lp_registry_names(reg, kind, names, sizeof names));
        return LP_EXIT_USAGE;
    }
    const lp_plugin_desc *d = lp_plugin_descriptor(p);
    printf("%s/%s: %s\nfile: %s\nABI: %u.%u\n\noptions:\n", lp_kind_name(d->kind), d->name,
           d->summary ? d->summary : "", lp_plugin_path(p), d->abi_major, d->abi_minor);
    print_options(d->options);
    if (d->kind == LP_KIND_KERNEL)
        print_kernel_dims(d->ops);
    return LP_EXIT_OK;
}
