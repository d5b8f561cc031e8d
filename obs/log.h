// Structured logging (`--log-format text|json`) on top of spdlog.
//
// A log site that carries data calls log_event() with a stable event name, its fields and the
// human text line. In text mode (the default) only the text goes to spdlog, so the line is
// byte for byte what the site printed before; in json mode the line becomes one JSON object:
//
//   {"time":"2026-12-01T10:42:00.123Z","level":"info","event":"addr_reg_inform",
//    "address":"2001:db8:1::55","mac":"02:00:00:aa:00:01",...,"message":"ADDR-REG-INFORM ..."}
//
// Every other spdlog call keeps working: in json mode it is rendered as event "message" with its
// text in "message" (JsonFormatter below). The format is process state, like spdlog's default
// logger and level: set once by cli::setup_logging before anything logs.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace regrelay::obs {

enum class LogFormat : uint8_t { kText, kJson };

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view s);
void set_log_format(LogFormat f);
LogFormat log_format();

// One key of an event: a string, a number, or a list of strings (rendered as a JSON array).
struct Field {
    enum class Kind : uint8_t { kString, kNumber, kList };
    std::string_view key;
    Kind kind = Kind::kString;
    std::string value;              // the string, or the number's decimal digits
    std::vector<std::string> list;  // kList

    Field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const char* v) : key(k), value(v) {}
    template <typename T, typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                                      !std::is_same_v<T, char>>>
    Field(std::string_view k, T n) : key(k), kind(Kind::kNumber), value(std::to_string(n)) {}
    Field(std::string_view k, std::vector<std::string> l) : key(k), kind(Kind::kList), list(std::move(l)) {}
};

// JSON string literal of `s` (quotes included): '"' and '\' escaped, control characters as
// \n \t \r \b \f or \u00XX, and bytes that are not valid UTF-8 replaced by U+FFFD, so the output
// is always valid JSON whatever an interface name or error text holds.
void append_json_string(std::string& out, std::string_view s);

// RFC 3339 UTC with milliseconds, "2026-12-01T10:42:00.123Z", of a wall-clock time.
std::string rfc3339_ms(int64_t unix_sec, uint32_t nsec);

// The JSON object of one event (no newline): time, level, event, the fields in order, then
// "message" (the human text) when it is not empty. A field named time, level, event or message
// is renamed with a leading underscore so it can never clash.
std::string render_json(std::string_view time, std::string_view level, std::string_view event,
                        std::initializer_list<Field> fields, std::string_view text);
std::string render_json(std::string_view time, std::string_view level, std::string_view event,
                        const std::vector<Field>& fields, std::string_view text);

// Logs one event at `lvl`: `text` in text mode, the JSON object in json mode. An empty `text`
// logs nothing in text mode (an event only json consumers get, e.g. "start").
void log_event(spdlog::level::level_enum lvl, std::string_view event, std::initializer_list<Field> fields,
               std::string_view text);
void log_event(spdlog::level::level_enum lvl, std::string_view event, const std::vector<Field>& fields,
               std::string_view text);

// spdlog formatter for json mode: a payload log_event() prepared is completed with time and
// level; any other payload becomes {"time":..,"level":..,"event":"message","message":TEXT}.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// The fields of a flood summary line (limits::FloodGuard::report): interface, seconds,
// dropped, rate_limit_port, rate_limit_mac, suppressed and top_macs ("MAC COUNT" each). Fields
// that cannot be read from the line are left out.
std::vector<Field> flood_summary_fields(std::string_view line);

// The lines of a multi-line text (a counters report), without their newlines.
std::vector<std::string> split_lines(std::string_view text);

}  // namespace regrelay::obs
