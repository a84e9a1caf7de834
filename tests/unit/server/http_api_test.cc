// The pure pieces of the HTTP API: chat-core reply frames turned into HTTP responses, and API
// bodies turned into client frames.
#include <gtest/gtest.h>

#include "parley/proto/command.h"
#include "parley/proto/request.h"
#include "parley/server/dispatcher.h"

namespace parley::server {
namespace {

std::string body_of(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

TEST(FrameToHttp, OkFramesLoseOpAndId) {
  std::string r = frame_to_http(proto::reply_ok({}, R"(,"uid":7)"), 201, true);
  EXPECT_EQ(r.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << r;
  EXPECT_EQ(body_of(r), R"({"uid":7})");
  EXPECT_EQ(body_of(frame_to_http(proto::reply_ok({}), 200, true)), "{}");
  EXPECT_NE(frame_to_http(proto::reply_ok({}), 200, false).find("Connection: close"),
            std::string::npos);
}

TEST(FrameToHttp, ErrorsGetTheirStatus) {
  struct Case {
    proto::ErrorCode code;
    const char* status_line;
  };
  for (auto [code, line] : {Case{proto::ErrorCode::kNotFound, "HTTP/1.1 404 "},
                            Case{proto::ErrorCode::kForbidden, "HTTP/1.1 403 "},
                            Case{proto::ErrorCode::kTooLarge, "HTTP/1.1 413 "},
                            Case{proto::ErrorCode::kUnavailable, "HTTP/1.1 503 "}}) {
    std::string r = frame_to_http(proto::reply_error({}, code, "why \"quoted\""), 200, true);
    EXPECT_EQ(r.rfind(line, 0), 0u) << r;
    EXPECT_EQ(body_of(r), R"({"error":")" + std::string(proto::to_string(code)) +
                              R"(","message":"why \"quoted\""})");
  }
  EXPECT_EQ(frame_to_http("garbage", 200, true).rfind("HTTP/1.1 500 ", 0), 0u);
}

TEST(BodyAsFrame, FieldsComeLastAndWin) {
  EXPECT_EQ(body_as_frame("", R"("op":"groups")"), R"({"op":"groups"})");
  EXPECT_EQ(body_as_frame(" {  } ", R"("op":"groups")"), R"({  "op":"groups"})");
  EXPECT_EQ(body_as_frame("{}", R"("op":"groups")"), R"({"op":"groups"})");
  EXPECT_EQ(body_as_frame(R"({"a":1})", R"("op":"x")"), R"({"a":1,"op":"x"})");
  EXPECT_EQ(body_as_frame("[1]", R"("op":"x")"), "[1]");  // left for the decoder to refuse

  proto::CommandDecoder d;
  proto::Request req;
  proto::DecodeError err;
  proto::RequestLimits limits;
  // A body that names another op or group does not get to choose.
  ASSERT_TRUE(d.decode(body_as_frame(R"({"op":"send","group":"evil","members":["b"]})",
                                     R"("op":"group_add","group":"team")"),
                       req, err, limits))
      << err.message;
  EXPECT_EQ(req.env.op, proto::Op::kGroupAdd);
  EXPECT_EQ(std::get<proto::GroupReq>(req.body).group, "team");
  // An unterminated string cannot swallow the added fields into a valid frame.
  EXPECT_FALSE(d.decode(body_as_frame(R"({"a":"})", R"("op":"groups")"), req, err, limits));
}

}  // namespace
}  // namespace parley::server
