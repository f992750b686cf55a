#include "curl_multi_driver.hpp"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <string_view>
#include <stdexcept>
#include <csignal>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

namespace chatwoot::helper {

namespace {

// Every curl socket, the eventfd and nginx's channel share the helper's
// 512 connections; leave room for the WhatsApp sockets to come.

// curl's threaded resolver starts threads, which inherit the signal mask of
// the thread that starts them.  With signals blocked there, QUIT and TERM
// always reach the event loop's thread and interrupt epoll_wait, instead of
// landing on a resolver thread and waiting for the next timer.
class NoSignalsForNewThreads {
public:
    NoSignalsForNewThreads()
    {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &saved_);
    }
    ~NoSignalsForNewThreads() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
    NoSignalsForNewThreads(const NoSignalsForNewThreads&) = delete;
    NoSignalsForNewThreads& operator=(const NoSignalsForNewThreads&) = delete;

private:
    sigset_t saved_;
};

void log_exception(const char* where, const std::exception* e)
{
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "chatwoot helper: %s failed: %s", where,
                  e ? e->what() : "unknown exception");
}

}  // namespace

CurlMultiDriver::CurlMultiDriver(long max_connections)
{
    static const bool initialised =
        curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!initialised) {
        throw std::runtime_error("curl_global_init failed");
    }
    multi_.reset(curl_multi_init());
    if (!multi_) {
        throw std::runtime_error("curl_multi_init failed");
    }
    CURLM* m = multi_.get();
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CurlMultiDriver::on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CurlMultiDriver::on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, max_connections);

    timer_.handler = &CurlMultiDriver::on_timeout;
    timer_.data = this;
    timer_.log = ngx_cycle->log;
    timer_.cancelable = 1;
}

CurlMultiDriver::~CurlMultiDriver()
{
    if (timer_.timer_set) {
        ngx_del_timer(&timer_);
    }
    while (!streams_.empty()) {
        end_stream(streams_.back());
    }
    for (auto& [easy, transfer] : transfers_) {
        curl_multi_remove_handle(multi_.get(), easy);
    }
    // Cleaning up the multi handle closes cached sockets through our close
    // callback, which needs the maps: do it while they still exist.
    multi_.reset();
    transfers_.clear();
}

void CurlMultiDriver::common_options(CURL* e, long timeout_ms)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    // HTTP/2 where the server offers it over TLS; requests then share one
    // connection instead of opening one each.
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &CurlMultiDriver::on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &CurlMultiDriver::on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ngx_http_chatwoot_module");
}

void CurlMultiDriver::get(const std::string& url, long timeout_ms, Done done)
{
    std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    if (!easy) {
        throw std::runtime_error("curl_easy_init failed");
    }
    CURL* e = easy.get();
    common_options(e, timeout_ms);
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlMultiDriver::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
    Transfer t;
    t.done = std::move(done);
    start(std::move(easy), std::move(t));
}

void CurlMultiDriver::request(HttpRequest req, Done done)
{
    std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    if (!easy) {
        throw std::runtime_error("curl_easy_init failed");
    }
    Transfer t;
    t.done = std::move(done);
    t.max_body = req.max_body;
    t.on_body = std::move(req.on_body);
    t.max_stream = req.max_stream;
    t.request_body = std::move(req.body);
    for (const auto& h : req.headers) {
        curl_slist* l = curl_slist_append(t.headers.get(), h.c_str());
        if (l == nullptr) {
            throw std::runtime_error("curl_slist_append failed");
        }
        t.headers.release();
        t.headers.reset(l);
    }

    CURL* e = easy.get();
    common_options(e, req.timeout_ms);
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.body_source) {
        t.body_source = std::move(req.body_source);
        t.body_size = static_cast<curl_off_t>(t.body_source->size());
    } else if (!req.files.empty()) {
        t.mime = make_mime(e, req);
        curl_easy_setopt(e, CURLOPT_MIMEPOST, t.mime.get());
    } else {
        t.send_body = req.method != "GET" && req.method != "DELETE";
    }
    if (!req.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, req.ca_file.c_str());
    if (!req.proxy.empty()) curl_easy_setopt(e, CURLOPT_PROXY, req.proxy.c_str());
    t.at_most_once = req.at_most_once;
    start(std::move(easy), std::move(t));
}

