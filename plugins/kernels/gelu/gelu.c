/* gelu: standalone GELU on token rows (transformer MLP hidden layer). */
#define LP_AK_NAME "gelu"
#define LP_AK_SUMMARY "standalone GELU on tokens [n, c] (transformer MLP)"
#define LP_AK_ACT LP_ACT_GELU
#define LP_AK_TOKENS 1
#include "../act_kernel.h"
