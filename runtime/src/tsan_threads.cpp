// Only in a ThreadSanitizer build (runtime/CMakeLists.txt). librdkafka uses C11 threads
// (thrd_create, mtx_lock, cnd_wait, call_once), which glibc (2.34 on) implements without
// going through the pthread calls TSan intercepts: TSan then knows nothing of those threads
// and crashes at their first instrumented call (GCC 12's runtime inside its allocator at
// getaddrinfo, clang 16's at a null thread state), and sees none of librdkafka's locking
// (every record it hands over looks like a race). These definitions, which the linker puts
// before libc's, do what glibc does through the intercepted pthread calls. glibc's C11 types
// are its pthread types (mtx_t is a pthread_mutex_t, cnd_t a pthread_cond_t, once_flag a
// pthread_once_t), as its own implementation casts them.
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <new>

namespace {

struct thread_start {
  thrd_start_t function;
  void* argument;
};

void* run(void* p) {
  const thread_start start = *static_cast<thread_start*>(p);
  delete static_cast<thread_start*>(p);
  // thrd_join reads the thread's int result back out of pthread_join's pointer.
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(start.function(start.argument)));
}

int result_of(int pthread_error) {
  switch (pthread_error) {
    case 0: return thrd_success;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    case ENOMEM: return thrd_nomem;
    default: return thrd_error;
  }
}

pthread_mutex_t* native(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* native(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t function, void* argument) {
  auto* start = new (std::nothrow) thread_start{function, argument};
  if (!start) return thrd_nomem;
  const int e = pthread_create(thread, nullptr, run, start);
  if (e != 0) delete start;
  return result_of(e);
}

int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  const int e = pthread_join(thread, &value);
  if (e == 0 && result) *result = static_cast<int>(reinterpret_cast<std::intptr_t>(value));
  return result_of(e);
}

int mtx_init(mtx_t* mutex, int type) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
  const int e = pthread_mutex_init(native(mutex), &attributes);
  pthread_mutexattr_destroy(&attributes);
  return result_of(e);
}

int mtx_lock(mtx_t* mutex) { return result_of(pthread_mutex_lock(native(mutex))); }
int mtx_unlock(mtx_t* mutex) { return result_of(pthread_mutex_unlock(native(mutex))); }
void mtx_destroy(mtx_t* mutex) { pthread_mutex_destroy(native(mutex)); }

int cnd_init(cnd_t* condition) { return result_of(pthread_cond_init(native(condition), nullptr)); }
int cnd_signal(cnd_t* condition) { return result_of(pthread_cond_signal(native(condition))); }
int cnd_broadcast(cnd_t* condition) { return result_of(pthread_cond_broadcast(native(condition))); }
int cnd_wait(cnd_t* condition, mtx_t* mutex) { return result_of(pthread_cond_wait(native(condition), native(mutex))); }
int cnd_timedwait(cnd_t* condition, mtx_t* mutex, const struct timespec* until) {
  return result_of(pthread_cond_timedwait(native(condition), native(mutex), until));
}
void cnd_destroy(cnd_t* condition) { pthread_cond_destroy(native(condition)); }

void call_once(once_flag* flag, void (*function)()) { pthread_once(reinterpret_cast<pthread_once_t*>(flag), function); }

}  // extern "C"