const void* CurlMultiDriver::connect(const ConnectRequest& req, ConnectDone done)
{
    std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    if (!easy) {
        throw std::runtime_error("curl_easy_init failed");
    }
    CURL* e = easy.get();
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    // The WebSocket handshake is HTTP/1.1: TLS's ALPN must not pick h2.
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    // Each connect-only connection has an SSL_CTX of its own.  Loading
    // the system's CA bundle into each costs about 0.8 MB per connection
    // (145 certificates parsed), so where libcurl has a CA directory built
    // in (Debian: /etc/ssl/certs, hashed by update-ca-certificates) the
    // bundle is left out and OpenSSL looks issuers up there as it needs
    // them.  A CA file given for a test server is loaded besides it.
    char* ca_path = nullptr;
    curl_easy_getinfo(e, CURLINFO_CAPATH, &ca_path);
    if (!req.ca_file.empty()) {
        curl_easy_setopt(e, CURLOPT_CAINFO, req.ca_file.c_str());
    } else if (ca_path != nullptr) {
        curl_easy_setopt(e, CURLOPT_CAINFO, nullptr);
    }
    if (!req.proxy.empty()) {
        curl_easy_setopt(e, CURLOPT_PROXY, req.proxy.c_str());
        // A tunnel for ws:// too: a plain HTTP proxy would otherwise be
        // asked to forward requests, which an upgrade cannot go through.
        curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
    }
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &CurlMultiDriver::on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &CurlMultiDriver::on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    Transfer t;
    t.connected = std::move(done);
    t.error_buffer = std::make_unique<char[]>(CURL_ERROR_SIZE);
    t.error_buffer[0] = '\0';
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_buffer.get());
    start(std::move(easy), std::move(t));
    return e;
}

void CurlMultiDriver::cancel(const void* attempt)
{
    auto it = transfers_.find(static_cast<CURL*>(const_cast<void*>(attempt)));
    if (it == transfers_.end() || !it->second.connected) {
        return;
    }
    curl_multi_remove_handle(multi_.get(), it->first);
    transfers_.erase(it);  // the easy handle's cleanup closes its socket
}

// A connect-only transfer is done: the connection is ours now, or it failed.
void CurlMultiDriver::finish_connect(CURL* easy, CURLcode code, ConnectDone done,
                                     std::string detail)
{
    std::unique_ptr<CurlStream> stream;
    std::string error;
    if (code == CURLE_OK) {
        curl_socket_t s = CURL_SOCKET_BAD;
        curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &s);
        auto it = connections_.find(s);
        if (s == CURL_SOCKET_BAD || it == connections_.end()) {
            code = CURLE_COULDNT_CONNECT;
            error = "connect-only transfer ended without its socket";
        } else {
            streams_.reserve(streams_.size() + 1);
            stream = std::make_unique<CurlStream>(CurlStream::Key{}, this, easy, it->second);
            streams_.push_back(stream.get());
        }
    } else {
        error = detail.empty() ? curl_easy_strerror(code) : std::move(detail);
    }
    if (!stream) {
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
        curl_multi_remove_handle(multi_.get(), easy);
        curl_easy_cleanup(easy);
    }
    try {
        done(code, error, std::move(stream));
    } catch (const std::exception& e) {
        log_exception("handling a finished connect", &e);
    } catch (...) {
        log_exception("handling a finished connect", nullptr);
    }
}

