# Run on switchyard.grpc.pb.cc after protoc (proto/CMakeLists.txt).
#
# grpc_cpp_plugin (1.51) instantiates each unary method's server handler as
# RpcMethodHandler<Service, Request, Response, MessageLite, MessageLite>: to
# save code, the request is parsed as a MessageLite, through
# SerializationTraits<MessageLite>, so the per-message SerializationTraits
# of switchyard/v1/request_parsing.h would never run for a unary call, and
# a request string field with invalid UTF-8 would get INTERNAL instead of
# INVALID_ARGUMENT naming the field. Dropping the two MessageLite arguments
# makes the handler parse the request as its own type (the template's
# defaults), which is all this does. Streaming handlers already do.
#   cmake -DFILE=.../switchyard.grpc.pb.cc -P typed_request_handlers.cmake
file(READ "${FILE}" text)
set(pattern "(RpcMethodHandler< [^<>]+), ::grpc::protobuf::MessageLite, ::grpc::protobuf::MessageLite>")
string(REGEX MATCHALL "${pattern}" found "${text}")
list(LENGTH found count)
if(count EQUAL 0)
  # A gRPC whose plugin writes these lines differently: say so rather than
  # build handlers that answer INTERNAL.
  message(FATAL_ERROR "typed_request_handlers.cmake: no RpcMethodHandler with MessageLite "
                      "bases in ${FILE}; check how this gRPC's plugin writes unary handlers")
endif()
string(REGEX REPLACE "${pattern}" "\\1>" text "${text}")
file(WRITE "${FILE}" "${text}")
