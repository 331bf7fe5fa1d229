/* hswish: standalone hard-swish on an NHWC map, for engines that do not fuse it into the conv. */
#define LP_AK_NAME "hswish"
#define LP_AK_SUMMARY "standalone hard-swish x*relu6(x+3)/6 on NHWC [1, hw, hw, c]"
#define LP_AK_ACT LP_ACT_HSWISH
#define LP_AK_TOKENS 0
#include "../act_kernel.h"
