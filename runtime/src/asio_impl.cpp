// asio compiled once, here, when COROBUS_ASIO_SEPARATE_COMPILATION is on (then every
// translation unit including asio has BOOST_ASIO_SEPARATE_COMPILATION and compiles faster).
#include <boost/asio/impl/src.hpp>
