// Fuzzes the helper's decoder of command records (src/ipc/command_record)
// with arbitrary bytes: it must never read past them (ASan), and whatever
// it accepts must be exactly what the encoder writes for the command it
// read: the format has one encoding per command, so a decoder that
// accepted anything else would be reading a record no worker wrote.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "ipc/command_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // A copy of exactly size bytes, so that a read past them is caught.
    const std::vector<unsigned char> record(data, data + size);
    const auto decoded = chatwoot::ipc::decode_command(record);
    if (!decoded) {
        if (decoded.reason().empty()) {
            std::abort();   // every refusal says why
        }
        return 0;
    }
    const auto again = chatwoot::ipc::encode_command(decoded.value());
    if (!again || *again != record) {
        std::abort();
    }
    return 0;
}
