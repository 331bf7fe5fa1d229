/* avgpool: k x k average pooling, stride s (ResNet-D's downsampling shortcut). */
#define LP_PK_NAME "avgpool"
#define LP_PK_SUMMARY "k x k average pool (padding not counted), stride s, on NHWC [1, hw, hw, cin]"
#define LP_PK_KIND LP_POOL_AVG
#include "../pool_kernel.h"
