# Writes OUTPUT, a C++ source that defines the bytes of INPUT as
#   const unsigned char <SYMBOL>[]; const size_t <SYMBOL>_size;
# in namespace NAMESPACE.  A byte array rather than a raw string literal:
# any text fits, whatever delimiters it happens to contain.
#   cmake -DINPUT=f.html -DOUTPUT=f.cpp -DSYMBOL=kPage -DNAMESPACE=a::b -P embed_text.cmake
foreach(var INPUT OUTPUT SYMBOL NAMESPACE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_text.cmake: ${var} is not set")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
# 16 bytes a line
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
get_filename_component(name "${INPUT}" NAME)

file(WRITE "${OUTPUT}"
"// Generated from ${name} by cmake/embed_text.cmake: edit that file, not this one.
#include <cstddef>

namespace ${NAMESPACE} {

extern const unsigned char ${SYMBOL}[];
extern const std::size_t ${SYMBOL}_size;

const unsigned char ${SYMBOL}[] = {
    ${bytes}
};
const std::size_t ${SYMBOL}_size = ${size};

}
")