void CurlMultiDriver::end_stream(CurlStream* stream) noexcept
{
    auto it = std::find(streams_.begin(), streams_.end(), stream);
    if (it == streams_.end()) {
        return;
    }
    streams_.erase(it);
    // Removing a connect-only handle marks its connection for closing;
    // the cleanup closes the socket through on_close_socket, which closes
    // the nginx connection and its events.
    curl_multi_remove_handle(multi_.get(), stream->easy_);
    curl_easy_cleanup(stream->easy_);
    stream->driver_ = nullptr;
    stream->connection_ = nullptr;
}

CurlStream::~CurlStream()
{
    if (driver_ != nullptr) {
        driver_->end_stream(this);
    }
}

CURLcode CurlStream::send(const void* data, size_t len, size_t& sent)
{
    sent = 0;
    if (driver_ == nullptr) {
        return CURLE_SEND_ERROR;
    }
    return curl_easy_send(easy_, data, len, &sent);
}

CURLcode CurlStream::recv(void* buf, size_t len, size_t& got)
{
    got = 0;
    if (driver_ == nullptr) {
        return CURLE_RECV_ERROR;
    }
    return curl_easy_recv(easy_, buf, len, &got);
}

// The parts are copied into the mime structure, except files, which curl
// reads from disk as it sends them.
std::unique_ptr<curl_mime, CurlMultiDriver::MimeDeleter>
CurlMultiDriver::make_mime(CURL* e, const HttpRequest& req)
{
    std::unique_ptr<curl_mime, MimeDeleter> mime(curl_mime_init(e));
    if (!mime) {
        throw std::runtime_error("curl_mime_init failed");
    }
    auto check = [](CURLcode rc) {
        if (rc != CURLE_OK) {
            throw std::runtime_error(curl_easy_strerror(rc));
        }
    };
    for (const auto& f : req.form) {
        curl_mimepart* part = curl_mime_addpart(mime.get());
        if (part == nullptr) {
            throw std::runtime_error("curl_mime_addpart failed");
        }
        check(curl_mime_name(part, f.name.c_str()));
        check(curl_mime_data(part, f.value.data(), f.value.size()));
    }
    for (const auto& f : req.files) {
        curl_mimepart* part = curl_mime_addpart(mime.get());
        if (part == nullptr) {
            throw std::runtime_error("curl_mime_addpart failed");
        }
        check(curl_mime_name(part, f.field.c_str()));
        check(curl_mime_filedata(part, f.path.c_str()));
        check(curl_mime_filename(part, f.file_name.c_str()));
        check(curl_mime_type(part, f.mime.c_str()));
    }
    return mime;
}

// Registers the transfer, then points curl at its final home: the map
// entry, whose address stays put until the transfer is erased.
void CurlMultiDriver::start(std::unique_ptr<CURL, EasyDeleter> easy, Transfer transfer)
{
    CURL* e = easy.get();
    transfer.easy = std::move(easy);
    auto [it, inserted] = transfers_.emplace(e, std::move(transfer));
    Transfer& t = it->second;
    if (t.on_body) {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlMultiDriver::on_streamed_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlMultiDriver::on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    } else if (t.max_body > 0) {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlMultiDriver::on_kept_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlMultiDriver::on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    }
    if (t.headers) {
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers.get());
    }
    if (t.at_most_once) {
        curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &CurlMultiDriver::on_before_send);
        curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
    }
    if (t.body_source) {
        // Produced as curl sends it; Content-Length from the source, and
        // rewound when curl sends it again on a new connection (a reused
        // one died).
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, &CurlMultiDriver::on_produce_body);
        curl_easy_setopt(e, CURLOPT_READDATA, &t);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, &CurlMultiDriver::on_rewind_produced);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, &t);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, t.body_size);
    } else if (t.send_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(t.request_body.size()));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.request_body.c_str());
    }
    NoSignalsForNewThreads guard;
    CURLMcode rc = curl_multi_add_handle(multi_.get(), e);
    if (rc != CURLM_OK) {
        transfers_.erase(it);
        throw std::runtime_error(curl_multi_strerror(rc));
    }
}

