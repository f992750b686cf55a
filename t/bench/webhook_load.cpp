// A closed-loop HTTP/1.1 load generator for the webhook benchmark: like wrk
// (one thread, N keep-alive connections, one request in flight on each), but
// every request is a distinct, Chatwoot-signed webhook, which the webhook
// location requires (it refuses a signature or a delivery id it has seen).
//
//   webhook_load --port P --path /chatwoot/webhook --connections 32
//                --seconds 5 --body-file t/bench/message_created.json
//                [--secret S] [--plain] [--max-requests N] [--first-id N]
//   webhook_load --port P --connections C --bodies-file FILE --secret S ...
//
// Each request: the body file (trailing white space removed) with its first
// `"id":4711` replaced by an increasing id, X-Chatwoot-Timestamp = now,
// X-Chatwoot-Signature = sha256=hex(HMAC-SHA256(secret, "<ts>.<body>")), a
// fresh X-Chatwoot-Delivery uuid.  --plain (the `return 204` baseline) sends
// exactly the same requests, signed the same way, so that both runs pay the
// same client-side cost; without --secret it signs with a dummy key.
//
// --bodies-file instead sends each line of FILE (one JSON body per line) as
// it is, signed the same way, once: connection k sends lines k, k + C,
// k + 2C, ... in that order, each after the answer to the one before.  So
// bodies whose order matters (messages of one conversation) keep it when
// the file puts them C lines apart (t/bench/messages.pl gives each of C
// conversations its own connection).  The run ends when every line is
// answered (or at --seconds).
//
// Prints one line of JSON: requests, seconds, rps, status counts, latency
// percentiles (send to complete response, microseconds) and errors
// (connections that failed or closed with a request in flight).  A response
// it cannot delimit (chunked, no Content-Length, bytes nobody asked for) is
// fatal: message on stderr, exit 1; so is a run in which no request
// completed (exit 1 after the JSON line).  Connects only to 127.0.0.1.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& msg)
{
    std::fprintf(stderr, "webhook_load: %s\n", msg.c_str());
    std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what)
{
    die(what + ": " + std::strerror(errno));
}

uint64_t now_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

struct Options {
    int port = 0;
    std::string path = "/chatwoot/webhook";
    int connections = 32;
    double seconds = 5;
    std::string body_file;
    std::string bodies_file;   // one body per line, sent as they are
    std::string secret;
    bool have_secret = false;
    bool plain = false;
    uint64_t max_requests = 5000000;
    int64_t first_id = -1;
};

template <class T>
T parse_number(std::string_view name, std::string_view s)
{
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        die("bad value for " + std::string(name) + ": " + std::string(s));
    }
    return v;
}

void usage()
{
    std::fprintf(stderr,
        "usage: webhook_load --port P [--path /chatwoot/webhook] [--connections 32]\n"
        "                    [--seconds 5] --body-file FILE [--secret S] [--plain]\n"
        "                    [--max-requests 5000000] [--first-id N]\n"
        "       webhook_load ... --bodies-file FILE (one body per line, each sent once)\n");
    std::exit(2);
}

