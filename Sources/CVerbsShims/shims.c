#include "CVerbsShims.h"

#include <arpa/inet.h>
#include <string.h>

int dpucert_query_port(struct ibv_context *context, uint8_t port, struct ibv_port_attr *attributes) {
    return ibv_query_port(context, port, attributes);
}

struct ibv_mr *dpucert_reg_mr(struct ibv_pd *pd, void *address, size_t length, int access) {
    return ibv_reg_mr(pd, address, length, access);
}

int dpucert_poll_cq(struct ibv_cq *cq, int capacity, struct dpucert_completion *out) {
    struct ibv_wc completions[64];
    if (capacity > 64) capacity = 64;
    int count = ibv_poll_cq(cq, capacity, completions);
    for (int index = 0; index < count; index++) {
        const struct ibv_wc *wc = &completions[index];
        out[index].wr_id = wc->wr_id;
        out[index].status = wc->status;
        out[index].opcode = wc->opcode;
        out[index].byte_len = wc->byte_len;
        out[index].has_immediate = (wc->wc_flags & IBV_WC_WITH_IMM) != 0;
        out[index].immediate = out[index].has_immediate ? ntohl(wc->imm_data) : 0;
        out[index].vendor_err = wc->vendor_err;
        out[index].qp_num = wc->qp_num;
    }
    return count;
}

int dpucert_post_send(struct ibv_qp *qp, uint64_t wr_id, uint32_t opcode, void *address, uint32_t length,
                      uint32_t lkey, uint64_t remote_address, uint32_t rkey, uint32_t immediate, int signaled,
                      int inlined) {
    struct ibv_sge sge = {.addr = (uintptr_t)address, .length = length, .lkey = lkey};
    struct ibv_send_wr request;
    struct ibv_send_wr *bad = NULL;
    memset(&request, 0, sizeof request);
    request.wr_id = wr_id;
    request.opcode = (enum ibv_wr_opcode)opcode;
    request.sg_list = address != NULL ? &sge : NULL;
    request.num_sge = address != NULL ? 1 : 0;
    request.send_flags = (signaled ? IBV_SEND_SIGNALED : 0) | (inlined ? IBV_SEND_INLINE : 0);
    request.imm_data = htonl(immediate);
    request.wr.rdma.remote_addr = remote_address;
    request.wr.rdma.rkey = rkey;
    return ibv_post_send(qp, &request, &bad);
}

int dpucert_post_recv(struct ibv_qp *qp, uint64_t wr_id, void *address, uint32_t length, uint32_t lkey) {
    struct ibv_sge sge = {.addr = (uintptr_t)address, .length = length, .lkey = lkey};
    struct ibv_recv_wr request;
    struct ibv_recv_wr *bad = NULL;
    memset(&request, 0, sizeof request);
    request.wr_id = wr_id;
    request.sg_list = length > 0 ? &sge : NULL;
    request.num_sge = length > 0 ? 1 : 0;
    return ibv_post_recv(qp, &request, &bad);
}

int dpucert_req_notify_cq(struct ibv_cq *cq) {
    return ibv_req_notify_cq(cq, 0);
}