// curl calls this once per connection a request is about to go out on; a
// second call for one transfer is its own resend after a reused connection
// died, which an at-most-once request must not make.
int CurlMultiDriver::on_before_send(void* transfer, char*, char*, int, int) noexcept
{
    auto* t = static_cast<Transfer*>(transfer);
    return ++t->sends > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

size_t CurlMultiDriver::on_kept_body(char* data, size_t size, size_t n,
                                     void* transfer) noexcept
{
    auto* t = static_cast<Transfer*>(transfer);
    const size_t len = size * n;
    try {
        const size_t room = t->max_body - std::min(t->max_body, t->result.body.size());
        t->result.body.append(data, std::min(room, len));
        if (len > room) {
            t->result.body_truncated = true;
        }
    } catch (...) {
        return 0;  // curl ends the transfer with a write error
    }
    return len;
}

// Only a 2xx body is the file: an error page must never reach the
// caller's decryptor (it would be reported as a damaged file).
size_t CurlMultiDriver::on_streamed_body(char* data, size_t size, size_t n,
                                         void* transfer) noexcept
{
    auto* t = static_cast<Transfer*>(transfer);
    const size_t len = size * n;
    try {
        long status = 0;
        curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299) {
            return len;
        }
        if (t->max_stream > 0) {
            curl_off_t declared = -1;
            curl_easy_getinfo(t->easy.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
            t->streamed += len;
            if ((declared > 0 && static_cast<uint64_t>(declared) > t->max_stream)
                || t->streamed > t->max_stream) {
                t->result.too_large = true;
                return 0;
            }
        }
        return t->on_body(std::string_view(data, len)) ? len : 0;
    } catch (...) {
        return 0;  // curl ends the transfer with a write error
    }
}

size_t CurlMultiDriver::on_produce_body(char* buffer, size_t size, size_t n,
                                        void* transfer) noexcept
{
    auto* t = static_cast<Transfer*>(transfer);
    try {
        const size_t want = size * n;
        if (want == 0) return 0;
        std::optional<size_t> got = t->body_source->read(std::span<char>(buffer, want));
        return got ? std::min(*got, want) : CURL_READFUNC_ABORT;
    } catch (const std::exception& e) {
        log_exception("producing a request body", &e);
    } catch (...) {
        log_exception("producing a request body", nullptr);
    }
    return CURL_READFUNC_ABORT;
}

// curl rewinds a body only to its start (a resend on a new connection).
int CurlMultiDriver::on_rewind_produced(void* transfer, curl_off_t offset, int origin) noexcept
{
    auto* t = static_cast<Transfer*>(transfer);
    try {
        if (offset == 0 && origin == SEEK_SET && t->body_source->rewind()) return CURL_SEEKFUNC_OK;
    } catch (...) {
        return CURL_SEEKFUNC_FAIL;
    }
    return CURL_SEEKFUNC_CANTSEEK;
}

size_t CurlMultiDriver::on_header(char* data, size_t size, size_t n,
                                  void* transfer) noexcept
{
    auto* t = static_cast<Transfer*>(transfer);
    const size_t len = size * n;
    std::string_view line(data, len);
    constexpr std::string_view name = "retry-after:";
    if (line.size() > name.size()) {
        bool match = true;
        for (size_t i = 0; i < name.size(); i++) {
            if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) {
                match = false;
                break;
            }
        }
        if (match) {
            line.remove_prefix(name.size());
            while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
                line.remove_prefix(1);
            }
            while (!line.empty() && (line.back() == '\r' || line.back() == '\n'
                                     || line.back() == ' ')) {
                line.remove_suffix(1);
            }
            try {
                t->result.retry_after.assign(line.substr(0, 128));
            } catch (...) {
                return 0;
            }
        }
    }
    return len;
}

void CurlMultiDriver::socket_action(curl_socket_t s, int mask)
{
    NoSignalsForNewThreads guard;
    int running = 0;
    CURLMcode rc = curl_multi_socket_action(multi_.get(), s, mask, &running);
    if (rc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: curl_multi_socket_action: %s",
                      curl_multi_strerror(rc));
    }
    collect_finished();
}

