// wa_passkey_pairing_interop: the C++ half of the passkey interop check
// against the loopback WhatsApp server (t/mock/wa/server.mjs), whose
// account is passkey-gated.
//
//   wa_passkey_pairing_interop <server root key, 64 hex>
//
// It drives a fresh device's Connection, QrPairing and PasskeyPairing as
// the helper will, and leaves the socket and the operator to its caller,
// t/mock/wa/passkey-pairing-interop.mjs, which holds the WebSocket, has
// the mock phone scan the QR, makes the assertion with a software
// authenticator and confirms the code.  Records on stdin and stdout:
//
//   'M' u32be n, n bytes   one WebSocket message (in: from the server,
//                          out: to send)
//   'E' u32be n, n bytes   out only: an event as one JSON object
//   'A' u32be n, n bytes   in only: the operator's pasted assertion
//   'C' u32be 0            in only: the operator confirms the code
//
// Events: "qr" (the text, for the mock phone to scan), "assertion_wanted"
// (the options), "assertion_refused" (our own check said no), "code",
// "adv_secret" (that it was switched, not the secret), "paired",
// "failed" (the ceremony's step and reason), "restart" (the 515; exit 0).
// Exit 1 on a failed ceremony or any other error (an "error" event says
// which).  The QR text is written, ADV secret and all, because the mock
// phone has to scan it as a person would; the new secret never is.
//
// A test tool: it reads stdin and writes stdout, which the library never
// does.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <variant>

#include "tools/interop_records.hpp"
#include "wa/crypto/random.hpp"
#include "wa/session/connection.hpp"
#include "wa/session/passkey_pairing.hpp"
#include "wa/session/qr_pairing.hpp"
#include "wa/session/session_store.hpp"

namespace {

using namespace chatwoot::wa::session::interop;

using namespace chatwoot::wa;
using namespace chatwoot::wa::session;

class Driver {
public:
    Driver(DeviceCredentials credentials, ConnectionConfig config)
        : store_(credentials),
          conn_(std::move(config), store_, crypto::system_random()),
          qr_(credentials, crypto::system_random()),
          passkey_(credentials, crypto::system_random())
    {
    }

    // 0 done, 1 failed, -1 go on.
    int start()
    {
        if (Status s = conn_.start(monotonic_now(), std::time(nullptr)); !s)
            return fail("start: " + s.error().detail);
        return pump();
    }

    int on_record(const Record& r)
    {
        const Millis now = monotonic_now();
        switch (r.type) {
        case 'M':
            if (Status s = conn_.receive(r.body, now); !s)
                return fail("receive: " + s.error().detail);
            break;
        case 'A':
            // A refusal is also a Failed event, which ends the run.
            if (Status s = passkey_.submit_assertion(conn_, as_chars(r.body), now); !s)
                put_event("assertion_refused", {{"detail", s.error().detail}});
            break;
        case 'C':
            if (Status s = passkey_.confirm(conn_, now); !s)
                put_event("confirm_refused", {{"detail", s.error().detail}});
            break;
        default: return fail(std::string("a record of type ") + r.type);
        }
        return pump();
    }

private:
    int fail(std::string why)
    {
        put_event("error", {{"detail", why}});
        return 1;
    }

    // Events of the connection and both flows until all are quiet, then
    // the messages out.
    int pump()
    {
        return flush(drain_events(
            events_of(conn_, [this](const Event& e) { return on_event(e); }),
            events_of(passkey_, [this](const auto& e) { return on_passkey_event(e); }),
            events_of(qr_, [this](const auto& e) { return on_qr_event(e); })));
    }

    int flush(int r)
    {
        for (const Bytes& m : conn_.take_messages()) put_record('M', m);
        return r;
    }

