#include "wa/noise/cert_chain.hpp"

#include <algorithm>
#include <string>

#include "wa/crypto/curve_signature.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/handshake.pb.h"

namespace chatwoot::wa::noise {
namespace {

using Certificate = proto::CertChain::NoiseCertificate;
using Details = proto::CertChain::NoiseCertificate::Details;

Error chain_error(Errc code, const std::string& what)
{
    return make_error(code, "certificate chain: " + what);
}

// The certificate's details, parsed, with the fields every check needs.
Result<Details> read_certificate(const proto::CertChain& chain, bool leaf)
{
    const char* name = leaf ? "leaf" : "intermediate";
    const bool present = leaf ? chain.has_leaf() : chain.has_intermediate();
    if (!present) return chain_error(Errc::malformed, std::string("no ") + name + " certificate");
    const Certificate& cert = leaf ? chain.leaf() : chain.intermediate();
    if (!cert.has_details())
        return chain_error(Errc::malformed, std::string(name) + " has no details");
    if (cert.signature().size() != 64)
        return chain_error(Errc::malformed, std::string(name) + " signature is " +
                                                std::to_string(cert.signature().size()) +
                                                " bytes, want 64");
    auto details = proto::parse<Details>(as_bytes(cert.details()));
    if (!details)
        return chain_error(Errc::malformed,
                           std::string(name) + " details: " + details.error().detail);
    if (details->key().size() != 32)
        return chain_error(Errc::malformed, std::string(name) + " key is " +
                                                std::to_string(details->key().size()) +
                                                " bytes, want 32");
    if (!details->has_notbefore() || !details->has_notafter())
        return chain_error(Errc::malformed, std::string(name) + " has no validity window");
    return details;
}

Status check_signature(const Certificate& cert, ByteView signer_key, Errc code,
                       const std::string& what)
{
    Status s =
        crypto::curve_verify(signer_key, as_bytes(cert.details()), as_bytes(cert.signature()));
    if (s) return s;
    if (s.error().code == Errc::bad_signature) return chain_error(code, what);
    return chain_error(s.error().code, what + " (" + s.error().detail + ")");
}

Status check_validity(const Details& d, std::int64_t now, const char* name)
{
    // A negative clock reading is before every certificate.
    const bool before = now < 0 || static_cast<std::uint64_t>(now) < d.notbefore();
    const bool after = now >= 0 && static_cast<std::uint64_t>(now) > d.notafter();
    if (before)
        return chain_error(Errc::expired, std::string(name) + " not valid before " +
                                              std::to_string(d.notbefore()) + ", now " +
                                              std::to_string(now));
    if (after)
        return chain_error(Errc::expired, std::string(name) + " expired at " +
                                              std::to_string(d.notafter()) + ", now " +
                                              std::to_string(now));
    return Done{};
}

}  // namespace

Result<VerifiedChain> verify_cert_chain(ByteView cert_chain, ByteView server_static,
                                        const CertPolicy& policy)
{
    auto chain = proto::parse<proto::CertChain>(cert_chain);
    if (!chain) return chain_error(Errc::malformed, chain.error().detail);

    auto inter = read_certificate(*chain, false);
    if (!inter) return inter.error();
    auto leaf = read_certificate(*chain, true);
    if (!leaf) return leaf.error();

    if (Status s = check_signature(chain->intermediate(), policy.root_key, Errc::untrusted,
                                   "intermediate is not signed by the root key");
        !s)
        return s.error();
    if (inter->issuerserial() != policy.root_serial)
        return chain_error(Errc::untrusted,
                           "intermediate issuer serial " + std::to_string(inter->issuerserial()) +
                               ", the root's is " + std::to_string(policy.root_serial));

    if (Status s = check_signature(chain->leaf(), as_bytes(inter->key()), Errc::bad_signature,
                                   "leaf is not signed by the intermediate");
        !s)
        return s.error();
    if (leaf->issuerserial() != inter->serial())
        return chain_error(Errc::untrusted,
                           "leaf issuer serial " + std::to_string(leaf->issuerserial()) +
                               ", the intermediate's is " + std::to_string(inter->serial()));
    if (!std::ranges::equal(as_bytes(leaf->key()), server_static))
        return chain_error(Errc::untrusted, "leaf key is not the server's static key");

    if (Status s = check_validity(*inter, policy.now, "intermediate"); !s) return s.error();
    if (Status s = check_validity(*leaf, policy.now, "leaf"); !s) return s.error();

    return VerifiedChain{inter->serial(), leaf->serial(), leaf->notafter()};
}

}  // namespace chatwoot::wa::noise