Options parse_options(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string_view a = argv[i];
        if (a == "--plain") {
            o.plain = true;
            continue;
        }
        if (a == "--help" || a == "-h") {
            usage();
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "webhook_load: %s needs a value\n", argv[i]);
            usage();
        }
        std::string_view v = argv[++i];
        if (a == "--port") {
            o.port = parse_number<int>(a, v);
        } else if (a == "--path") {
            o.path = v;
        } else if (a == "--connections") {
            o.connections = parse_number<int>(a, v);
        } else if (a == "--seconds") {
            std::string s(v);
            char* end = nullptr;
            o.seconds = std::strtod(s.c_str(), &end);
            if (end == s.c_str() || *end != '\0') {
                die("bad value for --seconds: " + s);
            }
        } else if (a == "--body-file") {
            o.body_file = v;
        } else if (a == "--bodies-file") {
            o.bodies_file = v;
        } else if (a == "--secret") {
            o.secret = v;
            o.have_secret = true;
        } else if (a == "--max-requests") {
            o.max_requests = parse_number<uint64_t>(a, v);
        } else if (a == "--first-id") {
            o.first_id = parse_number<int64_t>(a, v);
        } else {
            std::fprintf(stderr, "webhook_load: unknown option %s\n", argv[i - 1]);
            usage();
        }
    }
    if (o.port <= 0 || o.port > 65535) {
        die("--port must be 1..65535");
    }
    if (o.connections < 1 || o.connections > 10000) {
        die("--connections must be 1..10000");
    }
    if (!(o.seconds > 0 && o.seconds <= 3600)) {
        die("--seconds must be in (0, 3600]");
    }
    if (o.max_requests < 1 || o.max_requests > 100000000) {
        die("--max-requests must be 1..100000000");
    }
    if (o.body_file.empty() == o.bodies_file.empty()) {
        die("one of --body-file and --bodies-file is required");
    }
    if (o.path.empty() || o.path.front() != '/'
        || o.path.find_first_of(" \r\n") != std::string::npos)
    {
        die("--path must be an absolute path without spaces");
    }
    if (!o.have_secret && !o.plain) {
        die("--secret is required (or --plain for an unauthenticated location)");
    }
    if (!o.have_secret) {
        o.secret = "plain-baseline-dummy-key";
    }
    return o;
}

// HMAC-SHA256 with one keyed context, re-initialised (same key) per message.
class Signer {
public:
    explicit Signer(const std::string& secret)
    {
        mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (mac_ == nullptr || (ctx_ = EVP_MAC_CTX_new(mac_)) == nullptr) {
            die("OpenSSL: no HMAC");
        }
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        // OpenSSL wants a key; an empty secret is still a valid HMAC key.
        static const unsigned char empty = 0;
        const auto* key = secret.empty() ? &empty
                                         : reinterpret_cast<const unsigned char*>(secret.data());
        if (EVP_MAC_init(ctx_, key, secret.size(), params) != 1) {
            die("OpenSSL: EVP_MAC_init failed");
        }
        keyed_ = true;
    }
    ~Signer()
    {
        EVP_MAC_CTX_free(ctx_);
        EVP_MAC_free(mac_);
    }
    Signer(const Signer&) = delete;
    Signer& operator=(const Signer&) = delete;

    // Appends "sha256=<64 lowercase hex>" of HMAC(secret, ts "." body) to out.
    void sign(std::string_view ts, std::string_view body, std::string* out)
    {
        // The first message uses the context EVP_MAC_init just keyed; the
        // next ones re-initialise it with the same key (a NULL key).
        if (!keyed_ && EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1) {
            die("OpenSSL: EVP_MAC_init (rekey) failed");
        }
        keyed_ = false;
        unsigned char md[32];
        size_t len = 0;
        if (EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(ts.data()), ts.size()) != 1
            || EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>("."), 1) != 1
            || EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(body.data()),
                              body.size()) != 1
            || EVP_MAC_final(ctx_, md, &len, sizeof md) != 1 || len != sizeof md)
        {
            die("OpenSSL: HMAC-SHA256 failed");
        }
        static constexpr char hex[] = "0123456789abcdef";
        out->append("sha256=");
        for (unsigned char b : md) {
            out->push_back(hex[b >> 4]);
            out->push_back(hex[b & 15]);
        }
    }

private:
    EVP_MAC* mac_ = nullptr;
    EVP_MAC_CTX* ctx_ = nullptr;
    bool keyed_ = false;
};

