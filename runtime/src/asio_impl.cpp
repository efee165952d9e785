// asio is compiled once, here (BOOST_ASIO_SEPARATE_COMPILATION is set for every corobus
// target), so each translation unit that includes asio headers compiles faster.
#include <boost/asio/impl/src.hpp>
