#pragma once
// corobus is compiled code that includes asio, so a program that links it must compile asio
// the same way in every translation unit: the macros below change what asio's headers compile
// to (a timer wait compiled with BOOST_ASIO_NO_DEPRECATED in the library and without it in the
// application wrote through a null pointer). The CMake package and corobus.pc pass corobus's
// own settings on (docs/building.md lists them); this check turns a translation unit that
// differs into a link error instead of a crash:
//   undefined reference to `corobus::detail::asio_configuration_is(
//       corobus::detail::asio_configuration<false, true, 8, true, false, true, false, false>)'
// names the configuration that translation unit has, in the order of the template below.
#include <boost/asio/buffer.hpp>                   // BOOST_ASIO_ENABLE_BUFFER_DEBUGGING
#include <boost/asio/detail/config.hpp>            // BOOST_ASIO_HAS_EPOLL, _HAS_THREADS
#include <boost/asio/detail/thread_info_base.hpp>  // BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE

namespace corobus::detail {

template <bool SeparateCompilation, bool NoDeprecated, int RecyclingCacheSize, bool Epoll, bool IoUring, bool Threads,
          bool HandlerTracking, bool BufferDebugging>
struct asio_configuration {};

#ifdef BOOST_ASIO_SEPARATE_COMPILATION
static constexpr bool asio_separate_compilation = true;
#else
static constexpr bool asio_separate_compilation = false;
#endif
#ifdef BOOST_ASIO_NO_DEPRECATED
static constexpr bool asio_no_deprecated = true;
#else
static constexpr bool asio_no_deprecated = false;
#endif
#ifdef BOOST_ASIO_HAS_EPOLL
static constexpr bool asio_epoll = true;
#else
static constexpr bool asio_epoll = false;
#endif
#ifdef BOOST_ASIO_HAS_IO_URING
static constexpr bool asio_io_uring = true;
#else
static constexpr bool asio_io_uring = false;
#endif
#ifdef BOOST_ASIO_HAS_THREADS
static constexpr bool asio_threads = true;
#else
static constexpr bool asio_threads = false;
#endif
#ifdef BOOST_ASIO_ENABLE_HANDLER_TRACKING
static constexpr bool asio_handler_tracking = true;
#else
static constexpr bool asio_handler_tracking = false;
#endif
#ifdef BOOST_ASIO_ENABLE_BUFFER_DEBUGGING
static constexpr bool asio_buffer_debugging = true;
#else
static constexpr bool asio_buffer_debugging = false;
#endif

// This translation unit's asio.
using this_asio_configuration =
    asio_configuration<asio_separate_compilation, asio_no_deprecated, BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE,
                       asio_epoll, asio_io_uring, asio_threads, asio_handler_tracking, asio_buffer_debugging>;

// Defined by corobus_runtime for the configuration it was compiled with, and only for that one.
bool asio_configuration_is(this_asio_configuration) noexcept;

// Every translation unit that includes corobus refers to it once, at start-up.
[[maybe_unused]] static const bool asio_configuration_checked = asio_configuration_is({});

}  // namespace corobus::detail
