// libcurl's multi interface driven by the helper's nginx event loop.
//
// curl tells us which sockets to watch and when to time out; nginx's epoll
// loop tells curl when a socket is ready.  We open and close curl's sockets
// ourselves so that every fd curl uses has an ngx_connection_t whose life
// matches it exactly (curl's own REMOVE notifications are not enough for
// that: a socket can sit idle in curl's connection cache).
#pragma once

#include "ngx.hpp"

#include "../chatwoot/api_requests.hpp"

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatwoot::helper {

struct TransferResult {
    CURLcode code = CURLE_OK;
    long http_status = 0;
    std::string error;        // curl's text when code != CURLE_OK
    std::string body;         // at most the request's max_body bytes
    bool body_truncated = false;  // the answer had more: the caller must not parse it
    std::string retry_after;  // the Retry-After header, empty when absent
    // A 3xx's Location, made absolute by curl (redirects are never followed
    // by the driver: a caller that follows one checks where it goes).
    std::string redirect_url;
    // A streamed body (max_stream) that its Content-Length or its bytes put
    // over the cap: the transfer was ended (CURLE_WRITE_ERROR).
    bool too_large = false;
};

// A request body made as it is sent (an upload encrypted as it goes, never
// whole in memory nor on disk): curl asks for it a buffer at a time, from
// the event loop.
class BodySource {
public:
    virtual ~BodySource() = default;
    // The Content-Length, known before the first byte.
    virtual uint64_t size() const = 0;
    // Fills `out` (never empty) with the next bytes and says how many: 0
    // only once size() bytes were given.  std::nullopt ends the transfer
    // (CURLE_ABORTED_BY_CALLBACK); the source keeps the reason for its
    // owner.  May throw (the driver ends the transfer the same way).
    virtual std::optional<size_t> read(std::span<char> out) = 0;
    // Back to the first byte, for curl sending again on a new connection
    // when a reused one died; false: cannot.
    virtual bool rewind() = 0;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"; may hold secrets
    std::string body;
    long timeout_ms = 30000;
    size_t max_body = 64 * 1024;       // what is kept of the answer
    // On a reused keep-alive connection that dies without an answer, curl
    // sends the request again by itself, on a new connection; for a create
    // the server may have done already, that is a duplicate.  With this
    // set, such a second send is stopped before it starts and the transfer
    // ends in an error (CURLE_ABORTED_BY_CALLBACK), which the caller treats
    // as "may have happened": it looks before it creates again.  Keep-alive
    // stays, which a new connection (and TLS handshake) per create would
    // cost.
    bool at_most_once = false;
    // A PEM file of CAs trusted besides the system's, and an HTTP proxy
    // ("http://host:port"); both empty for Chatwoot's requests.
    std::string ca_file;
    std::string proxy;
    // Multipart/form-data instead of body when files is not empty.
    std::vector<rest::FormField> form;
    std::vector<rest::FilePart> files;
    // When set, the body of a 2xx answer goes here chunk by chunk instead
    // of into TransferResult::body (a media download is never held whole);
    // returning false ends the transfer with CURLE_WRITE_ERROR.  The body
    // of any other status is dropped.  Runs from the event loop, possibly
    // many times, always before done.
    std::function<bool(std::string_view chunk)> on_body;
    // With on_body: the most bytes the body may have (0: no cap).  A
    // Content-Length over it ends the transfer before any byte is handed
    // over, and so do the bytes themselves; TransferResult::too_large.
    uint64_t max_stream = 0;
    // The request body produced as it is sent, instead of `body`.
    std::shared_ptr<BodySource> body_source;
};

// What the REST client needs of HTTP: requests that end in a result,
// delivered once from the event loop.  CurlMultiDriver is the real one;
// unit tests answer with a fake.
class HttpTransport {
public:
    using Done = std::function<void(const TransferResult&)>;
    virtual ~HttpTransport() = default;
    // Starts any request; the answer's body is kept up to max_body.  done
    // runs exactly once, from the event loop, never from inside this call.
    virtual void request(HttpRequest req, Done done) = 0;
};

class CurlMultiDriver;

// What a connect-only transfer needs: where to, and how to trust it.
struct ConnectRequest {
    std::string url;               // http:// or https://; the path is not used
    long connect_timeout_ms = 20000;  // DNS, TCP, proxy tunnel and TLS together
    // A PEM file of CAs trusted besides the system's (a test server's
    // certificate); empty for the system's only.
    std::string ca_file;
    // An HTTP proxy ("http://host:port") to tunnel through with CONNECT.
    std::string proxy;
};

// A connection that curl set up in connect-only mode (CURLOPT_CONNECT_ONLY:
// DNS, TCP, the proxy tunnel, TLS with verification) and then left to us:
// bytes go through curl_easy_send and curl_easy_recv, so TLS stays curl's.
// The easy handle stays in its multi handle while the stream lives, since
// removing it closes a connect-only connection.  Destroying the stream
// closes the connection; it must not outlive its driver's event loop use.
class CurlStream {
public:
    ~CurlStream();
    CurlStream(const CurlStream&) = delete;
    CurlStream& operator=(const CurlStream&) = delete;

    // The socket's nginx connection.  Its events are the owner's now: set
    // c->data and the read/write handlers, add and delete the events; the
    // stream closes the connection (and with it the events) when it ends.
    ngx_connection_t* connection() const { return connection_; }

    // curl_easy_send: CURLE_OK with `sent` bytes, CURLE_AGAIN when the
    // socket (or TLS) cannot take more now, or the connection's error.
    CURLcode send(const void* data, size_t len, size_t& sent);
    // curl_easy_recv: CURLE_OK with `got` bytes (0: the peer closed),
    // CURLE_AGAIN when nothing is there yet, or the connection's error.
    CURLcode recv(void* buf, size_t len, size_t& got);

    // Only the driver makes streams (the key's constructor is private).
    class Key {
        friend class CurlMultiDriver;
        Key() = default;
    };
    CurlStream(Key, CurlMultiDriver* driver, CURL* easy, ngx_connection_t* c)
        : driver_(driver), easy_(easy), connection_(c)
    {
    }

private:
    friend class CurlMultiDriver;

    CurlMultiDriver* driver_;  // null once the driver ended the stream
    CURL* easy_;
    ngx_connection_t* connection_;
};

class CurlMultiDriver final : public HttpTransport {
public:
    // For connect(): the stream on success, else curl's code and text.
    using ConnectDone = std::function<void(CURLcode code, const std::string& error,
                                           std::unique_ptr<CurlStream> stream)>;

    // Call once, in the helper, after the state lock is held.
    // max_connections: how many connections may be open at once; the
    // helper passes what its inboxes' concurrency adds up to.
    explicit CurlMultiDriver(long max_connections = 64);
    ~CurlMultiDriver() override;
    CurlMultiDriver(const CurlMultiDriver&) = delete;
    CurlMultiDriver& operator=(const CurlMultiDriver&) = delete;

    // Starts a GET whose body is discarded, calling done exactly once from
    // the event loop.
    void get(const std::string& url, long timeout_ms, Done done);

    void request(HttpRequest req, Done done) override;

    // Opens a connection in connect-only mode; done runs exactly once, from
    // the event loop, unless the attempt is cancelled first.  Returns the
    // attempt's handle for cancel().
    const void* connect(const ConnectRequest& req, ConnectDone done);
    // Abandons a connect() still under way: done never runs.  An unknown or
    // finished handle is ignored.
    void cancel(const void* attempt);

    size_t in_flight() const { return transfers_.size(); }

private:
    struct EasyDeleter {
        void operator()(CURL* e) const noexcept { curl_easy_cleanup(e); }
    };
    struct MultiDeleter {
        void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
    };
    struct SlistDeleter {
        void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
    };
    struct MimeDeleter {
        void operator()(curl_mime* m) const noexcept { curl_mime_free(m); }
    };
    struct Transfer {
        std::unique_ptr<CURL, EasyDeleter> easy;
        Done done;
        // Kept alive for curl until the transfer ends.
        std::unique_ptr<curl_slist, SlistDeleter> headers;
        std::string request_body;
        std::unique_ptr<curl_mime, MimeDeleter> mime;
        TransferResult result;
        size_t max_body = 0;
        std::function<bool(std::string_view)> on_body;
        uint64_t max_stream = 0;
        uint64_t streamed = 0;
        curl_off_t body_size = 0;
        std::shared_ptr<BodySource> body_source;
        bool send_body = false;
        bool at_most_once = false;
        int sends = 0;   // requests curl was about to send for this transfer
        ConnectDone connected;  // set for a connect-only transfer
        // curl's own words for a failed connect ("SSL certificate problem:
        // self-signed certificate"), more than its code's generic text.
        std::unique_ptr<char[]> error_buffer;
    };
    friend class CurlStream;
    void end_stream(CurlStream* stream) noexcept;
    void finish_connect(CURL* easy, CURLcode code, ConnectDone done, std::string detail);

    void start(std::unique_ptr<CURL, EasyDeleter> easy, Transfer transfer);
    void common_options(CURL* e, long timeout_ms);
    static std::unique_ptr<curl_mime, MimeDeleter> make_mime(CURL* e, const HttpRequest& req);
    static size_t on_header(char* data, size_t size, size_t n, void* transfer) noexcept;
    static int on_before_send(void* transfer, char* ip, char* local_ip, int remote_port,
                              int local_port) noexcept;
    static size_t on_kept_body(char* data, size_t size, size_t n,
                               void* transfer) noexcept;
    static size_t on_streamed_body(char* data, size_t size, size_t n,
                                   void* transfer) noexcept;
    static size_t on_produce_body(char* buffer, size_t size, size_t n, void* transfer) noexcept;
    static int on_rewind_produced(void* transfer, curl_off_t offset, int origin) noexcept;

    static int on_socket(CURL* easy, curl_socket_t s, int what, void* self,
                         void* socketp) noexcept;
    static int on_timer(CURLM* multi, long timeout_ms, void* self) noexcept;
    static curl_socket_t on_open_socket(void* self, curlsocktype purpose,
                                        struct curl_sockaddr* address) noexcept;
    static int on_close_socket(void* self, curl_socket_t s) noexcept;
    static size_t on_body(char* data, size_t size, size_t n,
                          void* self) noexcept;
    static void on_read_ready(ngx_event_t* ev) noexcept;
    static void on_write_ready(ngx_event_t* ev) noexcept;
    static void on_timeout(ngx_event_t* ev) noexcept;
    static void on_ready(ngx_event_t* ev, int mask) noexcept;
    void guarded_action(curl_socket_t s, int mask) noexcept;

    int watch(curl_socket_t s, int what);
    void attach(ngx_connection_t* c);
    void socket_action(curl_socket_t s, int mask);
    void collect_finished();

    std::unique_ptr<CURLM, MultiDeleter> multi_;
    std::unordered_map<CURL*, Transfer> transfers_;
    // Sockets we opened (and close), and sockets curl opened itself.
    std::unordered_map<curl_socket_t, ngx_connection_t*> connections_;
    std::unordered_map<curl_socket_t, ngx_connection_t*> foreign_;
    std::vector<CurlStream*> streams_;  // live connect-only streams
    ngx_event_t timer_{};
};

}  // namespace chatwoot::helper
