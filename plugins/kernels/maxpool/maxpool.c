/* maxpool: k x k max pooling, stride s (ResNet-50's stem pool). */
#define LP_PK_NAME "maxpool"
#define LP_PK_SUMMARY "k x k max pool, stride s, same padding, on NHWC [1, hw, hw, cin]"
#define LP_PK_KIND LP_POOL_MAX
#include "../pool_kernel.h"
