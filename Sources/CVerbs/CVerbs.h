// libibverbs and librdmacm (rdma-core). verbs.h comes first: when rdma_cma.h is the
// header that pulls it in, the IBV_WR_* opcodes do not reach Swift.
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