void CurlMultiDriver::collect_finished()
{
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL* easy = msg->easy_handle;
        const CURLcode code = msg->data.result;
        if (auto it = transfers_.find(easy);
            it != transfers_.end() && it->second.connected) {
            // Connect-only: the handle stays in the multi with its
            // connection, owned by the stream from now on.
            ConnectDone done = std::move(it->second.connected);
            std::string detail = it->second.error_buffer ? it->second.error_buffer.get() : "";
            // The buffer goes with the transfer record: curl must not
            // write into it any more.
            curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
            (void) it->second.easy.release();
            transfers_.erase(it);
            finish_connect(easy, code, std::move(done), std::move(detail));
            continue;
        }
        curl_multi_remove_handle(multi_.get(), easy);

        auto node = transfers_.extract(easy);
        if (node.empty()) {
            continue;
        }
        TransferResult result = std::move(node.mapped().result);
        result.code = code;
        if (code == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &result.http_status);
            const char* location = nullptr;
            if (result.http_status >= 300 && result.http_status <= 399
                && curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK
                && location != nullptr) {
                result.redirect_url = location;
            }
        } else {
            result.error = curl_easy_strerror(code);
        }
        // The callback may start new transfers; it runs after our
        // bookkeeping so that it sees a consistent driver.  One callback's
        // failure must not keep the other finished transfers unreported.
        Done done = std::move(node.mapped().done);
        node = {};
        if (done) {
            try {
                done(result);
            } catch (const std::exception& e) {
                log_exception("handling a finished transfer", &e);
            } catch (...) {
                log_exception("handling a finished transfer", nullptr);
            }
        }
    }
}

int CurlMultiDriver::on_socket(CURL*, curl_socket_t s, int what, void* self,
                               void*) noexcept
{
    auto* d = static_cast<CurlMultiDriver*>(self);
    try {
        return d->watch(s, what);
    } catch (const std::exception& e) {
        log_exception("curl socket", &e);
    } catch (...) {
        log_exception("curl socket", nullptr);
    }
    return -1;
}