    int on_event(const Event& e)
    {
        const Millis now = monotonic_now();
        if (const auto* r = std::get_if<event::ServerRequest>(&e)) {
            passkey_.on_server_request(r->iq);
            qr_.on_server_request(conn_, r->iq, now);
        } else if (const auto* a = std::get_if<event::IqAnswered>(&e)) {
            passkey_.on_iq_answered(conn_, a->outcome, now);
        } else if (const auto* s = std::get_if<event::Stanza>(&e)) {
            // The pairing layers take owned nodes, and only notifications.
            if (s->view.tag() == "notification") passkey_.on_stanza(conn_, s->to_node(), now);
        } else if (const auto* p = std::get_if<event::ProtocolError>(&e)) {
            put_event("protocol_error", {{"detail", p->error.detail}});
        } else if (const auto* c = std::get_if<event::Closed>(&e)) {
            passkey_.on_closed(c->end);
            qr_.on_closed(c->end);
            put_event("closed", {{"detail", c->end.detail}});
        }
        return -1;
    }

    int on_passkey_event(const PasskeyEvent& e)
    {
        if (const auto* w = std::get_if<passkey_event::AssertionWanted>(&e)) {
            qr_.hold();
            put_event("assertion_wanted", {{"options", w->options_json}});
        } else if (const auto* c = std::get_if<passkey_event::Code>(&e)) {
            put_event("code", {{"code", c->code},
                               {"display", c->display},
                               {"handoff_proven", c->handoff_proven ? "true" : "false"}});
        } else if (const auto* s = std::get_if<passkey_event::AdvSecretReplaced>(&e)) {
            // The owner's part: the credentials, then QrPairing.
            auto creds = store_.load_credentials();
            if (!creds) return fail("store: " + creds.error().detail);
            creds->adv_secret = s->adv_secret;
            store_.set(*creds);
            qr_.use_adv_secret(s->adv_secret);
            put_event("adv_secret");
        } else if (const auto* f = std::get_if<passkey_event::Failed>(&e)) {
            put_event("failed", {{"step", f->step}, {"detail", f->error.detail}});
            return 1;
        }
        return -1;
    }

    int on_qr_event(const PairingEvent& e)
    {
        if (const auto* q = std::get_if<pairing_event::QrCode>(&e)) {
            put_event("qr", {{"text", q->text}});
        } else if (const auto* p = std::get_if<pairing_event::Paired>(&e)) {
            auto creds = store_.load_credentials();
            if (!creds) return fail("store: " + creds.error().detail);
            creds->jid = p->account.jid;
            creds->lid = p->account.lid;
            store_.set(*creds);
            if (Status s = qr_.commit(conn_); !s) return fail("commit: " + s.error().detail);
            put_event("paired", {{"jid", p->account.jid.to_string()}});
        } else if (const auto* err = std::get_if<pairing_event::PairingError>(&e)) {
            return fail("pairing: " + err->error.detail);
        } else if (std::holds_alternative<pairing_event::RestartToLogIn>(e)) {
            put_event("restart");
            return 0;
        } else if (std::holds_alternative<pairing_event::QrExpired>(e)) {
            return fail("the QR refs ran out first");
        }
        return -1;
    }

    MemorySessionStore store_;
    Connection conn_;
    QrPairing qr_;
    PasskeyPairing passkey_;
};

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <root key hex>\n", argv[0]);
        return 2;
    }
    auto root = from_hex(argv[1]);
    if (!root || root->size() != 32) {
        std::fprintf(stderr, "the root key is not 64 hex digits\n");
        return 2;
    }
    auto credentials = generate_credentials(crypto::system_random());
    if (!credentials) {
        std::fprintf(stderr, "credentials: %s\n", credentials.error().detail.c_str());
        return 1;
    }
    ConnectionConfig config;
    std::copy(root->begin(), root->end(), config.root_key.begin());

    Driver driver(*credentials, std::move(config));
    int r = driver.start();
    while (r < 0) {
        auto record = get_record();
        if (!record) {
            std::fprintf(stderr, "stdin ended before the pairing did\n");
            return 1;
        }
        r = driver.on_record(*record);
    }
    return r;
}
