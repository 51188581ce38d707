// MPI for the whole process: initialised once in main (MPI_THREAD_MULTIPLE requested, since I/O prefetch
// threads read with MPI-IO while the main thread communicates) and finalised on exit.
#pragma once

namespace cbednet::app {

class MpiSession {
 public:
  MpiSession(int& argc, char**& argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int thread_level() const { return provided_; }

 private:
  int provided_ = 0;
};

int world_rank();  // 0 when MPI is not initialised
int world_size();  // 1 when MPI is not initialised

// Ends every rank: prints `message` from this rank and calls MPI_Abort (or exits when running alone).
[[noreturn]] void abort_all(const char* message, int code);

}  // namespace cbednet::app