// Builds the requests: unique id, timestamp, delivery id, signature.
class RequestFactory {
public:
    RequestFactory(const Options& o, std::string body)
        : signer_(o.secret), path_(o.path)
    {
        host_ = "127.0.0.1:" + std::to_string(o.port);
        std::random_device rd;
        delivery_seed_ = (static_cast<uint64_t>(rd()) << 32 | rd()) ^ static_cast<uint64_t>(getpid());
        if (!o.bodies_file.empty()) {
            // One body per line, each used as it is.
            size_t at = 0;
            while (at < body.size()) {
                size_t end = body.find('\n', at);
                if (end == std::string::npos) {
                    end = body.size();
                }
                std::string line = body.substr(at, end - at);
                while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
                    line.pop_back();
                }
                if (!line.empty()) {
                    bodies_.push_back(std::move(line));
                }
                at = end + 1;
            }
            if (bodies_.empty()) {
                die(o.bodies_file + " has no bodies");
            }
            return;
        }
        constexpr std::string_view marker = "\"id\":4711";
        size_t at = body.find(marker);
        if (at == std::string::npos) {
            die("the body has no \"id\":4711 to make unique: " + o.body_file);
        }
        prefix_ = body.substr(0, at) + "\"id\":";
        suffix_ = body.substr(at + marker.size());
        // Ids unique across runs against the same server: a run starting a
        // second later starts 10^7 ids further, more than max-requests.
        next_id_ = o.first_id >= 0 ? o.first_id
                                   : static_cast<int64_t>(std::time(nullptr)) * 10000000;
    }

    // Bodies from --bodies-file (empty without it).
    size_t bodies() const { return bodies_.size(); }

    // Fills *req with the next request; body and header scratch in *body.
    // `line`: the --bodies-file line to send (ignored without one).
    void next(std::string* req, std::string* body, size_t line = 0)
    {
        time_t now = std::time(nullptr);
        if (now != ts_time_) {
            ts_time_ = now;
            ts_ = std::to_string(static_cast<long long>(now));
        }
        body->clear();
        if (!bodies_.empty()) {
            body->append(bodies_.at(line));
        } else {
            body->append(prefix_);
            char num[24];
            auto r = std::to_chars(num, num + sizeof num, next_id_++);
            body->append(num, r.ptr);
            body->append(suffix_);
        }

        uint64_t seq = ++delivery_seq_;
        char delivery[40];
        std::snprintf(delivery, sizeof delivery, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32
                      "-8%03" PRIx32 "-%012" PRIx64,
                      static_cast<uint32_t>(delivery_seed_ >> 32),
                      static_cast<uint32_t>(delivery_seed_ >> 16) & 0xffff,
                      static_cast<uint32_t>(delivery_seed_ >> 4) & 0xfff,
                      static_cast<uint32_t>(seq >> 48) & 0xfff,
                      seq & UINT64_C(0xffffffffffff));

        req->clear();
        req->append("POST ").append(path_).append(" HTTP/1.1\r\nHost: ").append(host_);
        req->append("\r\nContent-Type: application/json\r\nContent-Length: ");
        req->append(std::to_string(body->size()));
        req->append("\r\nX-Chatwoot-Timestamp: ").append(ts_);
        req->append("\r\nX-Chatwoot-Signature: ");
        signer_.sign(ts_, *body, req);
        req->append("\r\nX-Chatwoot-Delivery: ").append(delivery);
        req->append("\r\n\r\n");
        req->append(*body);
    }

private:
    Signer signer_;
    std::string path_, host_, prefix_, suffix_, ts_;
    std::vector<std::string> bodies_;
    time_t ts_time_ = 0;
    int64_t next_id_ = 0;
    uint64_t delivery_seed_ = 0;
    uint64_t delivery_seq_ = 0;
};

enum class ConnState { idle, connecting, sending, receiving, dead };

struct Conn {
    int fd = -1;
    ConnState state = ConnState::idle;
    std::string req, scratch, in;
    size_t sent = 0;
    uint64_t started = 0;
    int failures = 0;   // consecutive connects that failed
    size_t next_line = 0;   // --bodies-file: the next line this connection sends
};

