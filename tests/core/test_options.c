/* Option tables applied to YAML: each problem with its message and position. */
#include <criterion/criterion.h>
#include <string.h>

#include "lp_test.h"

typedef struct {
    int64_t count;
    double ratio;
    int verbose;
    char *label;
    int mode;
    int64_t lo, hi;
    int inits;
} demo_priv; /* mirrors tests/fixtures/plugins/good/optdemo.c */

static lp_registry *reg;
static const lp_plugin *demo;

static void setup(void)
{
    char *dirs[] = {(char *)LP_TEST_FIXTURE_PLUGIN_DIR "/good"};
    lp_err err = {0};
    cr_assert_eq(lp_registry_open(&reg, dirs, 1, &err), 0, "%s", err.msg);
    demo = lp_registry_find(reg, LP_KIND_KERNEL, "optdemo");
    cr_assert_not_null(demo);
}

static void teardown(void) { lp_registry_close(reg); }

/* Parses text and creates an optdemo instance from its root mapping. */
static int create(const char *text, lp_instance **inst, lp_diag *diag)
{
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_yaml_parse(text, strlen(text), "t.yaml", &doc, &err), 0, "%s", err.msg);
    int rc = lp_instance_create(demo, doc->root, "t.yaml", inst, diag, &err);
    lp_ydoc_free(doc);
    return rc;
}

TestSuite(options, .init = setup, .fini = teardown);

Test(options, defaults_then_yaml_values)
{
    lp_instance *inst = NULL;
    lp_diag diag = {0};
    cr_assert_eq(create("plugin: optdemo\ncount: 8\nratio: 0.25\nverbose: yes\nlabel: x y\nmode: fast\n",
                        &inst, &diag), 0);
    cr_assert_eq(diag.n, 0);
    demo_priv *p = inst->priv;
    cr_assert_eq(p->count, 8);
    cr_assert_float_eq(p->ratio, 0.25, 1e-12);
    cr_assert_eq(p->verbose, 1);
    cr_assert_str_eq(p->label, "x y");
    cr_assert_eq(p->mode, 0);
    cr_assert_eq(p->hi, 10, "untouched options keep their defaults");
    cr_assert_eq(p->inits, 1, "init ran once");
    char *s = lp_instance_options_str(inst);
    cr_assert_str_eq(s, "count=8,ratio=0.25,verbose=true,label=x y,mode=fast,lo=0,hi=10");
    free(s);
    lp_instance_destroy(inst);
}

Test(options, every_problem_reported_with_line_and_column)
{
    lp_instance *inst = NULL;
    lp_diag diag = {0};
    const char *text = "plugin: optdemo\n"
                       "count: many\n"          /* line 2: wrong type */
                       "ratio: 1.5\n"           /* line 3: out of range */
                       "colour: red\n"          /* line 4: unknown key */
                       "mode: slow\n"           /* line 5: bad choice */
                       "verbose: [1, 2]\n"      /* line 6: not a scalar */
                       "lo: 0x10\n";            /* line 7: not a decimal integer */
    cr_assert_eq(create(text, &inst, &diag), LP_EINVAL);
    cr_assert_null(inst);
    cr_assert_eq(diag.n, 6, "one message per problem");
    cr_assert_str_eq(diag.msgs[0], "t.yaml:2:8: 'count' must be an integer, got 'many'");
    cr_assert_str_eq(diag.msgs[1], "t.yaml:3:8: 'ratio' = 1.5 is out of range [0, 1]");
    cr_assert_str_eq(diag.msgs[2], "t.yaml:4:1: unknown key 'colour' (valid keys: count, ratio, "
                                   "verbose, label, mode, lo, hi)");
    cr_assert_str_eq(diag.msgs[3], "t.yaml:5:7: 'mode' must be one of: fast, exact; got 'slow'");
    cr_assert_str_eq(diag.msgs[4], "t.yaml:6:10: 'verbose' must be a bool scalar, got a list");
    cr_assert_str_eq(diag.msgs[5], "t.yaml:7:5: 'lo' must be an integer, got '0x10'");
    lp_diag_free(&diag);
}

Test(options, integer_range_and_quoted_numbers)
{
    lp_instance *inst = NULL;
    lp_diag diag = {0};
    cr_assert_eq(create("count: 65\nhi: '5'\n", &inst, &diag), LP_EINVAL);
    cr_assert_eq(diag.n, 2);
    cr_assert_str_eq(diag.msgs[0], "t.yaml:1:8: 'count' = 65 is out of range [1, 64]");
    cr_assert_str_eq(diag.msgs[1], "t.yaml:2:5: 'hi' must be an integer, got '5'");
    lp_diag_free(&diag);
}

