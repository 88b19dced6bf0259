/* Yahoo: discontinued, kept as data (every call answers provider_discontinued). */
#include "sz_netkit.h"

const sz_net sz_net_yahoo = {
    .name = "yahoo", .display = "Yahoo", .rank = 7, .discontinued = 1, .gigya = 1, .notify_subject = 1,
    .note = "Yahoo's Updates and Social Directory APIs ended in 2020",
};
