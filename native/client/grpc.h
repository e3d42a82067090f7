/* A gRPC client for the daemon's unix socket: HTTP/2 (nghttp2), length-prefixed protobuf messages,
   status and message from the trailers. Enough for the engine API's unary and server-streaming calls. */
#ifndef SHOAL_CLIENT_GRPC_H
#define SHOAL_CLIENT_GRPC_H
#include <nghttp2/nghttp2.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define GRPC_OK 0
#define GRPC_UNAVAILABLE 14

struct grpc_call;
/* Called with each response message, packed. */
typedef void (*grpc_on_message)(struct grpc_call *call, const uint8_t *msg, size_t len);

struct grpc_call {
  int32_t stream_id;
  int done;
  int status;      /* grpc-status; GRPC_UNAVAILABLE with "Connection dropped" if the connection went */
  char message[1024]; /* grpc-message, decoded */
  grpc_on_message on_message;
  void *ctx;
  uint8_t *body; /* the request frame being sent */
  size_t body_len, body_off;
  uint8_t *in; /* response bytes not yet a whole message */
  size_t in_len, in_cap;
  struct grpc_call *next;
};

struct grpc_conn {
  int fd;
  nghttp2_session *session;
  struct grpc_call *calls;
  int dead;
};

/* Connects to the unix socket; -1 (and errno) if nothing listens there. */
int grpc_connect(struct grpc_conn *c, const char *socket_path);
void grpc_close(struct grpc_conn *c);
/* Sends a call: method is "/package.Service/Method". */
int grpc_start(struct grpc_conn *c, struct grpc_call *call, const char *method, const ProtobufCMessage *req);
/* Waits for and handles what the daemon sends, or until extra_fd (if >= 0) is readable or timeout_ms passes;
   returns 1 if extra_fd is readable, 0 otherwise, -1 once the connection is gone. */
int grpc_step(struct grpc_conn *c, int extra_fd, int timeout_ms);
/* Takes a finished call off the connection's list and frees its buffers. */
void grpc_forget(struct grpc_conn *c, struct grpc_call *call);
/* A unary call: the response message (to free with protobuf_c_message_free_unpacked) or NULL with
   call->status and call->message saying why. */
ProtobufCMessage *grpc_unary(struct grpc_conn *c, struct grpc_call *call, const char *method, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *resp_desc);
#endif
