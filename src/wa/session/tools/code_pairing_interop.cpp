// wa_code_pairing_interop: the C++ half of the pairing-by-code interop
// check against the loopback WhatsApp server (t/mock/wa/server.mjs).
//
//   wa_code_pairing_interop <server root key, 64 hex> <phone>
//
// It drives a fresh device's Connection, QrPairing and CodePairing as the
// helper will, and leaves the socket to its caller,
// t/mock/wa/code-pairing-interop.mjs, which holds the WebSocket to the
// mock and plays the person typing the code.  Records on stdin and stdout:
//
//   'M' u32be n, n bytes     one WebSocket message (in: from the server,
//                            out: to send)
//   'E' u32be n, n bytes     out only: an event as one JSON object
//
// It asks for a code as soon as the server's refs come, keeps the ADV
// secret of the exchange as the owner must, stores and commits the
// pair-success, and exits 0 on the 515 that follows; 1 on any error (an
// "error" event says which).  No secret is written: the code is, because
// the person has to read it.
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
#include "wa/session/code_pairing.hpp"
#include "wa/session/connection.hpp"
#include "wa/session/qr_pairing.hpp"
#include "wa/session/session_store.hpp"

namespace {

using namespace chatwoot::wa::session::interop;

using namespace chatwoot::wa;
using namespace chatwoot::wa::session;

class Driver {
public:
    Driver(DeviceCredentials credentials, ConnectionConfig config, std::string phone)
        : store_(credentials),
          conn_(std::move(config), store_, crypto::system_random()),
          qr_(credentials, crypto::system_random()),
          code_(credentials, crypto::system_random()),
          phone_(std::move(phone))
    {
    }

    // 0 done, 1 failed, -1 go on.
    int start()
    {
        if (Status s = conn_.start(monotonic_now(), std::time(nullptr)); !s)
            return fail("start: " + s.error().detail);
        return pump();
    }

    int receive(ByteView message)
    {
        if (Status s = conn_.receive(message, monotonic_now()); !s)
            return fail("receive: " + s.error().detail);
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
            events_of(code_, [this](const auto& e) { return on_code_event(e); }),
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
            qr_.on_server_request(conn_, r->iq, now);
            if (!requested_ && conn_.state() == ConnectionState::pairing) {
                requested_ = true;
                if (Status s = code_.request(conn_, phone_, now); !s)
                    return fail("request: " + s.error().detail);
                put_event("requested");
            }
        } else if (const auto* a = std::get_if<event::IqAnswered>(&e)) {
            code_.on_iq_answered(conn_, a->outcome, now);
        } else if (const auto* s = std::get_if<event::Stanza>(&e)) {
            // The pairing layers take owned nodes, and only notifications.
            if (s->view.tag() == "notification") code_.on_stanza(conn_, s->to_node(), now);
        } else if (const auto* p = std::get_if<event::ProtocolError>(&e)) {
            put_event("protocol_error", {{"detail", p->error.detail}});
        } else if (const auto* c = std::get_if<event::Closed>(&e)) {
            qr_.on_closed(c->end);
            code_.on_closed(c->end);
            put_event("closed", {{"detail", c->end.detail}});
        }
        return -1;
    }

    int on_code_event(const CodeEvent& e)
    {
        if (const auto* c = std::get_if<code_event::Code>(&e)) {
            put_event("code", {{"display", c->display}, {"phone", c->phone}});
        } else if (const auto* s = std::get_if<code_event::AdvSecret>(&e)) {
            // The owner's part: the credentials, then QrPairing.
            auto creds = store_.load_credentials();
            if (!creds) return fail("store: " + creds.error().detail);
            creds->adv_secret = s->adv_secret;
            store_.set(*creds);
            qr_.use_adv_secret(s->adv_secret);
            put_event("adv_secret");
        } else if (std::holds_alternative<code_event::Finished>(e)) {
            put_event("finished");
        } else if (const auto* err = std::get_if<code_event::CodeError>(&e)) {
            return fail(std::string(code_step_name(err->step)) + ": " + err->error.detail);
        }
        return -1;
    }

    int on_qr_event(const PairingEvent& e)
    {
        if (const auto* p = std::get_if<pairing_event::Paired>(&e)) {
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
    CodePairing code_;
    std::string phone_;
    bool requested_ = false;
};

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <root key hex> <phone>\n", argv[0]);
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

    Driver driver(*credentials, std::move(config), argv[2]);
    int r = driver.start();
    while (r < 0) {
        auto record = get_record();
        auto message = record && record->type == 'M' ? std::optional<Bytes>(std::move(record->body))
                                                       : std::nullopt;
        if (!message) {
            std::fprintf(stderr, "stdin ended before the pairing did\n");
            return 1;
        }
        r = driver.receive(*message);
    }
    return r;
}