// One parsed response, or why the bytes so far are not one yet.
struct Response {
    enum { incomplete, complete } state = incomplete;
    int status = 0;
    bool close = false;
    size_t length = 0;   // head + body
};

bool ieq(std::string_view a, std::string_view b)
{
    return a.size() == b.size()
        && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x))
                   == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Parses a response to a POST from the start of buf; dies on anything it
// cannot delimit.
Response parse_response(std::string_view buf)
{
    Response r;
    size_t end = buf.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (buf.size() > 65536) {
            die("response head larger than 64 KiB");
        }
        return r;
    }
    std::string_view head = buf.substr(0, end);
    size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    if (status_line.size() < 12 || !(status_line.starts_with("HTTP/1.1 ")
                                     || status_line.starts_with("HTTP/1.0 "))
        || (status_line.size() > 12 && status_line[12] != ' '))
    {
        die("bad status line: " + std::string(status_line));
    }
    std::string_view code = status_line.substr(9, 3);
    auto [p, ec] = std::from_chars(code.data(), code.data() + 3, r.status);
    if (ec != std::errc() || p != code.data() + 3 || r.status < 100) {
        die("bad status line: " + std::string(status_line));
    }
    if (r.status < 200) {
        die("unexpected interim response: " + std::string(status_line));
    }
    bool http10 = status_line.starts_with("HTTP/1.0 ");
    bool have_length = false, keep_alive = false;
    size_t content_length = 0;
    std::string_view rest = eol == std::string_view::npos ? std::string_view{}
                                                          : head.substr(eol + 2);
    while (!rest.empty()) {
        size_t e = rest.find("\r\n");
        std::string_view line = rest.substr(0, e);
        rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            die("bad header line: " + std::string(line));
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (ieq(name, "Content-Length")) {
            size_t n = 0;
            auto [q, err] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (err != std::errc() || q != value.data() + value.size()
                || (have_length && n != content_length))
            {
                die("bad Content-Length: " + std::string(value));
            }
            have_length = true;
            content_length = n;
        } else if (ieq(name, "Transfer-Encoding")) {
            die("Transfer-Encoding: " + std::string(value)
                + " in a response: not supported (" + std::string(status_line) + ")");
        } else if (ieq(name, "Connection")) {
            if (ieq(value, "close")) {
                r.close = true;
            } else if (ieq(value, "keep-alive")) {
                keep_alive = true;
            }
        }
    }
    if (http10 && !keep_alive) {
        r.close = true;
    }
    size_t body = 0;
    if (r.status != 204 && r.status != 304) {
        if (!have_length) {
            die("response without Content-Length: " + std::string(status_line));
        }
        body = content_length;
    }
    if (buf.size() < end + 4 + body) {
        return r;
    }
    r.length = end + 4 + body;
    r.state = Response::complete;
    return r;
}

class Load {
public:
    Load(const Options& o, std::string body) : o_(o), factory_(o, std::move(body))
    {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) {
            die_errno("epoll_create1");
        }
        conns_.resize(static_cast<size_t>(o.connections));
        for (size_t k = 0; k < conns_.size(); k++) {
            conns_[k].next_line = k;
        }
        latencies_.reserve(1 << 20);
    }

    int run()
    {
        start_ = now_ns();
        deadline_ = start_ + static_cast<uint64_t>(o_.seconds * 1e9);
        for (auto& c : conns_) {
            open(c);
        }
        std::vector<epoll_event> events(conns_.size());
        while (live() > 0) {
            uint64_t now = now_ns();
            if (now >= deadline_) {
                break;
            }
            if (issued_ >= o_.max_requests && in_flight() == 0) {
                break;
            }
            int timeout = static_cast<int>((deadline_ - now + 999999) / 1000000);
            int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                die_errno("epoll_wait");
            }
            for (int i = 0; i < n; i++) {
                handle(conns_[events[static_cast<size_t>(i)].data.u32], events[static_cast<size_t>(i)].events);
            }
        }
        double seconds = static_cast<double>(now_ns() - start_) / 1e9;
        report(seconds);
        return completed_ > 0 ? 0 : 1;
    }

