// CVerbsShims: the verbs calls Swift cannot make safely.
//
// ibv_query_port and ibv_reg_mr are macros over static inlines (calling the library
// symbol of ibv_query_port directly binds the legacy-sized struct), ibv_poll_cq,
// ibv_post_send and ibv_post_recv dispatch through the provider's ops table inline, and
// a work request's remote address lives in an anonymous union. Each is wrapped here
// once, with flat arguments; failures return what verbs returns (an errno value, or
// NULL/-1 with errno set), and the Swift side (Fabric) turns that into a typed error.
#ifndef CVERBS_SHIMS_H
#define CVERBS_SHIMS_H

#include <stdint.h>
#include <stddef.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

/// ibv_query_port with the current struct; 0 or an errno value.
int dpucert_query_port(struct ibv_context *context, uint8_t port, struct ibv_port_attr *attributes);

/// ibv_reg_mr (with the IOVA-aware macro's behaviour); NULL with errno set on failure.
struct ibv_mr *dpucert_reg_mr(struct ibv_pd *pd, void *address, size_t length, int access);

/// One work completion, flattened.
struct dpucert_completion {
    uint64_t wr_id;
    uint32_t status;      // enum ibv_wc_status
    uint32_t opcode;      // enum ibv_wc_opcode
    uint32_t byte_len;
    uint32_t immediate;   // host order; valid when has_immediate
    uint32_t has_immediate;
    uint32_t vendor_err;
    uint32_t qp_num;
};

/// Up to `capacity` completions of `cq` into `out`: the count, or a negative value on error.
int dpucert_poll_cq(struct ibv_cq *cq, int capacity, struct dpucert_completion *out);

/// Posts one work request with a single scatter/gather entry (none when `length` is 0
/// and `address` NULL). `opcode` is an enum ibv_wr_opcode; `remote_address`/`rkey` are used
/// by RDMA WRITE and READ, `immediate` (host order) by the *_WITH_IMM opcodes. With
/// `inlined` the payload is copied into the work request (IBV_SEND_INLINE): the buffer
/// may be reused at once. Returns 0 or an errno value.
int dpucert_post_send(struct ibv_qp *qp, uint64_t wr_id, uint32_t opcode, void *address, uint32_t length,
                      uint32_t lkey, uint64_t remote_address, uint32_t rkey, uint32_t immediate, int signaled,
                      int inlined);

/// Posts one receive of `length` bytes at `address` (length 0: no scatter/gather entry).
int dpucert_post_recv(struct ibv_qp *qp, uint64_t wr_id, void *address, uint32_t length, uint32_t lkey);

/// Arms `cq` for one completion event on its channel; 0 or an errno value.
int dpucert_req_notify_cq(struct ibv_cq *cq);

#endif