int CurlMultiDriver::watch(curl_socket_t s, int what)
{
    ngx_connection_t* c = nullptr;
    bool ours = true;
    if (auto it = connections_.find(s); it != connections_.end()) {
        c = it->second;
    } else if (auto f = foreign_.find(s); f != foreign_.end()) {
        c = f->second;
        ours = false;
    }

    if (what == CURL_POLL_REMOVE) {
        if (c == nullptr) {
            return 0;
        }
        // For our sockets REMOVE only means "stop watching": the socket may
        // go idle in curl's connection cache; on_close_socket closes it.
        // A socket curl opened itself (the threaded resolver's socketpair)
        // is forgotten here; if curl already closed it, the kernel has
        // taken it out of epoll and asking again would fail.
        int flags = (!ours && ::fcntl(s, F_GETFD) == -1) ? NGX_CLOSE_EVENT : 0;
        if (c->read->active) {
            ngx_del_event(c->read, NGX_READ_EVENT, flags);
        }
        if (c->write->active) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
        }
        if (!ours) {
            foreign_.erase(s);
            ngx_free_connection(c);
            c->fd = (ngx_socket_t) -1;  // events still queued are stale
        }
        return 0;
    }

    if (c == nullptr) {
        c = ngx_get_connection(s, ngx_cycle->log);
        if (c == nullptr) {
            return -1;
        }
        attach(c);
        foreign_[s] = c;
    }

    const bool want_read = what == CURL_POLL_IN || what == CURL_POLL_INOUT;
    const bool want_write = what == CURL_POLL_OUT || what == CURL_POLL_INOUT;

    if (want_read && !c->read->active) {
        ngx_add_event(c->read, NGX_READ_EVENT, 0);
    } else if (!want_read && c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
    if (want_write && !c->write->active) {
        ngx_add_event(c->write, NGX_WRITE_EVENT, 0);
    } else if (!want_write && c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
    return 0;
}

void CurlMultiDriver::attach(ngx_connection_t* c)
{
    c->data = this;
    c->read->handler = &CurlMultiDriver::on_read_ready;
    c->write->handler = &CurlMultiDriver::on_write_ready;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
}

int CurlMultiDriver::on_timer(CURLM*, long timeout_ms, void* self) noexcept
{
    auto* d = static_cast<CurlMultiDriver*>(self);
    if (timeout_ms < 0) {
        if (d->timer_.timer_set) {
            ngx_del_timer(&d->timer_);
        }
        return 0;
    }
    // Never call back into curl from here: arm a timer, even for 0 ms.
    // Delete first: ngx_add_timer keeps an armed timer whose deadline is
    // within 300 ms of the new one, and curl's "now" must not wait that.
    if (d->timer_.timer_set) {
        ngx_del_timer(&d->timer_);
    }
    ngx_add_timer(&d->timer_, static_cast<ngx_msec_t>(timeout_ms));
    return 0;
}

curl_socket_t CurlMultiDriver::on_open_socket(
    void* self, curlsocktype, struct curl_sockaddr* address) noexcept
{
    auto* d = static_cast<CurlMultiDriver*>(self);
    int s = ::socket(address->family, address->socktype | SOCK_CLOEXEC,
                     address->protocol);
    if (s == -1) {
        return CURL_SOCKET_BAD;
    }
    ngx_connection_t* c = ngx_get_connection(s, ngx_cycle->log);
    if (c == nullptr) {
        ::close(s);
        return CURL_SOCKET_BAD;
    }
    d->attach(c);
    try {
        d->connections_[s] = c;
    } catch (...) {
        ngx_free_connection(c);
        ::close(s);
        return CURL_SOCKET_BAD;
    }
    return s;
}

int CurlMultiDriver::on_close_socket(void* self, curl_socket_t s) noexcept
{
    auto* d = static_cast<CurlMultiDriver*>(self);
    auto it = d->connections_.find(s);
    if (it == d->connections_.end()) {
        return ::close(s);
    }
    ngx_connection_t* c = it->second;
    d->connections_.erase(it);
    // Takes the fd out of epoll, closes it and frees the connection; the
    // connection's instance bit makes nginx drop events already queued.
    ngx_close_connection(c);
    return 0;
}

size_t CurlMultiDriver::on_body(char*, size_t size, size_t n, void*) noexcept
{
    return size * n;  // the reachability probe needs only the status
}

void CurlMultiDriver::on_read_ready(ngx_event_t* ev) noexcept
{
    on_ready(ev, CURL_CSELECT_IN);
}

void CurlMultiDriver::on_write_ready(ngx_event_t* ev) noexcept
{
    on_ready(ev, CURL_CSELECT_OUT);
}

void CurlMultiDriver::on_ready(ngx_event_t* ev, int mask) noexcept
{
    auto* c = static_cast<ngx_connection_t*>(ev->data);
    auto* d = static_cast<CurlMultiDriver*>(c->data);
    ngx_socket_t fd = c->fd;
    // nginx leaves ready set after curl drained the socket; never trust it.
    ev->ready = 0;
    d->guarded_action(fd, mask);  // c may be gone afterwards
}

void CurlMultiDriver::on_timeout(ngx_event_t* ev) noexcept
{
    static_cast<CurlMultiDriver*>(ev->data)->guarded_action(CURL_SOCKET_TIMEOUT,
                                                            0);
}

void CurlMultiDriver::guarded_action(curl_socket_t s, int mask) noexcept
{
    try {
        socket_action(s, mask);
    } catch (const std::exception& e) {
        log_exception("curl", &e);
    } catch (...) {
        log_exception("curl", nullptr);
    }
}

}  // namespace chatwoot::helper
