/* Renren: discontinued, kept as data (every call answers provider_discontinued). */
#include "sz_netkit.h"

const sz_net sz_net_renren = {
    .name = "renren", .display = "Renren", .rank = 6, .discontinued = 1, .gigya = 1,
    .note = "Renren stopped its service on 1 Dec 2024",
};
