#include "grpc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct grpc_call *find(struct grpc_conn *c, int32_t id) {
  for (struct grpc_call *k = c->calls; k; k = k->next)
    if (k->stream_id == id) return k;
  return NULL;
}

static void set_status(struct grpc_call *k, int status, const char *msg) {
  k->status = status;
  snprintf(k->message, sizeof k->message, "%s", msg);
}

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user) {
  struct grpc_conn *c = user;
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    off += (size_t)n;
  }
  return (ssize_t)len;
}

/* grpc-message is percent-encoded. */
static void percent_decode(char *out, size_t cap, const uint8_t *in, size_t len) {
  size_t w = 0;
  for (size_t i = 0; i < len && w + 1 < cap; i++) {
    unsigned v;
    if (in[i] == '%' && i + 2 < len && sscanf((const char *)in + i + 1, "%2x", &v) == 1) {
      out[w++] = (char)v;
      i += 2;
    } else {
      out[w++] = (char)in[i];
    }
  }
  out[w] = 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user) {
  struct grpc_call *k = find(user, f->hd.stream_id);
  if (!k) return 0;
  if (namelen == 11 && !memcmp(name, "grpc-status", 11)) {
    char v[16];
    snprintf(v, sizeof v, "%.*s", (int)(valuelen < 15 ? valuelen : 15), value);
    k->status = atoi(v);
  } else if (namelen == 12 && !memcmp(name, "grpc-message", 12)) {
    percent_decode(k->message, sizeof k->message, value, valuelen);
  }
  return 0;
}

/* Whole messages (1 byte compressed flag, 4 bytes big-endian length, the message) go to the caller. */
static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user) {
  struct grpc_call *k = find(user, id);
  if (!k) return 0;
  if (k->in_len + len > k->in_cap) {
    size_t cap = k->in_cap ? k->in_cap : 4096;
    while (cap < k->in_len + len) cap *= 2;
    uint8_t *p = realloc(k->in, cap);
    if (!p) return NGHTTP2_ERR_CALLBACK_FAILURE;
    k->in = p;
    k->in_cap = cap;
  }
  memcpy(k->in + k->in_len, data, len);
  k->in_len += len;
  size_t off = 0;
  while (k->in_len - off >= 5) {
    uint32_t mlen = (uint32_t)k->in[off + 1] << 24 | (uint32_t)k->in[off + 2] << 16 | (uint32_t)k->in[off + 3] << 8 | k->in[off + 4];
    if (k->in_len - off - 5 < mlen) break;
    if (k->on_message) k->on_message(k, k->in + off + 5, mlen);
    off += 5 + mlen;
  }
  memmove(k->in, k->in + off, k->in_len - off);
  k->in_len -= off;
  return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user) {
  struct grpc_call *k = find(user, id);
  if (!k) return 0;
  if (k->status < 0) set_status(k, error_code ? 13 : 2, error_code ? "Received RST_STREAM" : "Stream ended without a status");
  k->done = 1;
  return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags, nghttp2_data_source *src,
                         void *user) {
  struct grpc_call *k = src->ptr;
  size_t n = k->body_len - k->body_off;
  if (n > len) n = len;
  memcpy(buf, k->body + k->body_off, n);
  k->body_off += n;
  if (k->body_off == k->body_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

int grpc_connect(struct grpc_conn *c, const char *socket_path) {
  memset(c, 0, sizeof *c);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(addr.sun_path, socket_path);
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, on_send);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
  int rc = nghttp2_session_client_new(&c->session, cb, c);
  nghttp2_session_callbacks_del(cb);
  if (rc) return -1;
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}, {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24}};
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 1 << 24);
  return 0;
}

void grpc_close(struct grpc_conn *c) {
  if (c->session) {
    nghttp2_session_terminate_session(c->session, NGHTTP2_NO_ERROR);
    nghttp2_session_send(c->session);
    nghttp2_session_del(c->session);
  }
  if (c->fd >= 0) close(c->fd);
  c->session = NULL;
  c->fd = -1;
}