private:
    size_t live() const
    {
        return static_cast<size_t>(std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) {
            return c.state != ConnState::dead && c.state != ConnState::idle;
        }));
    }

    size_t in_flight() const
    {
        return static_cast<size_t>(std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) {
            return c.state == ConnState::sending || c.state == ConnState::receiving;
        }));
    }

    uint32_t index(const Conn& c) const { return static_cast<uint32_t>(&c - conns_.data()); }

    // Edge-triggered: reads go on until EAGAIN (or a complete response,
    // after which nothing more may come), writes until EAGAIN or done.
    void watch(Conn& c, uint32_t events, int op)
    {
        epoll_event ev{};
        ev.events = events;
        ev.data.u32 = index(c);
        if (epoll_ctl(ep_, op, c.fd, &ev) != 0) {
            die_errno("epoll_ctl");
        }
    }

    void open(Conn& c)
    {
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            die_errno("socket");
        }
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(o_.port));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
            watch(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, EPOLL_CTL_ADD);
            connected(c);
            return;
        }
        if (errno != EINPROGRESS) {
            connect_failed(c, errno);
            return;
        }
        c.state = ConnState::connecting;
        watch(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, EPOLL_CTL_ADD);
    }

    void connect_failed(Conn& c, int err)
    {
        errors_++;
        if (++c.failures >= 3) {
            std::fprintf(stderr, "webhook_load: connect to 127.0.0.1:%d: %s (giving up on a connection)\n",
                         o_.port, std::strerror(err));
            shut(c);
            c.state = ConnState::dead;
            return;
        }
        shut(c);
        open(c);
    }

    void shut(Conn& c)
    {
        if (c.fd >= 0) {
            close(c.fd);   // also leaves the epoll set
            c.fd = -1;
        }
        c.state = ConnState::idle;
    }

    void connected(Conn& c)
    {
        c.failures = 0;
        send_next(c);
    }

    void send_next(Conn& c)
    {
        const bool lines = factory_.bodies() > 0;
        if (issued_ >= o_.max_requests || now_ns() >= deadline_
            || (lines && c.next_line >= factory_.bodies()))
        {
            c.state = ConnState::dead;
            close(c.fd);
            c.fd = -1;
            return;
        }
        issued_++;
        factory_.next(&c.req, &c.scratch, c.next_line);
        c.in.clear();
        c.sent = 0;
        c.state = ConnState::sending;
        c.started = now_ns();
        flush(c);
    }

    // Writes what is left of the request; on EAGAIN, EPOLLOUT resumes it.
    void flush(Conn& c)
    {
        while (c.sent < c.req.size()) {
            ssize_t n = send(c.fd, c.req.data() + c.sent, c.req.size() - c.sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN) {
                    return;
                }
                broken(c, "send", errno);
                return;
            }
            c.sent += static_cast<size_t>(n);
        }
        c.state = ConnState::receiving;
    }

    // A connection that failed with a request in flight: counted, reopened.
    void broken(Conn& c, const char* what, int err)
    {
        errors_++;
        if (errors_ <= 5) {
            std::fprintf(stderr, "webhook_load: %s: %s (%zu bytes of response read); reconnecting\n",
                         what, err ? std::strerror(err) : "connection closed", c.in.size());
        }
        shut(c);
        open(c);
    }

    void handle(Conn& c, uint32_t events)
    {
        if (c.state == ConnState::dead || c.state == ConnState::idle) {
            return;
        }
        if (c.state == ConnState::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                connect_failed(c, err);
                return;
            }
            if (!(events & (EPOLLOUT | EPOLLIN))) {
                return;
            }
            connected(c);
            return;
        }
        if (c.state == ConnState::sending && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            flush(c);
            if (c.state != ConnState::receiving) {
                return;
            }
        }
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
            receive(c);
        }
    }

    void receive(Conn& c)
    {
        char buf[16384];
        for (;;) {
            ssize_t n = recv(c.fd, buf, sizeof buf, 0);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN) {
                    return;
                }
                broken(c, "recv", errno);
                return;
            }
            if (n == 0) {
                // The server closed with our request outstanding (a clean
                // close comes with Connection: close, handled in done()).
                broken(c, "recv", 0);
                return;
            }
            if (c.state != ConnState::receiving && c.state != ConnState::sending) {
                die("bytes from the server with no request in flight");
            }
            c.in.append(buf, static_cast<size_t>(n));
            Response r = parse_response(c.in);
            if (r.state == Response::incomplete) {
                continue;
            }
            if (r.length != c.in.size()) {
                die("the server sent " + std::to_string(c.in.size() - r.length)
                    + " bytes after a complete response");
            }
            if (c.state == ConnState::sending) {
                // Answered before it took the whole request (413, say): the
                // connection is unusable for the rest of it.
                r.close = true;
            }
            done(c, r);
            return;
        }
    }

    void done(Conn& c, const Response& r)
    {
        uint64_t now = now_ns();
        latencies_.push_back(now - c.started);
        status_[r.status]++;
        completed_++;
        c.next_line += conns_.size();
        if (r.close) {
            shut(c);
            if (issued_ < o_.max_requests && now < deadline_) {
                open(c);
            } else {
                c.state = ConnState::dead;
            }
            return;
        }
        send_next(c);
    }

    double percentile_us(double q)
    {
        if (latencies_.empty()) {
            return 0;
        }
        size_t k = static_cast<size_t>(q * static_cast<double>(latencies_.size() - 1) + 0.5);
        std::nth_element(latencies_.begin(), latencies_.begin() + static_cast<ptrdiff_t>(k),
                         latencies_.end());
        return static_cast<double>(latencies_[k]) / 1000.0;
    }

    void report(double seconds)
    {
        std::ostringstream out;
        out.setf(std::ios::fixed);
        out.precision(1);
        out << "{\"requests\":" << completed_ << ",\"seconds\":";
        out.precision(3);
        out << seconds << ",\"rps\":";
        out.precision(1);
        out << (seconds > 0 ? static_cast<double>(completed_) / seconds : 0.0) << ",\"status\":{";
        bool first = true;
        for (auto [code, n] : status_) {
            out << (first ? "" : ",") << '"' << code << "\":" << n;
            first = false;
        }
        out << "},\"p50_us\":" << percentile_us(0.50) << ",\"p90_us\":" << percentile_us(0.90)
            << ",\"p99_us\":" << percentile_us(0.99) << ",\"errors\":" << errors_ << "}\n";
        std::fputs(out.str().c_str(), stdout);
        std::fflush(stdout);
    }

    const Options& o_;
    RequestFactory factory_;
    int ep_ = -1;
    std::vector<Conn> conns_;
    std::vector<uint64_t> latencies_;   // nanoseconds, one per response
    std::map<int, uint64_t> status_;
    uint64_t issued_ = 0, completed_ = 0, errors_ = 0;
    uint64_t start_ = 0, deadline_ = 0;
};

std::string read_body(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        die_errno("cannot read " + path);
    }
    std::ostringstream ss;
    ss << f.rdbuf();
    std::string body = ss.str();
    while (!body.empty() && std::strchr(" \t\r\n", body.back()) != nullptr) {
        body.pop_back();
    }
    if (body.empty()) {
        die(path + " is empty");
    }
    return body;
}

}  // namespace

int main(int argc, char** argv)
{
    Options o = parse_options(argc, argv);
    std::string body = read_body(o.bodies_file.empty() ? o.body_file : o.bodies_file);
    Load load(o, std::move(body));
    return load.run();
}
