/* swish: standalone swish (SiLU) on an NHWC map, for engines that do not fuse it into the conv. */
#define LP_AK_NAME "swish"
#define LP_AK_SUMMARY "standalone swish x*sigmoid(x) on NHWC [1, hw, hw, c]"
#define LP_AK_ACT LP_ACT_SWISH
#define LP_AK_TOKENS 0
#include "../act_kernel.h"
