// The chatwoot_inbox block: what each directive accepts, what a block must
// say, and the defaults of what it leaves out.  The one owner of those
// rules; the glue only collects the directives (include/chatwoot_inbox_conf.h)
// and reports the error texts made here at [emerg].
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatwoot_helper.h"

namespace chatwoot::config {

// Defaults of what a block leaves out.
inline constexpr uint64_t kCheckIntervalMsec = 60'000;
inline constexpr uint64_t kDeviceTimeoutSeconds = 5 * 60;
inline constexpr unsigned kConcurrency = 8;
inline constexpr uint64_t kMediaMax = 64ull * 1024 * 1024;  // whatsapp_media_max
inline constexpr unsigned kConcurrencyMax = 256;
inline constexpr unsigned kRateMax = 1'000'000;
inline constexpr size_t kSecretMax = 4096;
inline constexpr size_t kInboxNameMax = 255;
inline constexpr size_t kWebhookUrlMax = 2048;
inline constexpr size_t kIgnoreJidsPerLine = 64;
inline constexpr size_t kMediaHostsPerLine = 16;

// The WhatsApp session's defaults and bounds (whatsapp_* directives).
inline constexpr std::string_view kWhatsAppServer = "wss://web.whatsapp.com/ws/chat";
inline constexpr std::string_view kWhatsAppDeviceName = "Chatwoot (nginx)";
inline constexpr size_t kWhatsAppServerMax = 2048;
// DeviceProps.os is what the phone lists; longer names are cut by the
// phone anyway, and a bound keeps the ClientPayload small.
inline constexpr size_t kWhatsAppDeviceNameMax = 64;
inline constexpr size_t kCaFileMax = 1024 * 1024;

// A time in nginx's syntax ("90", "1h 30m", "500ms"), as nginx's own
// directives read it: milliseconds, or seconds when `seconds` (where "ms"
// is refused).  A bare number is seconds.  nullopt when malformed or too
// large.
std::optional<uint64_t> parse_time(std::string_view text, bool seconds);

// A decimal number of digits only, as nginx's ngx_atoi reads it.
std::optional<uint64_t> parse_number(std::string_view text);

// One block's settings, with the defaults of what it does not say.
struct InboxSettings {
    std::string name;
    std::optional<std::string> url;
    uint64_t check_interval_msec = kCheckIntervalMsec;
    std::optional<int64_t> account_id;
    std::optional<int64_t> inbox_id;
    std::optional<std::string> inbox_name;
    std::optional<std::string> inbox_create_webhook;
    std::optional<std::string> api_token;
    std::optional<std::string> webhook_secret;
    std::optional<std::string> webhook_token;
    bool agent_signature = true;
    std::string signature_delimiter;     // the bridge's default when unset
    bool reopen_resolved = true;
    bool open_as_pending = false;
    bool ignore_groups = false;
    // The "WhatsApp bridge" conversation: notices, the QR, commands.
    bool control_conversation = true;
    uint64_t control_throttle_sec = 60;
    uint64_t device_timeout_seconds = kDeviceTimeoutSeconds;
    uint64_t throttle_base_msec = 0;     // 0: the REST client's own policy
    uint64_t throttle_cap_msec = 0;
    std::optional<std::string> synthetic_device;
    std::vector<std::string> ignore_jids;
    unsigned concurrency = kConcurrency;
    unsigned rate = 0;                   // requests per second, 0: no cap
    bool import_on_link = false;         // import the history once, after the first link
    unsigned import_days = 0;            // 0: the import API's default (3 days)

    // The WhatsApp session (used by the live device).
    std::optional<bool> whatsapp;        // as written; finish() decides
    bool whatsapp_on = false;            // after finish()
    std::optional<std::string> whatsapp_server;      // as written
    std::optional<std::array<uint8_t, 32>> whatsapp_root_key;   // root_key=
    std::optional<std::string> whatsapp_ca_file;     // absolute path
    std::optional<std::array<unsigned, 3>> whatsapp_version;    // nullopt: auto
    bool whatsapp_version_set = false;
    std::optional<std::string> whatsapp_device_name;
    std::optional<std::string> whatsapp_proxy;
    std::optional<uint64_t> whatsapp_media_max;      // bytes; kMediaMax when unset
    // media_host: "scheme://host:port", https unless named with http://.
    std::vector<std::string> media_hosts;
    // import_database / import_database_file: Chatwoot's PostgreSQL, as a
    // libpq conninfo (URL or key=value pairs); a secret (its password).
    std::optional<std::string> import_database;
};

class InboxConfigParser {
public:
    using Args = std::span<const std::string_view>;

    // The block's name is checked at once: name_error() says what is wrong.
    explicit InboxConfigParser(std::string_view name);

    InboxConfigParser(const InboxConfigParser&) = delete;
    InboxConfigParser& operator=(const InboxConfigParser&) = delete;

    const std::optional<std::string>& name_error() const { return name_error_; }

    // One directive: its name and arguments as written.  `file` is the
    // content of the file a *_file directive names.  nullopt when accepted,
    // else the error text, which names the directive or the bad value.
    std::optional<std::string> add(std::string_view directive, Args args,
                                   const std::string_view* file = nullptr);

    // The block has ended: what it must say.  nullopt when complete.
    std::optional<std::string> finish();

    // After finish: something the operator should know, but may keep.
    const std::optional<std::string>& warning() const { return warning_; }

    const InboxSettings& settings() const { return s_; }

    // The C view for the glue and the helper; its strings point into this
    // parser, which must outlive it.  Valid after finish() succeeded.
    const cw_inbox_conf_t& conf() const { return conf_; }

private:
    struct Directive;
    static const Directive kDirectives[];

    std::optional<std::string> set_url(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_inbox(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_account(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_secret(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_agent_signature(std::string_view, Args,
                                                   const std::string_view*);
    std::optional<std::string> set_flag(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_control_conversation(std::string_view, Args,
                                                        const std::string_view*);
    std::optional<std::string> set_ignore_jids(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_synthetic_device(std::string_view, Args,
                                                    const std::string_view*);
    std::optional<std::string> set_throttle_backoff(std::string_view, Args,
                                                    const std::string_view*);
    std::optional<std::string> set_device_timeout(std::string_view, Args,
                                                  const std::string_view*);
    std::optional<std::string> set_concurrency(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_rate(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_import_days(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_whatsapp(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_whatsapp_server(std::string_view, Args,
                                                   const std::string_view*);
    std::optional<std::string> set_whatsapp_version(std::string_view, Args,
                                                    const std::string_view*);
    std::optional<std::string> set_whatsapp_device_name(std::string_view, Args,
                                                        const std::string_view*);
    std::optional<std::string> set_whatsapp_media_max(std::string_view, Args,
                                                      const std::string_view*);
    std::optional<std::string> set_whatsapp_proxy(std::string_view, Args,
                                                  const std::string_view*);
    std::optional<std::string> set_media_host(std::string_view, Args, const std::string_view*);
    std::optional<std::string> set_import_database(std::string_view, Args,
                                                   const std::string_view*);

    void build_conf();

    InboxSettings s_;
    std::optional<std::string> name_error_;
    std::optional<std::string> warning_;
    std::vector<const char*> ignore_jids_c_;
    std::vector<const char*> media_hosts_c_;
    cw_inbox_conf_t conf_{};
};

}  // namespace chatwoot::config