static void drop_all(struct grpc_conn *c) {
  c->dead = 1;
  for (struct grpc_call *k = c->calls; k; k = k->next) {
    if (k->done) continue;
    set_status(k, GRPC_UNAVAILABLE, "Connection dropped");
    k->done = 1;
  }
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

int grpc_start(struct grpc_conn *c, struct grpc_call *call, const char *method, const ProtobufCMessage *req) {
  void *ctx = call->ctx;
  grpc_on_message on_message = call->on_message;
  memset(call, 0, sizeof *call);
  call->ctx = ctx;
  call->on_message = on_message;
  call->status = -1;
  call->next = c->calls;
  c->calls = call;
  if (c->dead) {
    drop_all(c);
    return -1;
  }
  size_t len = protobuf_c_message_get_packed_size(req);
  call->body = malloc(5 + len);
  if (!call->body) return -1;
  call->body[0] = 0;
  call->body[1] = (uint8_t)(len >> 24);
  call->body[2] = (uint8_t)(len >> 16);
  call->body[3] = (uint8_t)(len >> 8);
  call->body[4] = (uint8_t)len;
  protobuf_c_message_pack(req, call->body + 5);
  call->body_len = 5 + len;
  nghttp2_nv hdrs[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":path", method), NV(":authority", "localhost"),
                       NV("content-type", "application/grpc"), NV("te", "trailers"), NV("user-agent", "shoal-native")};
  nghttp2_data_provider dp = {.source.ptr = call, .read_callback = read_body};
  call->stream_id = nghttp2_submit_request(c->session, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &dp, call);
  if (call->stream_id < 0 || nghttp2_session_send(c->session) != 0) {
    drop_all(c);
    return -1;
  }
  return 0;
}

int grpc_step(struct grpc_conn *c, int extra_fd, int timeout_ms) {
  if (c->dead) return -1;
  struct pollfd p[2] = {{c->fd, POLLIN, 0}, {extra_fd, POLLIN, 0}};
  int rc = poll(p, extra_fd >= 0 ? 2 : 1, timeout_ms);
  if (rc < 0) return errno == EINTR ? 0 : (drop_all(c), -1);
  int extra = extra_fd >= 0 && p[1].revents;
  if (p[0].revents) {
    uint8_t buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n <= 0 || nghttp2_session_mem_recv(c->session, buf, (size_t)n) < 0) {
      if (n < 0 && errno == EINTR) return extra;
      drop_all(c);
      return -1;
    }
  }
  if (nghttp2_session_send(c->session) != 0) {
    drop_all(c);
    return -1;
  }
  return extra;
}

void grpc_forget(struct grpc_conn *c, struct grpc_call *call) {
  for (struct grpc_call **p = &c->calls; *p; p = &(*p)->next) {
    if (*p == call) {
      *p = call->next;
      break;
    }
  }
  free(call->body);
  free(call->in);
  call->body = call->in = NULL;
}

struct unary_result {
  const ProtobufCMessageDescriptor *desc;
  ProtobufCMessage *msg;
};

static void keep_first(struct grpc_call *k, const uint8_t *msg, size_t len) {
  struct unary_result *r = k->ctx;
  if (!r->msg) r->msg = protobuf_c_message_unpack(r->desc, NULL, len, msg);
}

ProtobufCMessage *grpc_unary(struct grpc_conn *c, struct grpc_call *call, const char *method, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *resp_desc) {
  struct unary_result r = {resp_desc, NULL};
  call->ctx = &r;
  call->on_message = keep_first;
  grpc_start(c, call, method, req);
  while (!call->done && grpc_step(c, -1, -1) >= 0) {
  }
  grpc_forget(c, call);
  if (call->status != GRPC_OK || !r.msg) {
    if (call->status == GRPC_OK) set_status(call, 13, "No message received");
    if (r.msg) protobuf_c_message_free_unpacked(r.msg, NULL);
    return NULL;
  }
  return r.msg;
}