Test(options, cross_field_check_in_init)
{
    lp_instance *inst = NULL;
    lp_diag diag = {0};
    cr_assert_eq(create("lo: 50\nhi: 20\n", &inst, &diag), LP_EINVAL);
    cr_assert_eq(diag.n, 1);
    cr_assert_str_eq(diag.msgs[0], "t.yaml:1:1: kernel 'optdemo': lo (50) must not exceed hi (20)");
    lp_diag_free(&diag);
}

Test(options, required_option_missing)
{
    const lp_plugin *req = lp_registry_find(reg, LP_KIND_KERNEL, "reqdemo");
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    lp_diag diag = {0};
    lp_instance *inst = NULL;
    cr_assert_eq(lp_yaml_parse("plugin: reqdemo\n", 16, "r.yaml", &doc, &err), 0);
    cr_assert_eq(lp_instance_create(req, doc->root, "r.yaml", &inst, &diag, &err), LP_EINVAL);
    cr_assert_eq(diag.n, 1);
    cr_assert_str_eq(diag.msgs[0], "r.yaml:1:1: missing required key 'model' (path of the model to use)");
    lp_diag_free(&diag);
    lp_ydoc_free(doc);
    cr_assert_eq(lp_instance_create_kv(req, "", &inst, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "kernel 'reqdemo': missing required option 'model' (path of the model to use)");
    cr_assert_eq(lp_instance_create_kv(req, "model=m.bin", &inst, &err), 0, "%s", err.msg);
    lp_instance_destroy(inst);
}

Test(options, key_value_strings)
{
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(demo, "count=3,mode=fast", &inst, &err), 0, "%s", err.msg);
    cr_assert_eq(((demo_priv *)inst->priv)->count, 3);
    lp_instance_destroy(inst);
    cr_assert_eq(lp_instance_create_kv(demo, "count=3,speed=9", &inst, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "kernel 'optdemo': unknown option 'speed' (valid keys: count, ratio, "
                              "verbose, label, mode, lo, hi)");
    cr_assert_eq(lp_instance_create_kv(demo, "count", &inst, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "kernel 'optdemo': option 'count' must be written key=value");
    cr_assert_eq(lp_instance_create_kv(demo, "lo=9,hi=1", &inst, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "kernel 'optdemo': lo (9) must not exceed hi (1)");
}

Test(yaml, malformed_yaml_position)
{
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    const char *text = "a: 1\nb: [1, 2\nc: 3\n";
    cr_assert_eq(lp_yaml_parse(text, strlen(text), "m.yaml", &doc, &err), LP_EPARSE);
    cr_assert(strncmp(err.msg, "m.yaml:3:2: malformed YAML: did not find expected ',' or ']'", 60) == 0,
              "got: %s", err.msg);
}

Test(yaml, duplicate_keys_rejected)
{
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    const char *text = "a: 1\nb: 2\na: 3\n";
    cr_assert_eq(lp_yaml_parse(text, strlen(text), "d.yaml", &doc, &err), LP_EPARSE);
    cr_assert_str_eq(err.msg, "d.yaml:3:1: duplicate key 'a' (first at line 1)");
}

Test(yaml, two_documents_rejected)
{
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    const char *text = "a: 1\n---\nb: 2\n";
    cr_assert_eq(lp_yaml_parse(text, strlen(text), "two.yaml", &doc, &err), LP_EPARSE);
    cr_assert_str_eq(err.msg, "two.yaml:2:1: more than one YAML document in the file");
}

Test(yaml, positions_and_scalars)
{
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    const char *text = "top:\n  n: 42\n  f: 2.5e-3\n  b: Off\n  s: \"7\"\n";
    cr_assert_eq(lp_yaml_parse(text, strlen(text), "p.yaml", &doc, &err), 0, "%s", err.msg);
    const lp_ynode *top = lp_ymap_get(doc->root, "top");
    cr_assert_eq(top->type, LP_Y_MAP);
    const lp_ynode *n = lp_ymap_get(top, "n");
    cr_assert_eq(n->line, 2);
    cr_assert_eq(n->col, 6);
    int64_t i;
    double d;
    int b;
    cr_assert_eq(lp_yscalar_int(n, &i), 0);
    cr_assert_eq(i, 42);
    cr_assert_eq(lp_yscalar_double(lp_ymap_get(top, "f"), &d), 0);
    cr_assert_float_eq(d, 2.5e-3, 1e-15);
    cr_assert_eq(lp_yscalar_bool(lp_ymap_get(top, "b"), &b), 0);
    cr_assert_eq(b, 0);
    cr_assert_eq(lp_yscalar_int(lp_ymap_get(top, "s"), &i), LP_EINVAL, "quoted is a string");
    cr_assert_null(lp_ymap_get(top, "missing"));
    lp_ydoc_free(doc);
}

Test(yaml, missing_file)
{
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_yaml_load("/nonexistent/x.yaml", &doc, &err), LP_ENOTFOUND);
    cr_assert_str_eq(err.msg, "/nonexistent/x.yaml: cannot open: No such file or directory");
}
